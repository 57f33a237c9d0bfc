// The trainer: batches of (input, target) crops through the training executor, one submit per step
// (forward, loss, backward, Adam), losses read back every N steps, a progress line with ETA,
// checkpoints that resume bit for bit (weights, Adam moments, step, the sampler's RNG), validation,
// loss curves and a validation grid written as PNGs.

import { join } from "node:path";
import type { Gpu } from "../runtime/device.ts";
import type { Weights } from "../runtime/executor.ts";
import type { Tuning } from "../runtime/tuning.ts";
import { encodePng, type RgbaImage } from "../media/codec.ts";
import {
  buildStudent,
  DEFAULT_STUDENT,
  type StudentConfig,
  validateStudentConfig,
} from "../graph/student.ts";
import { initWeights } from "../graph/weights.ts";
import { decodeCheckpoint, encodeCheckpoint, type LossPoint } from "./checkpoint.ts";
import { type Dataset, Sampler, stack, tensorToRgba } from "./data.ts";
import { TrainingExecutor } from "./executor.ts";
import { DEFAULT_LOSS, type LossConfig } from "./losses.ts";
import { type AdamConfig, DEFAULT_ADAM, learningRate } from "./optimizer.ts";
import { planTraining } from "./plan.ts";
import { imageGrid, plotCurves, type Series } from "./plot.ts";
import { Progress } from "./progress.ts";

export interface TrainConfig {
  student: StudentConfig;
  batch: number;
  /** Total optimizer steps (the learning-rate schedule spans them). */
  steps: number;
  seed: number;
  loss: LossConfig;
  optimizer: AdamConfig;
  /** Losses are read back (a GPU sync) every this many steps; every step's loss is kept. */
  readEvery: number;
  /** 0: only when asked. */
  checkpointEvery: number;
  validateEvery: number;
  /** Random horizontal flips of input and target together. */
  flip: boolean;
}

/** The default student at 128² crops, 10k steps of batch 4. */
export const DEFAULT_TRAIN: TrainConfig = {
  student: { ...DEFAULT_STUDENT, inputSize: 128 },
  batch: 4,
  steps: 10_000,
  seed: 1,
  loss: DEFAULT_LOSS,
  optimizer: DEFAULT_ADAM,
  readEvery: 25,
  checkpointEvery: 1000,
  validateEvery: 500,
  flip: false,
};

export interface TrainerOptions {
  /** Validation crops (a few are enough for the grid). */
  validation?: Dataset;
  /** A checkpoint to resume from (its configuration must match). */
  resume?: Uint8Array;
  /** Start weights (default: initWeights(graph, seed)). */
  weights?: Weights;
  tuning?: Tuning;
  /** Where checkpoint.safetensors, loss.png and validation.png go (nothing written without it). */
  outDir?: string;
  /** Progress line: true, false, or options for tests. */
  progress?: boolean | { write: (text: string) => void; tty?: boolean };
}

export class Trainer {
  #step: number;
  #history: LossPoint[];
  #validation: LossPoint[];
  #lastLoss: number | undefined;

  private constructor(
    readonly config: TrainConfig,
    readonly data: Dataset,
    readonly exec: TrainingExecutor,
    private readonly sampler: Sampler,
    private readonly options: TrainerOptions,
    state: { step: number; history: LossPoint[]; validation: LossPoint[] },
  ) {
    this.#step = state.step;
    this.#history = state.history;
    this.#validation = state.validation;
  }

