// Dynamic batching across requests and sockets: crops of one effect queue up and run together (up
// to maxBatch, waiting at most maxWaitMs for company); a bounded queue, deadlines and cancellation.
//
// Up to maxInFlight batches run at once (default 2): a batch's readback leaves the device idle for
// a while (Deno's mapAsync sleeps 10 ms after the device is done), and a second batch fills it. The
// next batch is chosen by the oldest waiting crop, so effects share the device first-come
// first-served. A crop's wait counts from its arrival, so under load (the device busy longer than
// maxWaitMs) batches leave as soon as a slot is free.

import type { HostTensor } from "../runtime/tensor.ts";
import type { Backend } from "./backend.ts";
import type { Effect } from "./effects.ts";
import { unavailable } from "./errors.ts";
import type { ServerMetrics } from "./metrics.ts";

export interface BatcherOptions {
  /** Most crops per batch; 1 disables batching. */
  maxBatch: number;
  /** Longest a crop waits for a fuller batch while the device is idle. */
  maxWaitMs: number;
  /** Most crops waiting (not yet running); more are refused with 503. */
  maxQueue: number;
  /** Default deadline of a crop, from arrival to result. */
  timeoutMs: number;
  /** Most batches running at once (submitted to the device or reading back); 1 serialises them. */
  maxInFlight: number;
}

export const DEFAULT_BATCHER: BatcherOptions = {
  maxBatch: 8,
  maxWaitMs: 5,
  maxQueue: 64,
  timeoutMs: 15_000,
  // `deno task loadtest --weights weights --effect cartoon --clients 16 --max-in-flight N` on the
  // 2-core VM, lavapipe: 2 against 1 gave ×2.1-2.2 the crops/s at --max-batch 1, and ×1.04-1.32
  // (medians 227 against 197 crops/s over five runs each) at 8; 3 gained nothing over 2.
  maxInFlight: 2,
};

interface Job {
  effect: Effect;
  /** One normalised crop, s × s × 3. */
  input: Float32Array;
  arrived: number;
  deadline: number;
  /** Set once the job has an outcome (result, error, timeout, cancel): later outcomes are ignored. */
  done: boolean;
  resolve(out: Float32Array): void;
  reject(e: Error): void;
}

export interface SubmitOptions {
  /** Aborts the crops still waiting (client gone); a running batch finishes regardless. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class Batcher {
  /** Per effect id: waiting jobs, oldest first. */
  #queues = new Map<string, Job[]>();
  #depth = 0;
  /** Batches running now. */
  #running = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #idle: (() => void)[] = [];
  /** Recent batch time per crop, for Retry-After estimates. */
  #msPerCrop = 50;

  constructor(
    readonly backend: Backend,
    readonly options: BatcherOptions,
    private readonly metrics?: ServerMetrics,
  ) {
    if (!(options.maxBatch >= 1 && options.maxQueue >= 1 && options.maxInFlight >= 1)) {
      throw new Error("maxBatch, maxQueue and maxInFlight must be at least 1");
    }
  }

  /** Crops waiting for a batch. */
  get depth(): number {
    return this.#depth;
  }

  /** Batches running now (submitted to the device or reading back). */
  get inFlight(): number {
    return this.#running;
  }

