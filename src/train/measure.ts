// Measures training step time on this machine's adapter: the student (or a width/size/batch
// variant) trained on random data, steps timed end to end (median), and optionally every dispatch
// timed alone, grouped by kind, to show where a step's time goes.
//
//   deno run -A src/train/measure.ts --width 1 --size 128 --batch 4 --steps 10 [--profile]

import { parseArgs } from "node:util";
import { acquireGpu } from "../runtime/device.ts";
import { DEFAULT_STUDENT } from "../graph/student.ts";
import { buildStudent } from "../graph/student.ts";
import { initWeights } from "../graph/weights.ts";
import { plan } from "../graph/planner.ts";
import { hostTensor } from "../runtime/tensor.ts";
import { loadTuning, type Tuning } from "../runtime/tuning.ts";
import { TrainingExecutor } from "./executor.ts";
import { DEFAULT_LOSS } from "./losses.ts";
import { DEFAULT_ADAM } from "./optimizer.ts";
import { type BackwardTask, isClear, planTraining } from "./plan.ts";
import { getGradOp } from "./grad_ops/index.ts";
import { encodeDispatches, Recorder } from "./gpu.ts";
import { layoutParams } from "./params.ts";
import { applicableGradVariants, gradStepKey, recordGradTask, resolveGradTask } from "./record.ts";
import { PipelineCache } from "../runtime/pipelines.ts";
import { layoutFloats } from "../runtime/tensor.ts";
import type { TensorRef } from "../runtime/ops/types.ts";

export interface StepTiming {
  adapter: string;
  width: number;
  size: number;
  batch: number;
  dispatches: number;
  /** Forward GFLOP per step (multiply-add = 2), from the planner. */
  forwardGflop: number;
  medianMs: number;
  minMs: number;
  /** The same program's forward pass alone, for the backward : forward ratio. */
  forwardMedianMs: number;
  steps: number;
}

export async function measureStep(
  o: { width: number; size: number; batch: number; steps: number; profile?: boolean },
): Promise<{ timing: StepTiming; profile?: { label: string; ms: number }[] }> {
  const gpu = await acquireGpu();
  const config = { ...DEFAULT_STUDENT, inputSize: o.size, width: o.width };
  const graph = buildStudent(config, o.batch);
  const training = planTraining(graph);
  const exec = await TrainingExecutor.create(gpu, training, initWeights(graph, 1), {
    loss: DEFAULT_LOSS,
    optimizer: DEFAULT_ADAM,
    tuning: await loadTuning(gpu.key, undefined, { isFallbackAdapter: gpu.info.isFallbackAdapter }),
  });
  try {
    const shape = [o.batch, o.size, o.size, 3] as const;
    const data = Float32Array.from(
      { length: shape.reduce((a, b) => a * b) },
      (_, i) => Math.sin(i),
    );
    exec.writeBatch(hostTensor(shape, data), hostTensor(shape, data.map((v) => 0.9 * v)));
    exec.step(1, 1e-3);
    await exec.done(); // warm-up
    // As the trainer runs: one step in flight while the next is queued (a software adapter's
    // completion callback alone costs ~10 ms); time per step over the run, and its spread.
    let t = 1;
    const times = await pipelinedTimes(o.steps, () => exec.step(++t, 1e-3), () => exec.done());
    const forward = await pipelinedTimes(o.steps, () => exec.forwardOnly(), () => exec.done());
    const timing: StepTiming = {
      adapter: gpu.key,
      width: o.width,
      size: o.size,
      batch: o.batch,
      dispatches: exec.dispatchCount,
      forwardGflop: plan(graph).stats.flops / 1e9,
      medianMs: times[times.length >> 1],
      minMs: times[0],
      forwardMedianMs: forward[forward.length >> 1],
      steps: o.steps,
    };
    return { timing, profile: o.profile ? await exec.profile() : undefined };
  } finally {
    exec.dispose();
    gpu.device.destroy();
  }
}

/**
 * Submits `n` times with one submission in flight while the next is queued; the sorted intervals
 * between completions, the first (which includes the pipeline filling) left out.
 */
