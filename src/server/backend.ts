// Where the edge server runs the student: the browser's own GpuExecutor on the server's WebGPU
// adapter (one executor per effect and batch size, built lazily, LRU-bounded), or, on the CPU,
// ONNX Runtime on our ONNX export or the runtime's reference executor, each in a worker.
//
// Backend choice, measured with `deno run -A bench/edge_backends.ts --repeats 15 --batches 1,4,8`
// on this project's 2-core machine, whose only adapter is llvmpipe (isFallbackAdapter = true), over
// the shipped 128² effects; medians of interleaved rounds, ms per crop, two runs:
//   batch 1: WebGPU on llvmpipe 18.3-19.0, ONNX Runtime 1.8-2.3, CPU reference 69-76
//   batch 8:                    6.6-7.1,               1.0-1.6,                  67-71
// So without a hardware adapter ONNX Runtime's CPU kernels (MLAS, all cores) win by 4.5-10×, and a
// software adapter is only the fallback when its native module cannot load. On real GPUs our
// kernels run the same code as the browser, tuned per adapter.

import type { Gpu } from "../runtime/device.ts";
import { BufferPool } from "../runtime/buffers.ts";
import { GpuExecutor } from "../runtime/executor.ts";
import { PipelineCache } from "../runtime/pipelines.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { loadTuning, type Tuning } from "../runtime/tuning.ts";
import { plan } from "../graph/planner.ts";
import { buildNetwork } from "../graph/architecture.ts";
import type { Effect } from "./effects.ts";

export type BackendName = "webgpu" | "onnxruntime" | "cpu";

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

/** What a worker backend runs: ONNX Runtime on our ONNX export, or the runtime's CPU reference. */
export type WorkerEngine = "onnxruntime" | "cpu";

/** Messages between WorkerBackend and its worker (inference_worker.ts). */
export type WorkerRequest =
  | {
    type: "load";
    key: string;
    architecture: Effect["architecture"];
    weights: [string, number[], Float32Array][];
  }
  | { type: "run"; id: number; key: string; shape: number[]; data: Float32Array };

export type WorkerReply =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "result"; id: number; shape: number[]; data: Float32Array }
  | { type: "error"; id: number; message: string };

/**
 * The student on the CPU, in a worker so that inference never blocks health checks and sockets:
 * ONNX Runtime's CPU provider ("onnxruntime", the fast one) or the runtime's reference ("cpu").
 */
export class WorkerBackend implements Backend {
  #worker: Worker;
  #loaded = new Set<string>();
  #pending = new Map<number, { resolve(t: HostTensor): void; reject(e: Error): void }>();
  #next = 1;
  /** Resolves once the worker has its engine loaded; rejects with the reason it could not. */
  readonly ready: Promise<void>;

  constructor(readonly name: WorkerEngine) {
    this.#worker = new Worker(new URL("./inference_worker.ts", import.meta.url).href, {
      type: "module",
      name,
    });
    const ready = Promise.withResolvers<void>();
    this.ready = ready.promise;
    this.ready.catch(() => {}); // awaited by whoever cares (selectBackend); runs fail on their own
    this.#worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const reply = e.data;
      if (reply.type === "ready") return ready.resolve();
      if (reply.type === "failed") {
        const error = new Error(`${name} backend: ${reply.message}`);
        ready.reject(error);
        return this.#failAll(error);
      }
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
      const error = new Error(`${name} worker failed: ${e.message}`);
      ready.reject(error);
      this.#failAll(error);
    };
  }

  #failAll(error: Error): void {
    for (const w of this.#pending.values()) w.reject(error);
    this.#pending.clear();
  }

  run(effect: Effect, input: HostTensor): Promise<HostTensor> {
    const key = `${effect.id}@${effect.manifest.weights.sha256}`;
    if (!this.#loaded.has(key)) {
      // Weights are copied (not transferred): the catalog keeps its own.
      const weights = [...effect.weights].map(([name, p]) =>
        [name, [...p.shape], p.data] as [string, number[], Float32Array]
      );
      this.#post({ type: "load", key, architecture: effect.architecture, weights });
      this.#loaded.add(key);
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ type: "run", id, key, shape: [...input.shape], data: input.data });
    });
  }

  #post(message: WorkerRequest): void {
    this.#worker.postMessage(message);
  }

  async warm(effect: Effect, batch: number): Promise<void> {
    const s = effect.manifest.inputSize;
    await this.run(effect, { shape: [batch, s, s, 3], data: new Float32Array(batch * s * s * 3) });
  }

  dispose(): Promise<void> {
    this.#worker.terminate();
    this.#failAll(new Error(`the ${this.name} backend was disposed`));
    return Promise.resolve();
  }
}

export type BackendPreference = "auto" | BackendName;

/**
 * The backend for this process. "auto": WebGPU on a hardware adapter; without one, ONNX Runtime on
 * the CPU (it beats a software adapter many times over: see the numbers at the top), then a
 * software adapter if ONNX Runtime cannot load, then the CPU reference. A named backend is used
 * as asked, or fails with the reason it cannot be.
 */
export async function selectBackend(
  preference: BackendPreference,
  acquire: () => Promise<Gpu>,
  log: (message: string) => void = console.warn,
): Promise<{ backend: Backend; gpu?: Gpu }> {
  if (preference === "cpu") return { backend: new WorkerBackend("cpu") };
  if (preference === "onnxruntime") return { backend: await startOnnxRuntime() };

  let gpu: Gpu | undefined;
  try {
    gpu = await acquire();
  } catch (e) {
    if (preference === "webgpu") throw e;
    log(`no WebGPU adapter (${(e as Error).message})`);
  }
  if (gpu && (preference === "webgpu" || !gpu.info.isFallbackAdapter)) return gpuBackend(gpu);

  const adapter = gpu && `WebGPU adapter "${gpu.info.description || gpu.info.vendor}"`;
  try {
    const backend = await startOnnxRuntime();
    log(`${adapter ? `${adapter} is a software fallback; ` : ""}inference uses ONNX Runtime (CPU)`);
    gpu?.device.destroy();
    return { backend };
  } catch (e) {
    log((e as Error).message);
  }
  if (gpu) {
    log(`${adapter} is a software fallback; inference uses it`);
    return gpuBackend(gpu);
  }
  log("inference uses the CPU reference executor");
  return { backend: new WorkerBackend("cpu") };

  async function gpuBackend(gpu: Gpu) {
    // The bench's per-adapter kernel choices, when this adapter has a table (else op defaults).
    const tuning = await loadTuning(gpu.key);
    return { backend: new GpuBackend(gpu, { acquire, tuning }), gpu };
  }
}

/** An ONNX Runtime backend whose worker has loaded the native module, or the reason it could not. */
async function startOnnxRuntime(): Promise<WorkerBackend> {
  const backend = new WorkerBackend("onnxruntime");
  try {
    await backend.ready;
    return backend;
  } catch (e) {
    await backend.dispose();
    throw e;
  }
}
