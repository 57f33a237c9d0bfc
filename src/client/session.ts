// An effect session: source → FaceLandmarker → FaceAligner → the WebGPU path or the edge path →
// the canvas, with the backend chosen at start and switched live (device lost, sustained overrun,
// device recovered), and events for everything a page shows.
//
//   const session = createEffectSession({ effect: "cartoon", source: "camera", target: div });
//   session.on("backend", (e) => badge.textContent = e.backend);
//   await session.start();

import { acquireGpu, type Gpu } from "../runtime/device.ts";
import { FaceTracker } from "../face/tracker.ts";
import { EffectLoadError, type LoadedEffect, loadEffect, type LoadProgress } from "./effects.ts";
import { type AlignedFace, FaceAligner } from "./faces.ts";
import { type Frame, type FrameSource, isStill, openSource, SourceError } from "./frames.ts";
import type { SourceOption } from "./frames.ts";
import { GpuRenderer, type Pixels, type PresentMode } from "./gpu_path.ts";
import { CanvasPresenter, compositeOnCpu, cropOnCpu, EdgeClient, EdgeError } from "./edge_path.ts";

export type BackendChoice = "auto" | "webgpu" | "edge";
export type Backend = "webgpu" | "edge";

export interface SessionOptions {
  /** The edge server (also serves the effect, the model and MediaPipe's wasm); default this page's origin. */
  server?: string | URL;
  /** Effect id from the server's catalog. */
  effect: string;
  source: SourceOption;
  /** Element the session draws into (it adds its canvases there). */
  target: HTMLElement;
  /**
   * "auto" (default): WebGPU when an adapter exists, is not a software fallback and the warm-up
   * fits the frame budget, else the edge; switches live. "webgpu": WebGPU on any adapter (tests on
   * SwiftShader), still falling back to the edge while the device is lost. "edge": never WebGPU.
   */
  backend?: BackendChoice;
  /** Faces tracked and stylised per frame, 1..4 (default 4). */
  maxFaces?: number;
  /** Time budget of one frame's inference on the GPU, ms (default 33: 30 fps). */
  frameBudgetMs?: number;
  /**
   * "auto" may take a software (fallback) adapter too, when its warm-up fits the budget (default
   * false: a software adapter shares the CPU with the page, so the edge is usually the better bet).
   */
  acceptSoftwareAdapter?: boolean;
  /** Before/after split: the fraction of the width, from the left, that shows the camera. */
  split?: number;
  /** Override where the face model and the MediaPipe wasm come from. */
  modelUrl?: string;
  wasmUrl?: string;
  /** First retry of a lost or slow GPU, ms (doubles up to 30 s; default 2000). */
  gpuRetryMs?: number;
  /** Read every frame's result back and send it as a `result` event (tools; costs a readback). */
  capture?: boolean;
  /**
   * How WebGPU output reaches the screen: "canvas" (a WebGPU canvas), "readback" (a 2D canvas),
   * or "auto" (default): readback on software adapters, the canvas otherwise.
   */
  present?: "auto" | PresentMode;
}

export interface Timings {
  backend: Backend;
  faces: number;
  /** Per stage, ms: landmarks, smoothing + alignment (+ CPU crops on the edge), inference, paste-back + draw. */
  track: number;
  align: number;
  infer: number;
  composite: number;
  /** Getting the frame to the GPU (WebGPU path) or its pixels (edge path). */
  upload: number;
  total: number;
  /** Frames shown per second over the last second. */
  fps: number;
}

export type ErrorCode =
  | "camera-denied"
  | "camera-unavailable"
  | "bad-source"
  | "no-webgpu"
  | "server-unreachable"
  | "effect-not-found"
  | "bad-manifest"
  | "bad-weights"
  | "tracker-failed"
  | "internal";

export interface SessionEvents {
  backend: { backend: Backend; previous: Backend | null; reason: string };
  timings: Timings;
  error: { code: ErrorCode; message: string; fatal: boolean };
  status: { state: "loading" | "running" | "stopped"; faces: number; message: string };
  progress: {
    phase: "weights" | "model" | "warmup";
    loaded: number;
    total: number;
    fromCache: boolean;
  };
  /** After each frame drawn to the canvas. */
  frame: { backend: Backend; faces: number; time: number };
  /** Each frame's pixels and faces, with `capture: true`. */
  result: Snapshot;
}