  /**
   * Queues crops (all or none: a request is never half-admitted) and resolves with their outputs in
   * order. Rejects with an HttpError: 503 overloaded / timeout / shutting_down.
   */
  submit(
    effect: Effect,
    inputs: Float32Array[],
    options: SubmitOptions = {},
  ): Promise<Float32Array[]> {
    if (this.#closed) {
      return Promise.reject(unavailable("shutting_down", "the server is shutting down"));
    }
    if (this.#depth + inputs.length > this.options.maxQueue) {
      this.metrics?.rejected.inc({ reason: "overloaded" }, inputs.length);
      return Promise.reject(unavailable(
        "overloaded",
        `the inference queue is full (${this.#depth} of ${this.options.maxQueue} crops waiting)`,
        this.retryAfterS(),
      ));
    }
    if (options.signal?.aborted) return Promise.reject(new Error("cancelled"));
    const now = performance.now();
    const deadline = now + (options.timeoutMs ?? this.options.timeoutMs);
    const jobs = inputs.map((input) => {
      let resolve!: (out: Float32Array) => void, reject!: (e: Error) => void;
      const promise = new Promise<Float32Array>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const job: Job = { effect, input, arrived: now, deadline, done: false, resolve, reject };
      return { job, promise };
    });
    const queue = this.#queues.get(effect.id) ?? [];
    this.#queues.set(effect.id, queue);
    for (const { job } of jobs) queue.push(job);
    this.#depth += jobs.length;

    const finish = (job: Job, error: Error) => {
      if (job.done) return;
      job.done = true;
      job.reject(error);
    };
    const timer = setTimeout(() => {
      const timedOut = jobs.filter(({ job }) => !job.done).length;
      if (timedOut) this.metrics?.rejected.inc({ reason: "timeout" }, timedOut);
      for (const { job } of jobs) {
        finish(job, unavailable("timeout", "inference did not finish in time", this.retryAfterS()));
      }
    }, deadline - now);
    const onAbort = () => {
      const cancelled = jobs.filter(({ job }) => !job.done).length;
      if (cancelled) this.metrics?.rejected.inc({ reason: "cancelled" }, cancelled);
      for (const { job } of jobs) finish(job, new Error("cancelled"));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#pump();
    return Promise.all(jobs.map(({ promise }) => promise)).finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    });
  }

  /** Seconds a refused client should wait: the queue's drain time, at least 1, at most 30. */
  retryAfterS(): number {
    // A refusal means the device is saturated, so every slot is busy draining the queue.
    const s = (this.#depth * this.#msPerCrop) / this.options.maxInFlight / 1000;
    return Math.min(30, Math.max(1, Math.ceil(s)));
  }

  /** Refuses new crops; resolves once everything already queued has run. */
  close(): Promise<void> {
    this.#closed = true;
    this.#pump();
    return this.#whenIdle();
  }

  #whenIdle(): Promise<void> {
    if (this.#running === 0 && this.#depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Drops finished (timed-out, cancelled) jobs from the queue heads and the depth count. */
  #prune(queue: Job[]): void {
    for (let i = queue.length - 1; i >= 0; i--) {
      if (queue[i].done) {
        queue.splice(i, 1);
        this.#depth--;
      }
    }
  }

  #pump(): void {
    if (this.#running >= this.options.maxInFlight) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // The queue whose oldest live crop arrived first goes next.
    let chosen: Job[] | undefined;
    for (const queue of this.#queues.values()) {
      this.#prune(queue);
      if (queue.length && (!chosen || queue[0].arrived < chosen[0].arrived)) chosen = queue;
    }
    if (!chosen) {
      if (this.#running === 0) { for (const resolve of this.#idle.splice(0)) resolve(); }
      return;
    }
    const waited = performance.now() - chosen[0].arrived;
    const full = chosen.length >= this.options.maxBatch;
    if (!full && !this.#closed && waited < this.options.maxWaitMs) {
      this.#timer = setTimeout(() => this.#pump(), this.options.maxWaitMs - waited);
      return;
    }
    const batch = chosen.splice(0, this.options.maxBatch);
    this.#depth -= batch.length;
    this.#running++;
    this.#run(batch).finally(() => {
      this.#running--;
      this.#pump();
    });
    this.#pump(); // another slot may be free
  }

  async #run(batch: Job[]): Promise<void> {
    const { effect } = batch[0];
    const s = effect.manifest.inputSize;
    const crop = s * s * 3;
    const started = performance.now();
    for (const job of batch) this.metrics?.queueWaitSeconds.observe((started - job.arrived) / 1000);
    const input: HostTensor = {
      shape: [batch.length, s, s, 3],
      data: new Float32Array(batch.length * crop),
    };
    batch.forEach((job, i) => input.data.set(job.input, i * crop));
    try {
      const output = await this.backend.run(effect, input);
      const ms = performance.now() - started;
      this.#msPerCrop = 0.8 * this.#msPerCrop + 0.2 * (ms / batch.length);
      const labels = { effect: effect.id, backend: this.backend.name };
      this.metrics?.inferenceSeconds.observe(ms / 1000, labels);
      this.metrics?.batchSize.observe(batch.length, { effect: effect.id });
      batch.forEach((job, i) => {
        if (job.done) return;
        job.done = true;
        job.resolve(output.data.slice(i * crop, (i + 1) * crop));
      });
    } catch (e) {
      // Inference failed for the whole batch: an internal error, never the client's fault.
      const error = e instanceof Error ? e : new Error(String(e));
      console.error(`inference failed for ${effect.id} (batch ${batch.length}): ${error.message}`);
      for (const job of batch) {
        if (job.done) continue;
        job.done = true;
        job.reject(error);
      }
    }
  }
}
