// The on-device path: camera frame → GPU texture → per-face crop + rotate straight into the student's
// input tensor → the student (GpuExecutor, the same runtime as the edge server) → the composite
// kernel pastes the output crops back → a render pass draws the result to the canvas. The frame
// stays on the GPU from upload to canvas; only warps and outlines (a few hundred bytes) go up.
//
// Presentation: normally a render pass draws into the canvas's WebGPU swap chain. On software
// adapters the renderer reads the result back and draws it on a 2D canvas instead: their "GPU
// memory" is host memory, so that costs a copy, and headless Chromium on SwiftShader can't present
// WebGPU canvases at all (no shared-image backing for swap chains: the first present crashes the
// GPU process, WebGL contexts included).
//
// Two submits per frame (crop + student, then composite + present) so each stage's GPU time can be
// read from onSubmittedWorkDone without timestamp queries; both are recorded from pre-built
// pipelines and bind groups, so the cost of the split is one extra submit.

import type { Gpu } from "../runtime/device.ts";
import { BufferPool } from "../runtime/buffers.ts";
import { type CompositeStage, Compositor } from "../runtime/composite.ts";
import { GpuExecutor } from "../runtime/executor.ts";
import { ImageKernels, type TextureToTensor } from "../runtime/image.ts";
import { PipelineCache } from "../runtime/pipelines.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { loadTuning, type Tuning } from "../runtime/tuning.ts";
import { plan } from "../graph/planner.ts";
import { buildNetwork } from "../graph/architecture.ts";
import type { LoadedEffect } from "./effects.ts";
import type { AlignedFace } from "./faces.ts";
import type { Frame } from "./frames.ts";
import { SplitView } from "./split_view.ts";

export interface GpuTimes {
  /** CPU time to get the frame into its texture. */
  upload: number;
  /** GPU time of crop + student (0 without faces). */
  infer: number;
  /** GPU time of composite + present. */
  composite: number;
}

export interface Pixels {
  width: number;
  height: number;
  before: Uint8Array;
  after: Uint8Array;
}

/** How results reach the screen: the WebGPU canvas, or readback + 2D canvas (see the header). */
export type PresentMode = "canvas" | "readback";

/** Draws RGBA frames on a 2D canvas (the edge path's presenter). */
export interface FramePresenter {
  draw(
    width: number,
    height: number,
    before: Uint8Array | Uint8ClampedArray,
    after: Uint8Array,
  ): void;
  setSplit(fraction: number): void;
  readonly canvas: HTMLCanvasElement;
}

interface Stages {
  crop: TextureToTensor;
  composite: CompositeStage;
}

/** Most outline points a face may have (the face oval has 36). */
const MAX_POINTS = 64;

export class GpuRenderer {
  #executors = new Map<number, Promise<GpuExecutor>>();
  #ready = new Map<number, GpuExecutor>();
  #stages = new Map<number, Stages>();
  #frame?: GPUTexture;
  #result?: GPUTexture;
  #splitFraction = 0;
  /** "external": copyExternalImageToTexture; "pixels": 2D-canvas readback + writeTexture. */
  #upload: "external" | "pixels" | undefined;
  #destroyed = false;
  /** Frames rendered so far. */
  frames = 0;
  /** Warm-up: the first inference (pipelines' first use) and a second, steady one, in ms. */
  warmup = { first: 0, steady: 0 };

  private constructor(
    readonly gpu: Gpu,
    readonly effect: LoadedEffect,
    /** The canvas that shows this renderer's output. */
    readonly canvas: HTMLCanvasElement,
    readonly present: PresentMode,
    private readonly context: GPUCanvasContext | undefined,
    private readonly fallback: FramePresenter,
    private readonly pipelines: PipelineCache,
    private readonly pool: BufferPool,
    private readonly images: ImageKernels,
    private readonly compositor: Compositor,
    private readonly splitView: SplitView,
    private readonly tuning: Tuning | undefined,
    readonly maxFaces: number,
  ) {}

