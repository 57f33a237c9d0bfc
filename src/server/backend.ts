// Where the edge server runs the student: the browser's own GpuExecutor on the server's WebGPU
// adapter (one executor per effect and batch size, built lazily, LRU-bounded), or the CPU reference.
//
// Backend choice, measured with `deno run -A bench/edge_backends.ts` on this project's 2-core
// machine, whose only adapter is llvmpipe (Mesa's software rasteriser, isFallbackAdapter = true);
// medians of 5 GPU and 3 CPU runs after a warm-up, ms per crop:
//   default student 256², batch 1: GpuExecutor on llvmpipe 104, CpuExecutor 569   (5.5×)
//   default student 256², batch 4:                          67,             559   (8.4×)
//   test student 128² w0.25, b 1:                           19,              29   (1.6×)
//   test student 128² w0.25, b 8:                          8.4,              27   (3.2×)
// So a software adapter is still the fastest CPU path (LLVM-compiled SIMD WGSL on all cores), it
// gains from batching where the reference does not, and it keeps the event loop free. CpuExecutor
// is only the last resort with no adapter at all, and then it runs in a worker so health checks
// and sockets stay responsive.

import type { Gpu } from "../runtime/device.ts";
import { BufferPool } from "../runtime/buffers.ts";
import { GpuExecutor } from "../runtime/executor.ts";
import { PipelineCache } from "../runtime/pipelines.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { loadTuning, type Tuning } from "../runtime/tuning.ts";
import { plan } from "../graph/planner.ts";
import { buildNetwork } from "../graph/architecture.ts";
import type { Effect } from "./effects.ts";

export type BackendName = "webgpu" | "cpu";

export interface Backend {
  readonly name: BackendName;
  /** Runs one batch `[n, s, s, 3]` of normalised crops; runs may overlap (see Batcher). */
  run(effect: Effect, input: HostTensor): Promise<HostTensor>;
  /** Builds (and runs once) what a batch of `batch` crops needs, so the first request is not slow. */
  warm(effect: Effect, batch: number): Promise<void>;
  dispose(): Promise<void>;
}

/** How many (effect, batch size) executors stay built; the least recently used is disposed. */
const DEFAULT_MAX_EXECUTORS = 32;

export class GpuBackend implements Backend {
  readonly name = "webgpu";
  #gpu!: Gpu;
  #pipelines!: PipelineCache;
  #pool!: BufferPool;
  #executors = new Map<string, Promise<GpuExecutor>>();
  #lost = false;
  /** The replacement device while one is being acquired, shared by overlapping runs. */
  #reattaching: Promise<void> | undefined;

  /** `acquire`, when given, replaces a lost device on the next run (driver reset, GPU hang). */
  constructor(
    gpu: Gpu,
    private readonly options: {
      tuning?: Tuning;
      maxExecutors?: number;
      acquire?: () => Promise<Gpu>;
    } = {},
  ) {
    this.#attach(gpu);
  }

  #attach(gpu: Gpu): void {
    this.#gpu = gpu;
    this.#pipelines = new PipelineCache(gpu.device);
    this.#pool = new BufferPool(gpu.device);
    this.#executors.clear();
    this.#lost = false;
    gpu.lost.then((info) => {
      if (this.#gpu !== gpu) return;
      this.#lost = true;
      if (info.reason !== "destroyed") console.error(`WebGPU device lost: ${info.message}`);
    });
  }

  get gpu(): Gpu {
    return this.#gpu;
  }

  /** True while the device is lost and not yet replaced. */
  get lost(): boolean {
    return this.#lost;
  }

  #executor(effect: Effect, batch: number): Promise<GpuExecutor> {
    const key = `${effect.id}@${effect.manifest.weights.sha256}x${batch}`;
    let executor = this.#executors.get(key);
    if (executor) {
      // Refresh its place in the LRU order (Map iterates in insertion order).
      this.#executors.delete(key);
    } else {
      const { program } = plan(buildNetwork(effect.architecture, batch));
      executor = GpuExecutor.create(this.#gpu, program, effect.weights, {
        pipelines: this.#pipelines,
        pool: this.#pool,
        tuning: this.options.tuning,
      });
      // A failed build must not stay cached.
      executor.catch(() => this.#executors.delete(key));
    }
    this.#executors.set(key, executor);
    const max = this.options.maxExecutors ?? DEFAULT_MAX_EXECUTORS;
    for (const [old, evicted] of this.#executors) {
      if (this.#executors.size <= max) break;
      this.#executors.delete(old);
      // Safe while runs overlap: a run submits its work in the same task that its executor
      // resolves in, before this dispose (queued after it), and WebGPU keeps buffers destroyed
      // after a submit alive until that work is done.
      evicted.then((e) => e.dispose(), () => {});
    }
    return executor;
  }