  static async create(
    gpu: Gpu,
    data: Dataset,
    config: TrainConfig,
    options: TrainerOptions = {},
  ): Promise<Trainer> {
    validateStudentConfig(config.student);
    const s = config.student.inputSize;
    if (data.width !== s || data.height !== s) {
      throw new Error(`the data is ${data.width}×${data.height}, the student takes ${s}×${s}`);
    }
    if (!(Number.isInteger(config.batch) && config.batch >= 1)) {
      throw new Error(`batch ${config.batch} is not a positive whole number`);
    }
    if (!(Number.isInteger(config.readEvery) && config.readEvery >= 1)) {
      throw new Error(`readEvery ${config.readEvery} is not a positive whole number`);
    }
    const graph = buildStudent(config.student, config.batch);
    const plan = planTraining(graph);
    let weights = options.weights ?? initWeights(graph, config.seed);
    let moments: { m: Weights; v: Weights } | undefined;
    let sampler = new Sampler(data, config.seed, { flip: config.flip });
    let state = { step: 0, history: [] as LossPoint[], validation: [] as LossPoint[] };
    if (options.resume) {
      const c = decodeCheckpoint(options.resume);
      const differs = resumeMismatch(c.config as TrainConfig, config);
      if (differs) throw new Error(`the checkpoint was made with a different ${differs}`);
      weights = c.weights;
      moments = c.moments;
      sampler = Sampler.restore(data, c.sampler);
      state = { step: c.step, history: c.history, validation: c.validation };
    }
    const exec = await TrainingExecutor.create(gpu, plan, weights, {
      loss: config.loss,
      optimizer: config.optimizer,
      tuning: options.tuning,
      ring: config.readEvery,
    });
    if (moments) exec.writeState(weights, moments);
    return new Trainer(config, data, exec, sampler, options, state);
  }

  get step(): number {
    return this.#step;
  }

  /** Every step's loss so far (read back in blocks of readEvery). */
  get history(): readonly LossPoint[] {
    return this.#history;
  }

  get validation(): readonly LossPoint[] {
    return this.#validation;
  }

  /**
   * Trains until step `until` (default: the configured total). Steps are queued back to back with
   * one in flight, so the CPU prepares the next batch while the adapter runs this one.
   */
  async run(until = this.config.steps): Promise<void> {
    const c = this.config;
    const progress = this.#progress(until);
    let inFlight: Promise<void> | undefined;
    let readFrom = this.#step + 1;
    while (this.#step < until) {
      const t = this.#step + 1;
      const { inputs, targets } = this.sampler.next(c.batch);
      this.exec.writeBatch(inputs, targets);
      this.exec.step(t, learningRate(c.optimizer, t, c.steps));
      const done = this.exec.done();
      await inFlight;
      inFlight = done;
      this.#step = t;
      const last = t === until;
      if (t % c.readEvery === 0 || last) {
        await this.#collect(readFrom, t);
        readFrom = t + 1;
      }
      progress?.update(t, this.#lastLoss);
      if (c.validateEvery > 0 && t % c.validateEvery === 0 && this.options.validation) {
        const v = await this.validate();
        progress?.log(
          `step ${t}: validation loss ${v.total.toPrecision(4)} (l1 ${v.l1.toPrecision(3)})`,
        );
      }
      if (c.checkpointEvery > 0 && t % c.checkpointEvery === 0 && this.options.outDir) {
        await this.writeOutputs();
      }
    }
    await inFlight;
    progress?.finish(this.#lastLoss);
  }

  async #collect(from: number, to: number) {
    const ring = await this.exec.readLossRing();
    for (let s = from; s <= to; s++) {
      const r = ring[s % this.config.readEvery];
      this.#history.push({ step: s, ...r });
      this.#lastLoss = r.total;
    }
    const bad = this.#history.slice(-(to - from + 1)).find((p) => !Number.isFinite(p.total));
    if (bad) throw new Error(`the loss diverged at step ${bad.step} (${bad.total})`);
  }

  #progress(until: number): Progress | undefined {
    const p = this.options.progress ?? true;
    if (p === false) return undefined;
    return new Progress({
      total: until,
      start: this.#step,
      ...(p === true ? {} : p),
    });
  }