export interface Snapshot extends Pixels {
  backend: Backend;
  faces: {
    id: number;
    landmarks: Float32Array;
    warp: number[];
    inverse: number[];
    outline: Float32Array;
  }[];
}

export class SessionError extends Error {
  override name = "SessionError";
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const MAX_RETRY_MS = 30_000;
/** The status message once the edge answers again after an outage. */
export const EDGE_BACK = "the edge server is reachable again";
/**
 * Set when a device was lost right after its first canvas presents: this browser can't present
 * WebGPU canvases, so later renderers on this page read back instead (see gpu_path.ts).
 */
let canvasFailed = false;
/** Consecutive over-budget frames (about 1.5 s at 30 fps) before "auto" leaves the GPU. */
const OVERRUN_FRAMES = 45;

export class EffectSession extends EventTarget {
  readonly options: Required<Omit<SessionOptions, "modelUrl" | "wasmUrl">> & SessionOptions;
  readonly server: URL;
  #source?: FrameSource;
  #tracker?: FaceTracker;
  #effect?: LoadedEffect;
  #aligner?: FaceAligner;
  #gpu?: Gpu;
  #renderer?: GpuRenderer;
  #edge?: EdgeClient;
  #presenter: CanvasPresenter;
  #gpuCanvas: HTMLCanvasElement;
  #cpuCanvas: HTMLCanvasElement;
  #backend: Backend | null = null;
  #running = false;
  #loop?: Promise<void>;
  #retryMs: number;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #overruns = 0;
  #shown: number[] = [];
  #faces = -1;
  #snapshots: ((s: Snapshot) => void)[] = [];
  #busy = Promise.resolve();

