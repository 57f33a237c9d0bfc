// One live fallback stream: binary crop frames in (format in frames.ts), stylised frames out in
// seq order, latest frame wins, sends held back while the socket's bufferedAmount is high.

import type { Batcher } from "./batcher.ts";
import { CONTENT_TYPES, encodeCrop, parseCrop, toInput, toRgba } from "./crops.ts";
import type { Effect } from "./effects.ts";
import { HttpError } from "./errors.ts";
import { decodeFrame, encodeFrame, type Frame, FrameError } from "./frames.ts";
import type { ServerMetrics } from "./metrics.ts";

export interface StreamOptions {
  /** Largest accepted message; bigger ones get an error and are dropped. */
  maxFrameBytes: number;
  /** Results wait while more than this many bytes are queued on the socket… */
  highWaterBytes: number;
  /** …for at most this long; then the result is dropped ("backpressure"). */
  sendTimeoutMs: number;
  /** Per-frame admission (the client's rate limit); false drops the frame as "rate_limited". */
  admit?: () => boolean;
}

export const DEFAULT_STREAM: Omit<StreamOptions, "admit"> = {
  maxFrameBytes: 4 * 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  sendTimeoutMs: 2000,
};

export type DropReason =
  | "superseded"
  | "stale"
  | "backpressure"
  | "overloaded"
  | "timeout"
  | "rate_limited"
  | "too_large";

export class StreamSession {
  #lastSeq: number | undefined;
  #busy = false;
  #pending: Frame | undefined;
  #closed = false;
  #inflight = new AbortController();

  constructor(
    readonly socket: WebSocket,
    readonly effect: Effect,
    private readonly batcher: Batcher,
    private readonly options: StreamOptions,
    private readonly metrics?: ServerMetrics,
    private readonly onClosed?: (s: StreamSession) => void,
  ) {
    socket.binaryType = "arraybuffer";
    socket.onopen = () =>
      this.#text({
        type: "hello",
        effect: effect.id,
        version: effect.manifest.version,
        inputSize: effect.manifest.inputSize,
        formats: ["rgba", "rgb", "png", "jpeg"],
      });
    socket.onmessage = (e) => this.#onMessage(e.data);
    socket.onclose = () => this.#shutdown();
    // An error is always followed by close; nothing to do but not crash.
    socket.onerror = (e) => e.preventDefault?.();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket (server shutdown: 1001 going away). */
  close(code = 1001, reason = "server shutting down"): void {
    try {
      if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(code, reason);
    } catch { /* already closing */ }
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    this.#inflight.abort();
    this.onClosed?.(this);
  }

  #text(message: Record<string, unknown>): void {
    if (this.#closed || this.socket.readyState !== WebSocket.OPEN) return;
    try {
      this.socket.send(JSON.stringify(message));
    } catch { /* the socket closed under us; onclose follows */ }
  }

  #drop(seq: number, reason: DropReason): void {
    this.metrics?.droppedFrames.inc({ reason });
    this.#text({ type: "dropped", seq, reason });
  }

  #error(seq: number | null, code: string, message: string): void {
    this.metrics?.droppedFrames.inc({ reason: "error" });
    this.#text({ type: "error", seq, code, message });
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    if (typeof data === "string") {
      if (data.length <= 64 && data.trim() === '{"type":"ping"}') {
        this.#text({ type: "pong" });
      } else {
        this.#error(
          null,
          "bad_frame",
          "text messages are not frames: send binary frames (see frames.ts)",
        );
      }
      return;
    }
    if (!(data instanceof ArrayBuffer)) {
      this.#error(null, "bad_frame", "unsupported message type");
      return;
    }
    if (data.byteLength > this.options.maxFrameBytes) {
      this.#error(
        null,
        "payload_too_large",
        `frames are at most ${this.options.maxFrameBytes} bytes`,
      );
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(data));
    } catch (e) {
      const message = e instanceof FrameError ? e.message : "malformed frame";
      this.#error(null, "bad_frame", message);
      return;
    }
    if (this.#lastSeq !== undefined && frame.seq <= this.#lastSeq) {
      this.#drop(frame.seq, "stale");
      return;
    }
    if (this.options.admit && !this.options.admit()) {
      this.#drop(frame.seq, "rate_limited");
      return;
    }
    this.#lastSeq = frame.seq;
    if (!this.#busy) {
      this.#process(frame);
      return;
    }
    if (this.#pending) this.#drop(this.#pending.seq, "superseded");
    this.#pending = frame;
  }

  async #process(frame: Frame): Promise<void> {
    this.#busy = true;
    try {
      await this.#infer(frame);
    } catch (e) {
      if (this.#closed) return;
      if (e instanceof HttpError && e.status === 503) {
        this.#drop(frame.seq, e.code === "timeout" ? "timeout" : "overloaded");
      } else if (e instanceof HttpError) {
        this.#error(frame.seq, e.code, e.message);
      } else {
        console.error(`stream ${this.effect.id}: ${(e as Error).message}`);
        this.#error(frame.seq, "internal", "inference failed");
      }
    } finally {
      this.#busy = false;
      const next = this.#pending;
      this.#pending = undefined;
      if (next && !this.#closed) this.#process(next);
    }
  }

  async #infer(frame: Frame): Promise<void> {
    const size = this.effect.manifest.inputSize;
    const encoded = frame.format === "png" || frame.format === "jpeg";
    if (
      encoded && (frame.width || frame.height) && (frame.width !== size || frame.height !== size)
    ) {
      throw new HttpError(
        422,
        "wrong_size",
        `frame says ${frame.width}×${frame.height}, this effect takes ${size}×${size}`,
      );
    }
    const crop = parseCrop(frame.payload, CONTENT_TYPES[frame.format], size, {
      width: String(frame.width),
      height: String(frame.height),
      channels: frame.format === "rgb" ? "3" : "4",
    });
    const { normalization } = this.effect.manifest;
    const [output] = await this.batcher.submit(this.effect, [toInput(crop.rgba, normalization)], {
      signal: this.#inflight.signal,
    });
    if (this.#closed) return;
    const payload = encodeCrop(toRgba(output, normalization, crop.rgba), size, crop.format);
    const message = encodeFrame({
      seq: frame.seq,
      format: crop.format,
      width: size,
      height: size,
      payload,
    });
    if (!(await this.#drained())) {
      this.#drop(frame.seq, "backpressure");
      return;
    }
    if (this.#closed) return;
    this.socket.send(message);
  }

  /** Resolves true once the socket's send buffer is below the high-water mark, false on timeout. */
  async #drained(): Promise<boolean> {
    const until = performance.now() + this.options.sendTimeoutMs;
    while (this.socket.bufferedAmount > this.options.highWaterBytes) {
      if (this.#closed || performance.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return !this.#closed;
  }
}
