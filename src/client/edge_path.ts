// The edge path: aligned crops are cut on the CPU (the GPU crop kernel's reference sampler), sent
// over the server's WebSocket stream (binary frames of src/server/frames.ts, raw RGBA), and the
// stylised crops that come back are composited on the CPU (the composite kernel's reference) and
// drawn on a 2D canvas. One socket per face slot: the server batches crops across sockets, and each
// socket's latest-frame-wins rule never drops one face of a frame in favour of another.

import { compositeReference } from "../runtime/composite.ts";
import { rgbaToTensorReference, tensorToRgbaReference } from "../runtime/image.ts";
import { hostTensor } from "../runtime/tensor.ts";
import type { EffectManifest } from "../graph/manifest.ts";
import { decodeFrame, encodeFrame } from "../server/frames.ts";
import type { AlignedFace } from "./faces.ts";

/** The edge server could not be reached, or went away. */
export class EdgeError extends Error {
  override name = "EdgeError";
}

interface Waiter {
  resolve(crop: Uint8Array | undefined): void;
}

/** One WebSocket to /api/effects/:id/stream. */
class StreamSocket {
  readonly opened: Promise<void>;
  #socket: WebSocket;
  #seq = 0;
  #waiting = new Map<number, Waiter>();
  closed = false;

  constructor(url: string, private readonly onClose: (why: string) => void) {
    this.#socket = new WebSocket(url);
    this.#socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.#socket.onmessage = (e) => {
        if (typeof e.data === "string") {
          const message = JSON.parse(e.data) as { type: string; seq?: number };
          if (message.type === "hello") resolve();
          else if (
            (message.type === "dropped" || message.type === "error") && message.seq != null
          ) {
            this.#settle(message.seq, undefined);
          }
          return;
        }
        const frame = decodeFrame(new Uint8Array(e.data as ArrayBuffer));
        this.#settle(frame.seq, frame.payload);
      };
      this.#socket.onerror = () => reject(new EdgeError(`can't connect to ${url}`));
      this.#socket.onclose = (e) => {
        this.closed = true;
        reject(new EdgeError(`the stream closed (${e.code})`));
        for (const w of this.#waiting.values()) w.resolve(undefined);
        this.#waiting.clear();
        this.onClose(`closed with ${e.code}${e.reason ? `: ${e.reason}` : ""}`);
      };
    });
    this.opened.catch(() => {});
  }

  #settle(seq: number, crop: Uint8Array | undefined): void {
    // Results come in seq order: anything older than this one will never come.
    for (const [s, w] of this.#waiting) {
      if (s > seq) break;
      this.#waiting.delete(s);
      w.resolve(s === seq ? crop : undefined);
    }
  }

  /** Sends one RGBA crop; resolves with the stylised crop, or undefined if the server dropped it. */
  send(rgba: Uint8Array, size: number): Promise<Uint8Array | undefined> {
    if (this.closed || this.#socket.readyState !== WebSocket.OPEN) {
      return Promise.resolve(undefined);
    }
    const seq = ++this.#seq;
    const message = encodeFrame({ seq, format: "rgba", width: size, height: size, payload: rgba });
    return new Promise((resolve) => {
      this.#waiting.set(seq, { resolve });
      this.#socket.send(message as Uint8Array<ArrayBuffer>);
    });
  }

  close(): void {
    this.closed = true;
    try {
      this.#socket.close(1000, "client done");
    } catch { /* already closed */ }
  }
}

export class EdgeClient {
  #sockets: StreamSocket[] = [];
  #onClose?: (why: string) => void;

  constructor(readonly server: URL, readonly effectId: string) {}