  constructor(options: SessionOptions) {
    super();
    this.options = {
      server: globalThis.location?.origin ?? "http://localhost:8000",
      backend: "auto",
      maxFaces: 4,
      frameBudgetMs: 1000 / 30,
      acceptSoftwareAdapter: false,
      split: 0,
      gpuRetryMs: 2000,
      present: "auto",
      capture: false,
      // An option given as undefined takes its default.
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as EffectSession["options"];
    if (!["auto", "webgpu", "edge"].includes(this.options.backend)) {
      throw new RangeError(`backend must be auto, webgpu or edge, got ${this.options.backend}`);
    }
    const n = this.options.maxFaces;
    if (!Number.isInteger(n) || n < 1 || n > 4) throw new RangeError(`maxFaces ${n} is not 1..4`);
    if (!(this.options.frameBudgetMs > 0)) {
      throw new RangeError(`frameBudgetMs ${this.options.frameBudgetMs} is not positive`);
    }
    this.server = new URL(this.options.server);
    this.#retryMs = this.options.gpuRetryMs;
    const canvas = (kind: string) => {
      const c = document.createElement("canvas");
      c.className = `facefx-canvas facefx-${kind}`;
      c.style.display = "none";
      this.options.target.append(c);
      return c;
    };
    this.#gpuCanvas = canvas("webgpu");
    this.#cpuCanvas = canvas("edge");
    this.#presenter = new CanvasPresenter(this.#cpuCanvas);
    this.#presenter.setSplit(this.options.split);
  }

  /** Typed addEventListener; returns the unsubscribe function. */
  on<K extends keyof SessionEvents>(type: K, listener: (detail: SessionEvents[K]) => void) {
    const wrapped = (e: Event) => listener((e as CustomEvent<SessionEvents[K]>).detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  #emit<K extends keyof SessionEvents>(type: K, detail: SessionEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  get backend(): Backend | null {
    return this.#backend;
  }

  /** The GPU device while on the WebGPU path (device-loss tests call destroy() on it). */
  get device(): GPUDevice | undefined {
    return this.#renderer?.device;
  }

  get effect(): LoadedEffect | undefined {
    return this.#effect;
  }

  /** The canvas currently showing the output. */
  get canvas(): HTMLCanvasElement {
    return this.#backend === "webgpu" && this.#renderer ? this.#renderer.canvas : this.#cpuCanvas;
  }

  /** How WebGPU output reaches the screen ("canvas", or "readback" where canvases can't present). */
  get presentMode(): PresentMode | undefined {
    return this.#renderer?.present;
  }

  /** Warm-up of the current GPU renderer, ms (first run, steady run). */
  get warmup(): { first: number; steady: number } | undefined {
    return this.#renderer?.warmup;
  }

  get uploadPath(): string | undefined {
    return this.#renderer?.uploadPath;
  }

  /**
   * Opens the source, loads the effect and the face model, picks the backend (warm-up included)
   * and starts the frame loop. Rejects with a SessionError (also sent as an `error` event).
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#status("loading", 0, "starting");
    try {
      this.#source = await openSource(this.options.source);
      const mode = this.#source.mode;
      const [effect, tracker] = await Promise.all([
        this.#loadEffect(this.options.effect),
        this.#loadTracker(mode),
      ]);
      this.#tracker = tracker;
      this.#use(effect);
      await this.#chooseBackend();
    } catch (e) {
      const error = asSessionError(e);
      this.#emit("error", { code: error.code, message: error.message, fatal: true });
      this.#status("stopped", 0, error.message);
      this.stop();
      throw error;
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops the loop and releases the camera, the GPU and the sockets. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    this.#source?.close();
    this.#tracker?.close();
    this.#tracker = undefined;
    this.#renderer?.destroy();
    this.#renderer = undefined;
    // Forget the device before destroying it: its loss is then no reason to switch backends.
    const gpu = this.#gpu;
    this.#gpu = undefined;
    gpu?.device.destroy();
    this.#edge?.close();
    this.#edge = undefined;
    if (this.#backend) this.#status("stopped", 0, "stopped");
  }

  /** Switches to another effect of the same server without stopping the source. */
  async setEffect(id: string): Promise<void> {
    const effect = await this.#loadEffect(id).catch((e) => {
      const error = asSessionError(e);
      this.#emit("error", { code: error.code, message: error.message, fatal: false });
      throw error;
    });
    await this.#exclusive(async () => {
      this.#use(effect);
      this.#edge?.close();
      this.#edge = undefined;
      if (this.#backend === "webgpu" && this.#gpu) {
        // The old renderer goes first: it unconfigures the canvas the new one configures.
        this.#renderer?.destroy();
        this.#renderer = undefined;
        this.#renderer = await this.#makeRenderer(this.#gpu);
      } else await this.#edgeClient();
    });
    if (this.#source && isStill(this.#source)) await this.#redrawStill();
  }

  /**
   * Replaces the source (camera ↔ clip ↔ photo) keeping the effect, the tracker and the backend;
   * the tracker is remade only when the mode changes (VIDEO for streams, IMAGE for stills).
   */
  async setSource(source: SourceOption): Promise<void> {
    let next: FrameSource;
    try {
      next = await openSource(source);
    } catch (e) {
      const error = asSessionError(e);
      this.#emit("error", { code: error.code, message: error.message, fatal: false });
      throw error;
    }
    await this.#exclusive(async () => {
      const old = this.#source;
      if (this.#tracker && this.#tracker.mode !== next.mode) {
        const tracker = await this.#loadTracker(next.mode);
        this.#tracker.close();
        this.#tracker = tracker;
      }
      this.#source = next;
      this.#lastFaces = undefined;
      this.#faces = -1;
      if (this.#effect) this.#use(this.#effect);
      old?.close();
    });
    if (this.#running && !this.#looping) this.#loop = this.#run();
  }

