// Kernel autotuning on the current adapter, the same code in Deno and the browser: for every
// distinct op shape of the given programs, time each registry variant that applies (register vs
// workgroup-memory tiles, tile sizes, f16 where the device has shader-f16), then sweep the
// workgroup size of the fastest few, and keep the fastest configuration in a Tuning table.
//
// Timing: a step runs alone on dense tensors, replayed N times in one submit (N grows until the
// replays last `minSampleMs`). Where the device has timestamp-query, the GPU's own clock times the
// replays: wall-clock samples are quantised by the host's completion polling (Deno polls its
// WebGPU device every ~10 ms), which would swamp sub-millisecond kernels. Without timestamps,
// wall time minus the latency of an empty submit. The median of `repeats` samples.

import type { Gpu } from "./device.ts";
import { GpuExecutor, resolveStep, singleStepProgram, type Weights } from "./executor.ts";
import { PipelineCache } from "./pipelines.ts";
import type { Program } from "./program.ts";
import { shapeText } from "./tensor.ts";
import {
  applicableVariants,
  chooseVariant,
  stepKey,
  tunableWorkgroupSize,
  type TunedChoice,
  type Tuning,
} from "./tuning.ts";

export interface TimingOptions {
  /** Samples per measurement; the median is kept (default 5). */
  repeats?: number;
  /** Each sample replays until it lasts at least this long (default 4 ms, 25 ms without timestamps). */
  minSampleMs?: number;
  /** Latency of an empty submit, subtracted from wall-clock samples (see submitLatency). */
  latencyMs?: number;
  /** Force wall-clock timing even where timestamp queries exist. */
  wallClock?: boolean;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Records work into an encoder; the first and last pass carry the given timestamp writes. */
export type Encode = (
  encoder: GPUCommandEncoder,
  timestampWrites?: GPUComputePassTimestampWrites,
) => void;

const timers = new WeakMap<GPUDevice, { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer }>();

function timer(device: GPUDevice) {
  let t = timers.get(device);
  if (!t) {
    t = {
      set: device.createQuerySet({ type: "timestamp", count: 2 }),
      resolve: device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      read: device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
    };
    timers.set(device, t);
  }
  return t;
}

/** Milliseconds per replay of whatever `encode` records, median of `repeats` samples. */
export async function timeReplays(
  device: GPUDevice,
  encode: Encode | undefined,
  options: TimingOptions = {},
): Promise<number> {
  const repeats = options.repeats ?? 5;
  const gpuClock = encode !== undefined && !options.wallClock &&
    device.features.has("timestamp-query");
  const minSampleMs = options.minSampleMs ?? (gpuClock ? 4 : 25);
  /** One sample: [GPU or wall milliseconds for `times` replays]. */
  const replay = async (times: number): Promise<number> => {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    const t = gpuClock ? timer(device) : undefined;
    for (let i = 0; i < times; i++) {
      const writes: GPUComputePassTimestampWrites | undefined = t && (i === 0 || i === times - 1)
        ? {
          querySet: t.set,
          ...(i === 0 ? { beginningOfPassWriteIndex: 0 } : {}),
          ...(i === times - 1 ? { endOfPassWriteIndex: 1 } : {}),
        }
        : undefined;
      encode?.(encoder, writes);
    }
    if (t) {
      encoder.resolveQuerySet(t.set, 0, 2, t.resolve, 0);
      encoder.copyBufferToBuffer(t.resolve, 0, t.read, 0, 16);
    }
    device.queue.submit([encoder.finish()]);
    if (!t) {
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    }
    await t.read.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigInt64Array(t.read.getMappedRange().slice(0));
    t.read.unmap();
    return Number(end - begin) / 1e6;
  };
  await replay(1); // warm-up: first-use costs (caches, lazy allocation)
  let times = 1;
  while (times < 4096 && (await replay(times)) < minSampleMs) times *= 2;
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push(await replay(times));
  const latency = gpuClock ? 0 : options.latencyMs ?? 0;
  return Math.max(median(samples) - latency, 0) / times;
}

/** The fixed cost of a submit + wait with nothing in it (wall clock). */
export function submitLatency(device: GPUDevice, repeats = 9): Promise<number> {
  return timeReplays(device, undefined, { repeats, minSampleMs: 0 });
}

export interface AutotuneOptions {
  /** Workgroup sizes to sweep (default 16..256, capped by the device's limits). */
  workgroupSizes?: number[];
  /** How many of the fastest variants get the workgroup sweep (default 2). */
  sweepTop?: number;
  /** Repeats of the search samples (default 3) and of the final confirmation (default 5). */
  searchRepeats?: number;
  repeats?: number;
  minSampleMs?: number;
  /**
   * Cold-start-aware choice: any configuration within this fraction of a shape's fastest (default
   * 0.1) may stand in for it, and the table takes the fewest distinct pipelines that cover every
   * shape (see sharePipelines), since each one is a shader compile at load (~0.1 s on SwiftShader).
   */
  shareWithin?: number;
  /**
   * Also within this many ms of a shape's fastest (default 0.05): small kernels otherwise kept
   * workgroup-size twins that differ by tens of µs, each another compile (~12 ms on llvmpipe, as
   * much as 240 frames of a 0.05 ms difference).
   */
  shareSlackMs?: number;
  /**
   * Frames over which a pipeline's compile time counts against its speed (default 600: 20 s at 30
   * fps): a configuration's cost is its time + compile / horizon. On SwiftShader the fused
   * depthwise + projection kernel with the largest tile compiles in 1.7 s, 2.8 ms a frame so
   * spread, where a small one takes 0.16 s; on llvmpipe 38 against 20 ms, tens of µs a frame.
   */
  compileHorizonFrames?: number;
  progress?: (text: string) => void;
  pipelines?: PipelineCache;
}

/** One configuration timed on one op shape. */
export interface TuneMeasurement {
  key: string;
  op: string;
  label: string;
  /** "in,in→out" */
  shape: string;
  variant: string;
  /** The workgroup size it ran with. */
  wg: number | undefined;
  ms: number;
  flops: number;
  bytes: number;
  /** Chosen for this shape. */
  best: boolean;
  /** Re-measured with the full repeats as one of the shape's finalists (only these compete). */
  confirmed?: boolean;
  /** Kernel + precision + override constants: equal keys share one compiled pipeline. */
  pipeline?: string;
  /** How long that pipeline took to compile here. */
  compileMs?: number;
  /** "f16" for an f16 variant, whose roofline is the f16 peak. */
  precision?: "f16";
  /** Set when the variant failed to build or run here (then ms is Infinity). */
  error?: string;
}

interface Config {
  variant: string;
  /** The workgroup size to run with; `own` is the variant's unless swept. */
  wg: number | undefined;
  own: number | undefined;
}

/** Tunes every distinct op shape of `programs`; returns the table and every measurement. */
export async function autotune(
  gpu: Gpu,
  programs: { program: Program; weights: Weights }[],
  options: AutotuneOptions = {},
): Promise<{ tuning: Tuning; measurements: TuneMeasurement[] }> {
  const { device } = gpu;
  const limits = device.limits;
  const maxWg = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const sizes = (options.workgroupSizes ?? [16, 32, 64, 128, 256]).filter((s) => s <= maxWg);
  const pipelines = options.pipelines ?? new PipelineCache(device);
  const latencyMs = await submitLatency(device);
  const search = {
    repeats: options.searchRepeats ?? 3,
    minSampleMs: options.minSampleMs,
    latencyMs,
  };
  const confirm = { ...search, repeats: options.repeats ?? 5 };

  // Distinct shapes, in program order, with the program that first has them.
  const seen = new Map<string, { program: Program; weights: Weights; index: number }>();
  for (const { program, weights } of programs) {
    program.steps.forEach((step, index) => {
      if (step.elided) return;
      const { op, ctx } = resolveStep(program, step, weights);
      if (!seen.has(stepKey(op, ctx))) seen.set(stepKey(op, ctx), { program, weights, index });
    });
  }

  const choices: Record<string, TunedChoice> = {};
  const measurements: TuneMeasurement[] = [];
  /** Pipeline key → its compile time, taken the first time a configuration needs it. */
  const compiled = new Map<string, number>();
  /** Per shape: every configuration that ran, finalists with their confirmed times. */
  const ran = new Map<string, TuneMeasurement[]>();
  /** `${key}|${variant}` → the variant's own workgroup size. */
  const owns = new Map<string, number | undefined>();
  let done = 0;
  for (const [key, { program, weights, index }] of seen) {
    const step = program.steps[index];
    const { op, ctx, params } = resolveStep(program, step, weights);
    // The step alone, on dense tensors of the same shapes (keys ignore layouts).
    const single = singleStepProgram(
      step.op,
      step.attrs,
      ctx.inputs.map((t) => t.shape),
      step.params,
    );
    const singleCtx = {
      ...ctx,
      inputs: single.tensors.slice(0, -1),
      output: single.tensors.at(-1)!,
    };
    const { flops, bytes } = op.cost(singleCtx);
    const shape = ctx.inputs.map((t) => shapeText(t.shape)).join(",") + "→" +
      shapeText(ctx.output.shape);
    const label = step.label ?? step.op;
    done++;

    const timed = new Map<string, TuneMeasurement>();
    const measure = async (config: Config, timing: TimingOptions) => {
      const id = `${config.variant}/${config.wg}`;
      options.progress?.(`tune ${done}/${seen.size} ${label}: ${config.variant} wg ${config.wg}`);
      const row: TuneMeasurement = {
        key,
        op: step.op,
        label,
        shape,
        variant: config.variant,
        wg: config.wg,
        ms: Infinity,
        flops,
        bytes,
        best: false,
      };
      const swept = config.wg !== config.own;
      const choice: TunedChoice = { variant: config.variant, ...(swept ? { wg: config.wg } : {}) };
      try {
        const tuning = { adapter: gpu.key, choices: { [key]: choice } };
        const chosen = chooseVariant(op, singleCtx, tuning, device.features);
        const overrides = chosen.overrides(singleCtx);
        const generated = chosen.bake?.(singleCtx, op.packParams(params, singleCtx)) ?? "";
        const { kernel, precision } = chosen;
        row.pipeline = PipelineCache.key(kernel, op.struct, overrides, precision, generated);
        if (!compiled.has(row.pipeline)) {
          const start = performance.now();
          await pipelines.get(kernel, op.struct, overrides, precision, generated);
          compiled.set(row.pipeline, performance.now() - start);
        }
        row.compileMs = compiled.get(row.pipeline);
        if (chosen.precision === "f16") row.precision = "f16";
        const executor = await GpuExecutor.create(gpu, single, weights, { pipelines, tuning });
        const ran = executor.variants[0].variant;
        try {
          const expected = swept ? `${config.variant}/wg${config.wg}` : config.variant;
          if (ran !== expected) throw new Error(`asked for ${expected}, the executor chose ${ran}`);
          row.ms = await timeReplays(device, (e, t) => executor.encode(e, t), timing);
        } finally {
          executor.dispose();
        }
      } catch (e) {
        row.error = (e as Error).message;
      }
      const previous = timed.get(id);
      // A confirmation replaces the search sample (more repeats), keeping one row per config.
      if (previous) Object.assign(previous, { ms: row.ms, error: row.error, confirmed: true });
      else timed.set(id, row);
      return row;
    };

    const variants = applicableVariants(op, singleCtx, device.features);
    const configOf = (name: string, wg?: number): Config => {
      const variant = variants.find((v) => v.name === name)!;
      const own = tunableWorkgroupSize(variant, singleCtx);
      owns.set(`${key}|${name}`, own);
      return { variant: name, own, wg: wg ?? own };
    };
    for (const v of variants) await measure(configOf(v.name), search);

    // Workgroup sweep of the fastest variants that allow it.
    const finite = () =>
      [...timed.values()].filter((r) => Number.isFinite(r.ms)).sort((a, b) => a.ms - b.ms);
    for (const row of finite().slice(0, options.sweepTop ?? 2)) {
      const config = configOf(row.variant);
      if (config.own === undefined) continue;
      for (const wg of sizes) {
        if (wg !== config.own) await measure(configOf(row.variant, wg), search);
      }
    }

    // Confirm the three fastest with more repeats, in rounds (A, B, C, A, B, C, …): on a shared
    // machine a burst of contention then hits every finalist alike instead of deciding the race.
    const top = finite().slice(0, 3);
    if (top.length === 0) throw new Error(`${label}: no variant of ${op.name} ran on this adapter`);
    const finalists: { row: TuneMeasurement; executor: GpuExecutor; samples: number[] }[] = [];
    try {
      for (const row of top) {
        const config = configOf(row.variant, row.wg);
        const swept = config.wg !== config.own;
        const choice = { variant: config.variant, ...(swept ? { wg: config.wg } : {}) };
        const tuning = { adapter: gpu.key, choices: { [key]: choice } };
        const executor = await GpuExecutor.create(gpu, single, weights, { pipelines, tuning });
        finalists.push({ row, executor, samples: [] });
      }
      options.progress?.(`tune ${done}/${seen.size} ${label}: confirming ${finalists.length}`);
      for (let round = 0; round < confirm.repeats; round++) {
        for (const f of finalists) {
          const encode = (e: GPUCommandEncoder, t?: GPUComputePassTimestampWrites) =>
            f.executor.encode(e, t);
          f.samples.push(await timeReplays(device, encode, { ...confirm, repeats: 1 }));
        }
      }
    } finally {
      for (const f of finalists) f.executor.dispose();
    }
    for (const f of finalists) Object.assign(f.row, { ms: median(f.samples), confirmed: true });
    ran.set(key, finite());
    measurements.push(...timed.values());
  }
  options.progress?.("");

  const shared = sharePipelines(
    ran,
    options.shareWithin ?? 0.1,
    options.shareSlackMs ?? 0.05,
    options.compileHorizonFrames ?? 600,
  );
  for (const [key, pick] of shared) {
    for (const m of measurements) if (m.key === key) m.best = m === pick;
    choices[key] = {
      variant: pick.variant,
      ...(pick.wg !== undefined && pick.wg !== owns.get(`${key}|${pick.variant}`)
        ? { wg: pick.wg }
        : {}),
      ms: Number(pick.ms.toFixed(4)),
    };
  }
  return { tuning: { adapter: gpu.key, source: "measured", choices }, measurements };
}

/**
 * Picks one configuration per shape so that the table needs few distinct pipelines. A
 * configuration's cost is its time plus its pipeline's compile time spread over `horizonFrames`;
 * any configuration within `within` (a fraction) or `slackMs` of its shape's cheapest qualifies,
 * and a greedy set cover takes, again and again, the pipeline that the most uncovered shapes
 * qualify for (ties: the least total time), each of those shapes running its fastest
 * configuration of it. No shape costs more than its cheapest × (1 + within) or + slackMs,
 * whichever allows more.
 */
export function sharePipelines<Row extends { ms: number; pipeline?: string; compileMs?: number }>(
  candidates: Map<string, Row[]>,
  within: number,
  slackMs = 0,
  horizonFrames = Infinity,
): Map<string, Row> {
  const cost = (r: Row) => r.ms + (r.compileMs ?? 0) / horizonFrames;
  const qualifying = new Map<string, Row[]>();
  for (const [key, rows] of candidates) {
    const ok = rows.filter((r) => Number.isFinite(r.ms));
    const cheapest = Math.min(...ok.map(cost));
    const limit = Math.max(cheapest * (1 + within), cheapest + slackMs);
    qualifying.set(key, ok.filter((r) => cost(r) <= limit));
  }
  const picks = new Map<string, Row>();
  const fastestOn = (key: string, pipeline: string | undefined) =>
    qualifying.get(key)!.filter((r) => r.pipeline === pipeline)
      .reduce<Row | undefined>((a, b) => (a && a.ms <= b.ms ? a : b), undefined);
  const uncovered = new Set([...qualifying.keys()].filter((k) => qualifying.get(k)!.length));
  while (uncovered.size) {
    const score = new Map<string | undefined, { shapes: number; ms: number }>();
    for (const key of uncovered) {
      for (const pipeline of new Set(qualifying.get(key)!.map((r) => r.pipeline))) {
        const s = score.get(pipeline) ?? { shapes: 0, ms: 0 };
        score.set(pipeline, { shapes: s.shapes + 1, ms: s.ms + fastestOn(key, pipeline)!.ms });
      }
    }
    const [pipeline] = [...score].reduce((a, b) =>
      b[1].shapes > a[1].shapes || (b[1].shapes === a[1].shapes && b[1].ms < a[1].ms) ? b : a
    );
    for (const key of [...uncovered]) {
      const row = fastestOn(key, pipeline);
      if (!row) continue;
      picks.set(key, row);
      uncovered.delete(key);
    }
  }
  // In the candidates' order (program order), for a readable table.
  return new Map([...candidates.keys()].filter((k) => picks.has(k)).map((k) => [k, picks.get(k)!]));
}