  /**
   * Builds the batch-1 student on its baseline kernels (quick to compile: the effect shows sooner),
   * runs it twice (`warmup` says how long the first and a steady inference took), and compiles the
   * tuned kernels in the background from the first on. A steady frame over `frameBudgetMs` waits
   * for them and is measured again, so a device is judged by its tuned speed.
   */
  static async create(
    gpu: Gpu,
    effect: LoadedEffect,
    canvas: HTMLCanvasElement,
    options: {
      maxFaces: number;
      tuningBase?: URL;
      /** Where readback presentation draws (and the fallback when the canvas can't present). */
      fallback: FramePresenter;
      present: PresentMode;
      /**
       * Compile one pipeline at a time (recovering in the background while frames flow on the
       * edge), as the tuned kernels always are: see GpuExecutorOptions.gentle.
       */
      gentle?: boolean;
      frameBudgetMs?: number;
    },
  ): Promise<GpuRenderer> {
    const { device } = gpu;
    const format = navigator.gpu.getPreferredCanvasFormat();
    let context: GPUCanvasContext | undefined;
    if (options.present === "canvas") {
      context = (canvas.getContext("webgpu") as GPUCanvasContext | null) ?? undefined;
      if (!context) throw new Error("the canvas has no webgpu context");
      context.configure({ device, format, alphaMode: "opaque" });
    }
    const pipelines = new PipelineCache(device);
    const tuning = options.tuningBase
      ? await loadTuning(gpu.key, options.tuningBase, {
        isFallbackAdapter: gpu.info.isFallbackAdapter,
      })
      : undefined;
    const make = [
      () => ImageKernels.create(device, pipelines),
      () => Compositor.create(device, pipelines),
      () => SplitView.create(device, format),
    ] as const;
    const [images, compositor, splitView] = options.gentle
      ? [await make[0](), await make[1](), await make[2]()]
      : await Promise.all([make[0](), make[1](), make[2]()]);
    const renderer = new GpuRenderer(
      gpu,
      effect,
      context ? canvas : options.fallback.canvas,
      options.present,
      context,
      options.fallback,
      pipelines,
      new BufferPool(device),
      images,
      compositor,
      splitView,
      tuning,
      options.maxFaces,
    );
    const executor = await renderer.#executor(1, {
      gentle: options.gentle ?? false,
      upgrade: false,
    });
    const s = effect.manifest.inputSize;
    const zeros: HostTensor = { shape: [1, s, s, 3], data: new Float32Array(s * s * 3) };
    const time = async () => {
      const t = performance.now();
      await executor.run([zeros], { read: false });
      return performance.now() - t;
    };
    renderer.warmup.first = await time();
    // Frames flow from here on: the tuned kernels compile one at a time.
    const upgraded = executor.upgrade({ gentle: true });
    upgraded.catch(() => {}); // a lost device is reported by the device's own handler
    renderer.warmup.steady = await time();
    if (renderer.warmup.steady > (options.frameBudgetMs ?? Infinity)) {
      await upgraded;
      renderer.warmup.steady = await time();
    }
    return renderer;
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** How the frame gets to the GPU (known after the first frame). */
  get uploadPath(): string | undefined {
    return this.#upload;
  }

  /**
   * The student for `batch` faces. Each starts on the baseline kernels (compiled with the first
   * one, then cached) and upgrades to the tuned ones, compiled gently: frames flow meanwhile. The
   * first one upgrades after its warm-up (`upgrade: false` here, see create).
   */
  #executor(batch: number, { gentle = true, upgrade = true } = {}): Promise<GpuExecutor> {
    let pending = this.#executors.get(batch);
    if (!pending) {
      const { program } = plan(buildNetwork(this.effect.architecture, batch));
      pending = GpuExecutor.create(this.gpu, program, this.effect.weights, {
        pipelines: this.pipelines,
        pool: this.pool,
        tuning: this.tuning,
        baseline: true,
        gentle,
      });
      this.#executors.set(batch, pending);
      pending.then((e) => {
        if (this.#destroyed) return e.dispose();
        this.#ready.set(batch, e);
        // A lost device is reported by the device's own handler.
        if (upgrade) e.upgrade({ gentle: true }).catch(() => {});
      }, () => this.#executors.delete(batch));
    }
    return pending;
  }

  /**
   * The executor for `faces` faces, or while that one is still being built (a face just joined),
   * the largest ready one: the extra faces go without the effect for those few frames.
   */
  #executorFor(faces: number): GpuExecutor | undefined {
    const n = Math.min(faces, this.maxFaces);
    const exact = this.#ready.get(n);
    if (exact) return exact;
    this.#executor(n);
    for (let k = n - 1; k >= 1; k--) {
      const e = this.#ready.get(k);
      if (e) return e;
    }
    return undefined;
  }

  #textures(width: number, height: number): void {
    if (this.#frame && this.#frame.width === width && this.#frame.height === height) return;
    this.#frame?.destroy();
    this.#result?.destroy();
    for (const s of this.#stages.values()) s.crop.destroy(), s.composite.destroy();
    this.#stages.clear();
    const device = this.device;
    this.#frame = device.createTexture({
      label: "camera frame",
      size: [width, height],
      format: "rgba8unorm",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST |
        GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT,
    });
    this.#result = device.createTexture({
      label: "composited frame",
      size: [width, height],
      format: "rgba8unorm",
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING |
        GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    this.splitView.bind(this.#frame, this.#result);
    if (this.context) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.setSplit(this.#splitFraction);
  }

  #stagesFor(executor: GpuExecutor): Stages {
    const batch = executor.program.tensors[executor.program.inputs[0]].shape[0];
    let stages = this.#stages.get(batch);
    if (!stages) {
      const { normalization } = this.effect.manifest;
      stages = {
        crop: this.images.textureToTensor(
          executor.binding(executor.program.inputs[0]),
          this.#frame!,
          { normalization },
        ),
        composite: this.compositor.bind(
          this.#frame!,
          this.#result!,
          {
            input: executor.binding(executor.program.inputs[0]),
            output: executor.binding(executor.program.outputs[0]),
          },
          { maxFaces: batch, maxPoints: MAX_POINTS },
        ),
      };
      this.#stages.set(batch, stages);
    }
    return stages;
  }

  #uploadFrame(frame: Frame): void {
    const texture = this.#frame!;
    const size = [frame.width, frame.height];
    if (this.#upload !== "pixels") {
      try {
        this.device.queue.copyExternalImageToTexture({ source: frame.image }, { texture }, size);
        this.#upload = "external";
        return;
      } catch (e) {
        // Headless SwiftShader can't import camera frames; software adapters copy faster from
        // a 2D canvas anyway (measured: 2.4 ms vs 17.5 ms for 640×480).
        if (this.#upload === "external") throw e;
        this.#upload = "pixels";
      }
    }
    const pixels = frame.pixels();
    this.device.queue.writeTexture(
      { texture },
      pixels.data,
      { bytesPerRow: frame.width * 4 },
      size,
    );
  }

  /** The before/after split, as a fraction of the width from the left (0 = all "after"). */
  setSplit(fraction: number): void {
    this.#splitFraction = Math.min(1, Math.max(0, fraction));
    this.fallback.setSplit(this.#splitFraction);
    this.splitView.setSplit(this.#splitFraction * (this.#frame?.width ?? 0));
  }

  /**
   * One frame: upload, crop + infer the faces (one batch), composite, present. With `read`, also
   * returns the frame and result bytes.
   */
  async render(
    frame: Frame,
    faces: readonly AlignedFace[],
    options: { read?: boolean; wait?: boolean } = {},
  ): Promise<{ times: GpuTimes; used: number; pixels?: Pixels }> {
    const read = options.read ?? false;
    const device = this.device;
    // A still picture waits for the executor of its face count; a stream never waits for one.
    if (options.wait && faces.length) await this.#executor(Math.min(faces.length, this.maxFaces));
    const t0 = performance.now();
    this.frames++;
    this.#textures(frame.width, frame.height);
    this.#uploadFrame(frame);
    const t1 = performance.now();
    const executor = faces.length ? this.#executorFor(faces.length) : undefined;
    const stages = executor ? this.#stagesFor(executor) : undefined;
    const used = executor ? faces.slice(0, stages!.composite.maxFaces) : [];

    if (executor && used.length) {
      stages!.crop.setWarps(used.map((f) => ({ transform: f.alignment.warp })));
      const encoder = device.createCommandEncoder({ label: "crop + student" });
      stages!.crop.encode(encoder);
      executor.encode(encoder);
      device.queue.submit([encoder.finish()]);
    }
    const inferred = device.queue.onSubmittedWorkDone().then(() => performance.now());

    const encoder = device.createCommandEncoder({ label: "composite + present" });
    if (executor && used.length) {
      stages!.composite.setFaces(
        used.map((f) => ({
          warp: f.alignment.warp,
          inverse: f.alignment.inverse,
          outline: f.outline,
        })),
        {
          feather: this.effect.manifest.blend.feather * this.effect.manifest.inputSize,
          normalization: this.effect.manifest.normalization,
        },
      );
      stages!.composite.encode(encoder);
    } else {
      encoder.copyTextureToTexture(
        { texture: this.#frame! },
        { texture: this.#result! },
        [frame.width, frame.height],
      );
    }
    if (this.context) this.splitView.encode(encoder, this.context.getCurrentTexture().createView());
    // Readback: the result to present it (software adapters), both textures for a snapshot. The
    // camera half of the split comes from the CPU copy when the frame went up that way.
    const cpuBefore = this.#upload === "pixels" ? frame.pixels().data : undefined;
    const needBefore = read || (!this.context && this.#splitFraction > 0 && !cpuBefore);
    const readback = read || !this.context
      ? this.#encodeReadback(encoder, frame.width, frame.height, needBefore)
      : undefined;
    device.queue.submit([encoder.finish()]);
    const composited = device.queue.onSubmittedWorkDone().then(() => performance.now());
    const [tInfer, tComposite] = await Promise.all([inferred, composited]);
    const pixels = readback ? await readback() : undefined;
    if (!this.context) {
      const before = pixels!.before.length ? pixels!.before : cpuBefore ?? pixels!.after;
      this.fallback.draw(frame.width, frame.height, before, pixels!.after);
    }
    const times = {
      upload: t1 - t0,
      infer: executor && used.length ? tInfer - t1 : 0,
      // Readback presentation counts as compositing: it is how the result reaches the screen.
      composite: (this.context ? tComposite : performance.now()) - Math.max(tInfer, t1),
    };
    return { times, used: used.length, pixels: read ? pixels : undefined };
  }

  /** Staging buffers for readbacks, reused frame to frame. */
  #staging: GPUBuffer[] = [];

  #encodeReadback(encoder: GPUCommandEncoder, width: number, height: number, before: boolean) {
    const row = Math.ceil((width * 4) / 256) * 256;
    const size = row * height;
    const textures = before ? [this.#frame!, this.#result!] : [this.#result!];
    const buffers = textures.map((texture) => {
      const i = this.#staging.findIndex((b) => b.size === size);
      const buffer = i >= 0 ? this.#staging.splice(i, 1)[0] : this.device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "readback",
      });
      encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow: row }, [width, height]);
      return buffer;
    });
    return async (): Promise<Pixels> => {
      const bytes = await Promise.all(buffers.map(async (buffer) => {
        await buffer.mapAsync(GPUMapMode.READ);
        const padded = new Uint8Array(buffer.getMappedRange());
        const out = new Uint8Array(width * height * 4);
        if (row === width * 4) out.set(padded.subarray(0, out.length));
        else {
          for (let y = 0; y < height; y++) {
            out.set(padded.subarray(y * row, y * row + width * 4), y * width * 4);
          }
        }
        buffer.unmap();
        if (this.#destroyed) buffer.destroy();
        else this.#staging.push(buffer);
        return out;
      }));
      const after = bytes[bytes.length - 1];
      return { width, height, before: before ? bytes[0] : new Uint8Array(0), after };
    };
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const s of this.#stages.values()) s.crop.destroy(), s.composite.destroy();
    for (const e of this.#ready.values()) e.dispose();
    this.#frame?.destroy();
    this.#result?.destroy();
    this.splitView.destroy();
    for (const b of this.#staging) b.destroy();
    this.pool.destroy();
    try {
      this.context?.unconfigure();
    } catch { /* a lost device */ }
  }
}