  /** Moves the before/after split (fraction of the width showing the camera). */
  setSplit(fraction: number): void {
    this.options.split = fraction;
    this.#presenter.setSplit(fraction);
    this.#renderer?.setSplit(fraction);
    if (this.#source && isStill(this.#source) && this.#running) this.#redrawStill();
  }

  /** The next processed frame's pixels (camera and result) and faces. */
  /**
   * A new frame budget, ms (e.g. the app now targets 60 fps): in "auto", WebGPU that overruns it
   * for 45 frames in a row hands over to the edge.
   */
  setFrameBudget(ms: number): void {
    if (!(ms > 0)) throw new RangeError(`frame budget ${ms} ms is not positive`);
    this.options.frameBudgetMs = ms;
    this.#overruns = 0;
  }

  snapshot(): Promise<Snapshot> {
    const p = new Promise<Snapshot>((resolve) => this.#snapshots.push(resolve));
    if (this.#source && isStill(this.#source) && this.#running) this.#redrawStill();
    return p;
  }

  /** Resolves when the loop has ended (a still image: after its frame). */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  // ---- setup ----

  async #loadEffect(id: string): Promise<LoadedEffect> {
    return await loadEffect(
      this.server,
      id,
      (p: LoadProgress) => this.#emit("progress", { phase: "weights", ...p }),
    );
  }

  async #loadTracker(mode: "VIDEO" | "IMAGE"): Promise<FaceTracker> {
    this.#emit("progress", { phase: "model", loaded: 0, total: 1, fromCache: false });
    try {
      const tracker = await FaceTracker.create({
        mode,
        maxFaces: this.options.maxFaces,
        modelUrl: this.options.modelUrl ??
          new URL("/models/face_landmarker.task", this.server).href,
        wasmUrl: this.options.wasmUrl ?? new URL("/mediapipe/wasm", this.server).href,
      });
      this.#emit("progress", { phase: "model", loaded: 1, total: 1, fromCache: false });
      return tracker;
    } catch (e) {
      throw new SessionError("tracker-failed", `the face tracker failed to load: ${e}`);
    }
  }

  #use(effect: LoadedEffect): void {
    this.#effect = effect;
    const { template, inputSize, smoothing } = effect.manifest;
    this.#aligner = new FaceAligner({ template, size: inputSize, smoothing });
  }