  async run(effect: Effect, input: HostTensor): Promise<HostTensor> {
    if (this.#lost) {
      const acquire = this.options.acquire;
      if (!acquire) throw new Error("the WebGPU device was lost");
      this.#reattaching ??= acquire().then((gpu) => this.#attach(gpu)).finally(() =>
        this.#reattaching = undefined
      );
      await this.#reattaching;
    }
    const executor = await this.#executor(effect, input.shape[0]);
    const [output] = await executor.run([input]);
    return output;
  }

  async warm(effect: Effect, batch: number): Promise<void> {
    const s = effect.manifest.inputSize;
    const zeros: HostTensor = {
      shape: [batch, s, s, 3],
      data: new Float32Array(batch * s * s * 3),
    };
    await this.run(effect, zeros);
  }

  /** Number of built executors (healthz). */
  get executors(): number {
    return this.#executors.size;
  }

  async dispose(): Promise<void> {
    const all = [...this.#executors.values()];
    this.#executors.clear();
    for (const e of await Promise.allSettled(all)) {
      if (e.status === "fulfilled") e.value.dispose();
    }
    this.#pool.destroy();
  }
}

/** Messages between CpuBackend and its worker (cpu_worker.ts). */
export type CpuWorkerRequest =
  | {
    type: "load";
    key: string;
    architecture: Effect["architecture"];
    weights: [string, number[], Float32Array][];
  }
  | { type: "run"; id: number; key: string; shape: number[]; data: Float32Array };

export type CpuWorkerReply =
  | { type: "result"; id: number; shape: number[]; data: Float32Array }
  | { type: "error"; id: number; message: string };

/** The runtime's CPU reference executor, in a worker so a 1 s inference never blocks the server. */
export class CpuBackend implements Backend {
  readonly name = "cpu";
  #worker: Worker;
  #loaded = new Set<string>();
  #pending = new Map<number, { resolve(t: HostTensor): void; reject(e: Error): void }>();
  #next = 1;

  constructor() {
    this.#worker = new Worker(new URL("./cpu_worker.ts", import.meta.url).href, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<CpuWorkerReply>) => {
      const reply = e.data;
      const waiter = this.#pending.get(reply.id);
      if (!waiter) return;
      this.#pending.delete(reply.id);
      if (reply.type === "error") waiter.reject(new Error(reply.message));
      else {
        const [n, h, w, c] = reply.shape;
        waiter.resolve({ shape: [n, h, w, c], data: reply.data });
      }
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      const error = new Error(`CPU worker failed: ${e.message}`);
      for (const w of this.#pending.values()) w.reject(error);
      this.#pending.clear();
    };
  }

  run(effect: Effect, input: HostTensor): Promise<HostTensor> {
    const key = `${effect.id}@${effect.manifest.weights.sha256}`;
    if (!this.#loaded.has(key)) {
      // Weights are copied (not transferred): the catalog keeps its own.
      const weights = [...effect.weights].map(([name, p]) =>
        [name, [...p.shape], p.data] as [string, number[], Float32Array]
      );
      this.#worker.postMessage({ type: "load", key, architecture: effect.architecture, weights });
      this.#loaded.add(key);
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const message: CpuWorkerRequest = {
        type: "run",
        id,
        key,
        shape: [...input.shape],
        data: input.data,
      };
      this.#worker.postMessage(message);
    });
  }

  async warm(effect: Effect, batch: number): Promise<void> {
    const s = effect.manifest.inputSize;
    await this.run(effect, { shape: [batch, s, s, 3], data: new Float32Array(batch * s * s * 3) });
  }

  dispose(): Promise<void> {
    this.#worker.terminate();
    const error = new Error("the CPU backend was disposed");
    for (const w of this.#pending.values()) w.reject(error);
    this.#pending.clear();
    return Promise.resolve();
  }
}

export type BackendPreference = "auto" | "webgpu" | "cpu";

/**
 * The backend for this process: WebGPU whenever an adapter exists (software ones included: see the
 * numbers at the top), CPU in a worker otherwise. "webgpu" fails without an adapter; "cpu" forces it.
 */
export async function selectBackend(
  preference: BackendPreference,
  acquire: () => Promise<Gpu>,
  log: (message: string) => void = console.warn,
): Promise<{ backend: Backend; gpu?: Gpu }> {
  if (preference === "cpu") return { backend: new CpuBackend() };
  try {
    const gpu = await acquire();
    if (gpu.info.isFallbackAdapter) {
      log(
        `WebGPU adapter "${gpu.info.description || gpu.info.vendor}" is a software fallback; ` +
          "it still beats the CPU reference executor, so inference uses it",
      );
    }
    // The bench's per-adapter kernel choices, when this adapter has a table (else op defaults).
    const tuning = await loadTuning(gpu.key);
    return { backend: new GpuBackend(gpu, { acquire, tuning }), gpu };
  } catch (e) {
    if (preference === "webgpu") throw e;
    log(`no WebGPU adapter (${(e as Error).message}); inference uses the CPU backend`);
    return { backend: new CpuBackend() };
  }
}