  get url(): string {
    const url = new URL(`/api/effects/${encodeURIComponent(this.effectId)}/stream`, this.server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  /** Called once when an open socket goes away (server down, effect gone). */
  set onClose(fn: (why: string) => void) {
    this.#onClose = fn;
  }

  #socket(i: number): StreamSocket {
    const s = this.#sockets[i];
    if (s && !s.closed) return s;
    const socket = new StreamSocket(this.url, (why) => {
      if (this.#sockets[i] === socket) this.#onClose?.(why);
    });
    this.#sockets[i] = socket;
    return socket;
  }

  /** Opens the first socket and waits for the server's hello (rejects with EdgeError). */
  async connect(timeoutMs = 5000): Promise<void> {
    const socket = this.#socket(0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        socket.opened,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new EdgeError(`no answer from ${this.url} in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      socket.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  get connected(): boolean {
    const s = this.#sockets[0];
    return !!s && !s.closed;
  }

  /** Crop i on socket i, all at once; each result or undefined (dropped, timed out, closed). */
  async infer(
    crops: Uint8Array[],
    size: number,
    timeoutMs = 3000,
  ): Promise<(Uint8Array | undefined)[]> {
    return await Promise.all(crops.map(async (crop, i) => {
      const socket = this.#socket(i);
      await socket.opened.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((r) =>
        timer = setTimeout(() => r(undefined), timeoutMs)
      );
      const result = await Promise.race([socket.send(crop, size), timeout]);
      clearTimeout(timer);
      return result;
    }));
  }

  close(): void {
    for (const s of this.#sockets) s?.close();
    this.#sockets = [];
  }
}

/** The aligned crop of one face from RGBA frame pixels (bilinear, as texture_to_tensor samples). */
export function cropOnCpu(
  frame: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  face: AlignedFace,
  manifest: EffectManifest,
): Uint8Array {
  const size = manifest.inputSize;
  const options = { normalization: manifest.normalization };
  const t = rgbaToTensorReference(
    frame.data,
    frame,
    [{ transform: face.alignment.warp }],
    { width: size, height: size },
    options,
  );
  return tensorToRgbaReference(t, manifest.normalization);
}

/**
 * Pastes the edits of the returned crops into the frame on the CPU: each face's result minus the
 * crop that was sent (faces without a result are left out). Returns the composited RGBA bytes.
 */
export function compositeOnCpu(
  frame: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  faces: readonly AlignedFace[],
  sent: readonly Uint8Array[],
  results: readonly (Uint8Array | undefined)[],
  manifest: EffectManifest,
): Uint8Array {
  const size = manifest.inputSize;
  const kept = faces.flatMap((f, i) =>
    results[i] ? [{ face: f, input: sent[i], output: results[i]! }] : []
  );
  if (!kept.length) return new Uint8Array(frame.data);
  const { mean, std } = manifest.normalization;
  const tensor = (crops: Uint8Array[]) => {
    const t = hostTensor([crops.length, size, size, 3]);
    crops.forEach((crop, n) => {
      const base = n * size * size * 3;
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < 3; c++) {
          t.data[base + p * 3 + c] = (crop[p * 4 + c] / 255 - mean[c]) / std[c];
        }
      }
    });
    return t;
  };
  return compositeReference(
    frame,
    tensor(kept.map((k) => k.input)),
    tensor(kept.map((k) => k.output)),
    kept.map(({ face }) => ({
      warp: face.alignment.warp,
      inverse: face.alignment.inverse,
      outline: face.outline,
    })),
    { feather: manifest.blend.feather * size, normalization: manifest.normalization },
  );
}

/** Shows frames on a 2D canvas: the camera left of the split, the result right of it. */
export class CanvasPresenter {
  #context: CanvasRenderingContext2D;
  #split = 0;

  constructor(readonly canvas: HTMLCanvasElement) {
    this.#context = canvas.getContext("2d")!;
  }

  setSplit(fraction: number): void {
    this.#split = Math.min(1, Math.max(0, fraction));
  }

  draw(width: number, height: number, before: Uint8ClampedArray | Uint8Array, after: Uint8Array) {
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const image = (bytes: Uint8Array | Uint8ClampedArray) =>
      new ImageData(
        new Uint8ClampedArray(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length),
        width,
      );
    this.#context.putImageData(image(after), 0, 0);
    const x = Math.round(this.#split * width);
    if (x > 0) this.#context.putImageData(image(before), 0, 0, 0, 0, x, height);
  }
}