  async #makeRenderer(gpu: Gpu, gentle = false): Promise<GpuRenderer> {
    this.#emit("progress", { phase: "warmup", loaded: 0, total: 1, fromCache: false });
    const renderer = await GpuRenderer.create(gpu, this.#effect!, this.#gpuCanvas, {
      maxFaces: this.options.maxFaces,
      tuningBase: new URL("/tuning/", this.server),
      fallback: this.#presenter,
      present: this.options.present === "auto"
        ? gpu.info.isFallbackAdapter || canvasFailed ? "readback" : "canvas"
        : this.options.present,
      gentle,
      frameBudgetMs: this.options.backend === "webgpu" ? undefined : this.options.frameBudgetMs,
    });
    renderer.setSplit(this.options.split);
    this.#emit("progress", { phase: "warmup", loaded: 1, total: 1, fromCache: false });
    return renderer;
  }

  /** A GPU renderer if this device qualifies (see `backend`), else the reason it does not. */
  async #tryGpu(gentle = false): Promise<{ renderer?: GpuRenderer; gpu?: Gpu; reason: string }> {
    const forced = this.options.backend === "webgpu";
    const gpu = await acquireGpu().catch((e: Error) => e);
    if (gpu instanceof Error) return { reason: `no WebGPU: ${gpu.message}` };
    if (gpu.info.isFallbackAdapter && !forced && !this.options.acceptSoftwareAdapter) {
      gpu.device.destroy();
      const name = gpu.info.description || `${gpu.info.vendor} ${gpu.info.architecture}`.trim();
      return { reason: `WebGPU adapter "${name}" is a software fallback` };
    }
    let renderer: GpuRenderer;
    try {
      renderer = await this.#makeRenderer(gpu, gentle);
    } catch (e) {
      gpu.device.destroy();
      return { reason: `WebGPU warm-up failed: ${(e as Error).message}` };
    }
    const { steady } = renderer.warmup;
    if (!forced && steady > this.options.frameBudgetMs) {
      renderer.destroy();
      gpu.device.destroy();
      return {
        reason: `WebGPU inference takes ${steady.toFixed(0)} ms, over the ${
          this.options.frameBudgetMs.toFixed(0)
        } ms frame budget`,
      };
    }
    return { renderer, gpu, reason: forced ? "forced" : "WebGPU device fits the budget" };
  }

  async #chooseBackend(): Promise<void> {
    if (this.options.backend !== "edge") {
      const { renderer, gpu, reason } = await this.#tryGpu();
      if (renderer && gpu) {
        this.#attachGpu(gpu, renderer);
        this.#switch("webgpu", reason);
        this.#standby();
        return;
      }
      // Not fatal: the edge takes over. Pages say so (a software adapter included).
      this.#emit("error", { code: "no-webgpu", message: reason, fatal: false });
      await this.#edgeClient();
      this.#switch("edge", reason);
      return;
    }
    await this.#edgeClient();
    this.#switch("edge", "forced");
  }

  #attachGpu(gpu: Gpu, renderer: GpuRenderer): void {
    this.#gpu = gpu;
    this.#renderer = renderer;
    gpu.lost.then((info) => {
      if (this.#gpu !== gpu || !this.#running && this.#backend === null) return;
      this.#onGpuLost(`device lost (${info.reason || "unknown"}): ${info.message}`);
    });
  }

  #edgePending?: Promise<EdgeClient>;

  /** The edge stream, connecting it if needed (one attempt at a time; EdgeError → unreachable). */
  #edgeClient(): Promise<EdgeClient> {
    if (this.#edge?.connected) return Promise.resolve(this.#edge);
    return this.#edgePending ??= this.#connectEdge().finally(() => this.#edgePending = undefined);
  }

  async #connectEdge(): Promise<EdgeClient> {
    this.#edge?.close();
    const edge = new EdgeClient(this.server, this.#effect!.id);
    try {
      await edge.connect();
    } catch (e) {
      throw new SessionError(
        "server-unreachable",
        `the edge server can't be reached: ${(e as Error).message}`,
      );
    }
    edge.onClose = (why) => {
      if (this.#edge !== edge || !this.#running) return;
      this.#edge = undefined;
      if (this.#backend === "edge") this.#edgeLost(new Error(`the edge stream ${why}`));
    };
    this.#edge = edge;
    return edge;
  }

  /** Opens the edge stream in the background while on the GPU, so a switch costs no handshake. */
  #standby(): void {
    this.#edgeClient().catch(() => {});
  }

  #switch(backend: Backend, reason: string): void {
    const previous = this.#backend;
    this.#backend = backend;
    const visible = backend === "webgpu" && this.#renderer
      ? this.#renderer.canvas
      : this.#cpuCanvas;
    for (const c of [this.#gpuCanvas, this.#cpuCanvas]) {
      c.style.display = c === visible ? "" : "none";
    }
    if (previous !== backend) this.#emit("backend", { backend, previous, reason });
  }

  #onGpuLost(reason: string): void {
    const renderer = this.#renderer;
    if (renderer?.present === "canvas" && renderer.frames < 3) canvasFailed = true;
    this.#renderer = undefined;
    this.#gpu = undefined;
    renderer?.destroy();
    if (this.options.backend === "edge") return;
    this.#switch("edge", reason);
    if (!this.#edge?.connected) this.#edgeClient().catch((e) => this.#edgeLost(e as Error));
    this.#scheduleGpuRetry();
  }

  #scheduleGpuRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(async () => {
      if (!this.#running || this.#backend === "webgpu") return;
      const { renderer, gpu, reason } = await this.#tryGpu(true);
      if (!this.#running) {
        renderer?.destroy();
        return;
      }
      if (renderer && gpu) {
        // Between frames: the next frame takes the GPU.
        await this.#exclusive(() => {
          this.#attachGpu(gpu, renderer);
          this.#overruns = 0;
          this.#retryMs = this.options.gpuRetryMs;
          this.#switch("webgpu", `device recovered (${reason})`);
          return Promise.resolve();
        });
        return;
      }
      this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
      this.#scheduleGpuRetry();
    }, this.#retryMs);
  }

  // ---- the frame loop ----

  /** Runs `fn` between frames (effect and backend changes never interleave with a frame). */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#busy;
    let release!: () => void;
    this.#busy = new Promise((r) => release = r);
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #looping = false;

  async #run(): Promise<void> {
    this.#status("running", 0, "running");
    this.#looping = true;
    try {
      await this.#frames();
    } finally {
      this.#looping = false;
    }
  }

  async #frames(): Promise<void> {
    while (this.#running) {
      // A frame whose work is all synchronous (tracking, a CPU composite while the edge is down)
      // would otherwise chain frame after frame in microtasks and starve timers, sockets and input.
      await yieldToEventLoop();
      const source = this.#source!;
      const frame = await source.next();
      if (!frame) {
        if (source !== this.#source) continue; // replaced by setSource()
        break;
      }
      try {
        await this.#exclusive(() => this.#process(frame));
      } catch (e) {
        if (this.#running) {
          this.#emit("error", { code: "internal", message: String(e), fatal: false });
        }
      } finally {
        frame.close();
      }
    }
  }

  async #redrawStill(): Promise<void> {
    const source = this.#source;
    if (!source || !isStill(source)) return;
    const frame = source.again();
    await this.#exclusive(() => this.#process(frame, false));
  }

  async #process(frame: Frame, track = true): Promise<void> {
    const t0 = performance.now();
    let faces: AlignedFace[];
    let tTrack = 0;
    if (track || !this.#lastFaces) {
      const result = this.#source!.mode === "VIDEO"
        ? this.#tracker!.detectForVideo(frame.image, frame.timestamp)
        : this.#tracker!.detect(frame.image);
      tTrack = performance.now() - t0;
      faces = this.#aligner!.update(
        result.faces.map((f) => f.landmarks),
        frame.timestamp,
        this.#source!.mode === "VIDEO",
      );
      this.#lastFaces = faces;
    } else faces = this.#lastFaces;
    const t1 = performance.now();
    if (faces.length !== this.#faces) {
      this.#faces = faces.length;
      this.#status(
        "running",
        faces.length,
        faces.length ? `${faces.length} face${faces.length > 1 ? "s" : ""}` : "no face found",
      );
    }
    const wantSnapshot = this.#snapshots.length > 0 || this.options.capture;
    const backend = this.#backend!;
    let times: { upload: number; align: number; infer: number; composite: number };
    let pixels: Pixels | undefined;
    let shown = faces.length;
    if (backend === "webgpu" && this.#renderer) {
      const renderer = this.#renderer;
      const lost = this.#gpu!.lost.then(() => undefined);
      const out = await Promise.race([
        renderer.render(frame, faces, {
          read: wantSnapshot,
          wait: this.#source!.mode === "IMAGE",
        }),
        lost,
      ]);
      if (!out) return; // the device went away mid-frame: the next frame takes the edge
      times = { ...out.times, align: t1 - t0 - tTrack };
      pixels = out.pixels;
      shown = out.used;
      this.#checkOverrun(out.times.infer + out.times.composite);
    } else {
      const out = await this.#edgeFrame(frame, faces);
      if (!out) return;
      times = { ...out.times, align: t1 - t0 - tTrack + out.times.align };
      pixels = out.pixels;
    }
    const now = performance.now();
    this.#shown.push(now);
    while (this.#shown.length && this.#shown[0] < now - 1000) this.#shown.shift();
    this.#emit("frame", { backend, faces: shown, time: now });
    this.#emit("timings", {
      backend,
      faces: shown,
      track: tTrack,
      align: times.align,
      infer: times.infer,
      composite: times.composite,
      upload: times.upload,
      total: now - t0,
      fps: this.#shown.length,
    });
    if (wantSnapshot && pixels) {
      const snapshot: Snapshot = {
        ...pixels,
        backend,
        faces: faces.slice(0, shown).map((f) => ({
          id: f.id,
          landmarks: f.landmarks,
          raw: f.raw,
          warp: [...f.alignment.warp],
          inverse: [...f.alignment.inverse],
          outline: f.outline,
        })),
      };
      for (const resolve of this.#snapshots.splice(0)) resolve(snapshot);
      if (this.options.capture) this.#emit("result", snapshot);
    }
  }

  #lastFaces?: AlignedFace[];

  async #edgeFrame(frame: Frame, faces: AlignedFace[]) {
    const t0 = performance.now();
    const image = frame.pixels();
    const t1 = performance.now();
    const manifest = this.#effect!.manifest;
    let results: (Uint8Array | undefined)[] = [];
    let crops: Uint8Array[] = [];
    let tCrop = t1, tInfer = t1;
    if (faces.length) {
      const edge = await this.#liveEdge();
      if (edge) {
        crops = faces.map((f) => cropOnCpu(image, f, manifest));
        tCrop = performance.now();
        results = await edge.infer(crops, manifest.inputSize);
        tInfer = performance.now();
        // All dropped: keep the last frame shown (a tool capturing every frame takes it as is).
        if (results.every((r) => !r) && !this.options.capture) return undefined;
      }
    }
    const t3 = performance.now();
    const after = compositeOnCpu(image, faces, crops, results, manifest);
    this.#presenter.draw(frame.width, frame.height, image.data, after);
    const t4 = performance.now();
    return {
      times: { upload: t1 - t0, align: tCrop - t1, infer: tInfer - tCrop, composite: t4 - t3 },
      pixels: {
        width: frame.width,
        height: frame.height,
        before: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.length),
        after,
      },
    };
  }

  #edgeDown = false;
  #edgeRetryAt = 0;
  #edgeConnecting?: Promise<void>;

  /**
   * The edge stream if it is up. While it is down, frames go on without it (the camera shows as it
   * is) and a reconnection is tried in the background every 2 s: a frame never waits on a
   * connection attempt, however long the network takes to fail. The first outage frame says why.
   */
  async #liveEdge(): Promise<EdgeClient | undefined> {
    if (this.#edge?.connected) return this.#edge;
    if (!this.#edgeDown && !this.#edgeConnecting) {
      // Not known to be down (a first connection, a socket just closed): one bounded try in line.
      try {
        return await this.#edgeClient();
      } catch (e) {
        this.#edgeLost(e as Error);
        return undefined;
      }
    }
    if (!this.#edgeConnecting && performance.now() >= this.#edgeRetryAt) {
      this.#edgeConnecting = this.#edgeClient().then(() => {
        this.#edgeDown = false;
        this.#status("running", Math.max(0, this.#faces), EDGE_BACK);
      }, (e) => this.#edgeLost(e as Error)).finally(() => this.#edgeConnecting = undefined);
    }
    return undefined;
  }

  #edgeLost(e: Error): void {
    this.#edgeRetryAt = performance.now() + 2000;
    if (this.#edgeDown) return;
    this.#edgeDown = true;
    this.#emit("error", { code: "server-unreachable", message: e.message, fatal: false });
  }

  #checkOverrun(gpuMs: number): void {
    if (this.options.backend !== "auto") return;
    this.#overruns = gpuMs > this.options.frameBudgetMs ? this.#overruns + 1 : 0;
    if (this.#overruns < OVERRUN_FRAMES) return;
    this.#overruns = 0;
    const renderer = this.#renderer;
    const gpu = this.#gpu;
    this.#renderer = undefined;
    this.#gpu = undefined;
    this.#switch(
      "edge",
      `the GPU overran the ${
        this.options.frameBudgetMs.toFixed(0)
      } ms budget for ${OVERRUN_FRAMES} frames`,
    );
    renderer?.destroy();
    gpu?.device.destroy();
    this.#retryMs = Math.max(this.#retryMs, 10_000);
    this.#scheduleGpuRetry();
  }

  #status(state: SessionEvents["status"]["state"], faces: number, message: string): void {
    this.#emit("status", { state, faces, message });
  }
}

/** Resolves in a fresh task (a MessageChannel message: no timer clamping). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

function asSessionError(e: unknown): SessionError {
  if (e instanceof SessionError) return e;
  if (e instanceof SourceError) return new SessionError(e.code, e.message);
  if (e instanceof EffectLoadError) return new SessionError(e.code, e.message);
  if (e instanceof EdgeError) return new SessionError("server-unreachable", e.message);
  return new SessionError("internal", e instanceof Error ? e.message : String(e));
}

/** The SDK's entry point: a session, not yet started (call `start()`). */
export function createEffectSession(options: SessionOptions): EffectSession {
  return new EffectSession(options);
}