  /** Mean loss over the validation set (whole batches, the last one padded by repetition). */
  async validate(): Promise<LossPoint> {
    const val = this.options.validation;
    if (!val) throw new Error("no validation data");
    const b = this.config.batch;
    const sums = { l1: 0, ssim: 0, edge: 0, total: 0 };
    const batches = Math.ceil(val.size / b);
    for (let i = 0; i < batches; i++) {
      const indices = Array.from({ length: b }, (_, k) => Math.min(i * b + k, val.size - 1));
      const { inputs, targets } = stack(val, indices);
      const r = await this.exec.evaluate(inputs, targets);
      for (const k of ["l1", "ssim", "edge", "total"] as const) sums[k] += r[k] / batches;
    }
    const point = { step: this.#step, ...sums };
    this.#validation.push(point);
    return point;
  }

  /** Student outputs for validation (or training) samples, as RGBA crops. */
  async predict(data: Dataset, indices: readonly number[]): Promise<RgbaImage[]> {
    const b = this.config.batch, s = this.config.student.inputSize;
    const norm = this.config.loss.normalization;
    const out: RgbaImage[] = [];
    for (let i = 0; i < indices.length; i += b) {
      const chunk = indices.slice(i, i + b);
      const padded = Array.from({ length: b }, (_, k) => chunk[Math.min(k, chunk.length - 1)]);
      const { inputs } = stack(data, padded);
      const y = await this.exec.predict(inputs);
      for (let k = 0; k < chunk.length; k++) {
        out.push(tensorToRgba(y.data.subarray(k * s * s * 3, (k + 1) * s * s * 3), s, s, norm));
      }
    }
    return out;
  }

  /** Rows of input | teacher | student for the first `count` validation crops. */
  async validationGrid(count = 6): Promise<RgbaImage> {
    const data = this.options.validation ?? this.data;
    const indices = Array.from({ length: Math.min(count, data.size) }, (_, i) => i);
    const students = await this.predict(data, indices);
    const s = this.config.student.inputSize;
    const norm = this.config.loss.normalization;
    const rows = indices.map((index, i) => {
      const sample = data.get(index);
      return [
        tensorToRgba(sample.input, s, s, norm),
        tensorToRgba(sample.target, s, s, norm),
        students[i],
      ];
    });
    return imageGrid(rows);
  }

  /** Loss curves (training every step, smoothed; validation points) as a PNG. */
  lossCurves(): RgbaImage {
    const smooth = (key: "total" | "l1" | "ssim" | "edge") => {
      const out: [number, number][] = [];
      let ema: number | undefined;
      for (const p of this.#history) {
        ema = ema === undefined ? p[key] : 0.9 * ema + 0.1 * p[key];
        out.push([p.step, ema]);
      }
      return out;
    };
    const c = this.config.loss;
    const series: Series[] = [{ name: "total", color: [20, 20, 20], points: smooth("total") }];
    if (c.l1 > 0) series.push({ name: "l1", color: [31, 119, 180], points: smooth("l1") });
    if (c.ssim > 0) series.push({ name: "1-ssim", color: [44, 160, 44], points: smooth("ssim") });
    if (c.edge > 0) series.push({ name: "edge", color: [255, 127, 14], points: smooth("edge") });
    series.push({
      name: "val",
      color: [214, 39, 40],
      points: this.#validation.map((p) => [p.step, p.total]),
    });
    return plotCurves(series, { title: `loss (step ${this.#step})` });
  }

  /** The resumable state as a checkpoint (waits for queued steps). */
  async checkpoint(): Promise<Uint8Array> {
    await this.exec.done();
    return encodeCheckpoint({
      step: this.#step,
      weights: await this.exec.readWeights(),
      moments: await this.exec.readMoments(),
      sampler: this.sampler.state,
      history: this.#history,
      validation: this.#validation,
      config: this.config,
    });
  }

  weights(): Promise<Weights> {
    return this.exec.readWeights();
  }

  /** checkpoint.safetensors, loss.png and validation.png into outDir (atomically replaced). */
  async writeOutputs(): Promise<void> {
    const dir = this.options.outDir;
    if (!dir) throw new Error("no outDir");
    await Deno.mkdir(dir, { recursive: true });
    const write = async (name: string, bytes: Uint8Array) => {
      const tmp = join(dir, `.${name}.tmp`);
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, join(dir, name));
    };
    await write("checkpoint.safetensors", await this.checkpoint());
    await write("loss.png", encodePng(this.lossCurves()));
    await write("validation.png", encodePng(await this.validationGrid()));
  }

  dispose(): void {
    this.exec.dispose();
  }
}

/** The first setting that must match for a checkpoint to resume this run, or undefined. */
function resumeMismatch(saved: TrainConfig, now: TrainConfig): string | undefined {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const key of ["student", "batch", "steps", "seed", "loss", "optimizer", "flip"] as const) {
    if (!same(saved[key], now[key])) return key;
  }
  return undefined;
}