async function pipelinedTimes(
  n: number,
  submit: () => void,
  done: () => Promise<void>,
): Promise<number[]> {
  const times: number[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let last = performance.now();
  for (let i = 0; i < n; i++) {
    submit();
    const next = done();
    await inFlight;
    inFlight = next;
    const now = performance.now();
    if (i > 0) times.push(now - last);
    last = now;
  }
  await inFlight;
  return times.sort((a, b) => a - b);
}

/**
 * Every variant of the backward tasks whose label matches `filter`, timed interleaved (A B A B …,
 * median of `rounds`) on random data, so a busy machine skews them alike.
 */
export async function compareVariants(
  o: { width: number; size: number; batch: number; filter: RegExp; rounds?: number },
): Promise<{ label: string; variant: string; splits: number; ms: number }[]> {
  const gpu = await acquireGpu();
  const { device } = gpu;
  const rec = new Recorder(device, new PipelineCache(device));
  const graph = buildStudent({ ...DEFAULT_STUDENT, inputSize: o.size, width: o.width }, o.batch);
  const p = planTraining(graph);
  const layout = layoutParams(p.forward);
  const random = (floats: number) =>
    rec.upload(Float32Array.from({ length: floats }, (_, i) => Math.sin(i * 0.37)), "data");
  const results: { label: string; variant: string; splits: number; ms: number }[] = [];
  try {
    const tasks = p.tasks.filter((t): t is BackwardTask => !isClear(t) && !t.elided);
    for (const task of tasks.filter((t) => o.filter.test(t.label))) {
      const row = getGradOp(task.row);
      const ref = (r: { kind: "act" | "grad"; id: number }): TensorRef =>
        r.kind === "act" ? p.forward.tensors[r.id] : p.grads[r.id];
      const base = {
        inputs: task.inputs.map(ref),
        output: task.output.kind === "grad" ? p.grads[task.output.id] : undefined,
        attrs: task.attrs,
        accumulate: task.accumulate,
      };
      const floats = task.output.kind === "param" ? layout.byName.get(task.output.name)!.floats : 0;
      const runs = await Promise.all(
        applicableGradVariants(row, { ...base, splits: 1 }).map(async (v) => {
          const { variant, ctx } = resolveGradTask(row, base, undefined, v.name);
          const out = base.output ? layoutFloats(base.output.shape, base.output.layout) : floats;
          const dispatches = await recordGradTask(rec, row, variant, ctx, {
            inputs: base.inputs.map((t) => random(layoutFloats(t.shape, t.layout))),
            params: task.params.map((n) => random(layout.byName.get(n)!.floats)),
            output: random(out),
            paramFloats: floats || undefined,
            partial: rec.buffer(Math.max(16, ctx.splits * floats * 4), "partial"),
          }, task.label);
          return { variant: v.name, splits: ctx.splits, dispatches, times: [] as number[] };
        }),
      );
      for (let r = 0; r < (o.rounds ?? 5); r++) {
        for (const run of runs) {
          const encoder = device.createCommandEncoder();
          for (let k = 0; k < 4; k++) encodeDispatches(encoder, run.dispatches);
          const t0 = performance.now();
          device.queue.submit([encoder.finish()]);
          await device.queue.onSubmittedWorkDone();
          run.times.push((performance.now() - t0) / 4);
        }
      }
      for (const run of runs) {
        const ms = run.times.sort((a, b) => a - b)[run.times.length >> 1];
        results.push({ label: task.label, variant: run.variant, splits: run.splits, ms });
      }
    }
  } finally {
    rec.destroy();
    device.destroy();
  }
  return results;
}

/**
 * The first-generation backward kernels (per-block reductions, per-tap gathers, a separate act'
 * pass) as a tuning table, to measure what the register-blocked defaults gain side by side.
 */
function baselineTuning(p: ReturnType<typeof planTraining>, adapter: string): Tuning {
  const choices: Record<string, string> = {};
  for (const task of p.tasks) {
    if (isClear(task) || task.elided) continue;
    const row = getGradOp(task.row);
    const ref = (r: { kind: "act" | "grad"; id: number }): TensorRef =>
      r.kind === "act" ? p.forward.tensors[r.id] : p.grads[r.id];
    const base = {
      inputs: task.inputs.map(ref),
      output: task.output.kind === "grad" ? p.grads[task.output.id] : undefined,
      attrs: task.attrs,
      accumulate: task.accumulate,
    };
    const a = task.attrs as { k?: number; stride?: number };
    const pointwise = a.k === 1 && a.stride === 1;
    const old: Record<string, string> = {
      "conv2d.grad_input": pointwise ? "pw_reg_8x2" : "direct",
      "conv2d.grad_weight": "split256_2q",
      "depthwise_conv2d.grad_input": "direct",
      "depthwise_conv2d.grad_weight": "split256",
      "conv.grad_bias": "split256",
    };
    if (old[task.row]) choices[gradStepKey(row, base)] = old[task.row];
  }
  return { adapter, choices };
}

/** Steps/s of the current defaults against the first-generation kernels, interleaved. */
export async function compareBaseline(
  o: { width: number; size: number; batch: number; rounds: number; steps: number },
): Promise<{ baselineMs: number; currentMs: number }> {
  const gpu = await acquireGpu();
  const config = { ...DEFAULT_STUDENT, inputSize: o.size, width: o.width };
  const graph = buildStudent(config, o.batch);
  const tuning = await loadTuning(gpu.key, undefined, {
    isFallbackAdapter: gpu.info.isFallbackAdapter,
  });
  const make = async (baseline: boolean) => {
    const p = planTraining(graph, { foldActivations: !baseline });
    const backward = baseline ? baselineTuning(p, gpu.key) : undefined;
    const merged = { adapter: gpu.key, choices: { ...tuning?.choices, ...backward?.choices } };
    return await TrainingExecutor.create(gpu, p, initWeights(graph, 1), {
      loss: DEFAULT_LOSS,
      optimizer: DEFAULT_ADAM,
      tuning: merged,
    });
  };
  const execs = [await make(true), await make(false)];
  const shape = [o.batch, o.size, o.size, 3] as const;
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i));
  const times: number[][] = [[], []];
  try {
    for (const e of execs) {
      e.writeBatch(
        hostTensor(shape, data),
        hostTensor(shape, data.map((v) => 0.9 * v)),
      );
    }
    for (let r = 0; r < o.rounds; r++) {
      for (const [k, e] of execs.entries()) {
        e.step(1, 1e-3);
        await e.done();
        const t0 = performance.now();
        let inFlight: Promise<void> = Promise.resolve();
        for (let t = 2; t < 2 + o.steps; t++) {
          e.step(t, 1e-3);
          const done = e.done();
          await inFlight;
          inFlight = done;
        }
        await inFlight;
        times[k].push((performance.now() - t0) / o.steps);
      }
    }
  } finally {
    for (const e of execs) e.dispose();
    gpu.device.destroy();
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
  return { baselineMs: median(times[0]), currentMs: median(times[1]) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      width: { type: "string", default: "1" },
      size: { type: "string", default: "128" },
      batch: { type: "string", default: "4" },
      steps: { type: "string", default: "10" },
      profile: { type: "boolean", default: false },
      variants: { type: "string" },
      baseline: { type: "boolean", default: false },
    },
  });
  if (values.baseline) {
    const r = await compareBaseline({
      width: Number(values.width),
      size: Number(values.size),
      batch: Number(values.batch),
      rounds: 5,
      steps: Number(values.steps),
    });
    console.log(JSON.stringify({ ...r, speedup: r.baselineMs / r.currentMs }));
    Deno.exit(0);
  }
  if (values.variants) {
    const results = await compareVariants({
      width: Number(values.width),
      size: Number(values.size),
      batch: Number(values.batch),
      filter: new RegExp(values.variants),
    });
    for (const r of results) {
      console.log(
        `${r.label.padEnd(24)} ${r.variant.padEnd(16)} ${String(r.splits).padStart(4)} ${
          r.ms.toFixed(2).padStart(8)
        } ms`,
      );
    }
    Deno.exit(0);
  }
  const { timing, profile } = await measureStep({
    width: Number(values.width),
    size: Number(values.size),
    batch: Number(values.batch),
    steps: Number(values.steps),
    profile: values.profile,
  });
  console.log(JSON.stringify(timing));
  if (profile) {
    // Group by what the dispatch does: the label's last part names the kernel's role.
    const groups = new Map<string, { ms: number; n: number }>();
    const kind = (label: string) => {
      const role = label.split(".").at(-1)!;
      return /^(dW|db|dx|act'|residual'|dh|sum|clear)$/.test(role) || role.endsWith("'")
        ? `backward ${role}`
        : label.startsWith("loss")
        ? "loss"
        : label === "adam"
        ? "adam"
        : "forward";
    };
    for (const { label, ms } of profile) {
      const g = groups.get(kind(label)) ?? { ms: 0, n: 0 };
      groups.set(kind(label), { ms: g.ms + ms, n: g.n + 1 });
    }
    const total = profile.reduce((a, p) => a + p.ms, 0);
    console.log(`sum of dispatches alone: ${total.toFixed(1)} ms`);
    for (const [k, g] of [...groups].sort((a, b) => b[1].ms - a[1].ms)) {
      console.log(`${k.padEnd(22)} ${g.ms.toFixed(1).padStart(8)} ms  (${g.n} dispatches)`);
    }
    console.log("slowest dispatches:");
    for (const p of [...profile].sort((a, b) => b.ms - a.ms).slice(0, 15)) {
      console.log(`  ${p.label.padEnd(28)} ${p.ms.toFixed(2)} ms`);
    }
  }
}
