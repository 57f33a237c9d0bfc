// `deno task bench [--json FILE] [--sizes 128,256] [--repeats N]`: times every kernel variant on
// every distinct op shape of the default student, keeps the fastest per shape in the adapter's
// tuning file, then times the whole student with those choices (medians of repeats).

import { parseArgs } from "node:util";
import { acquireGpu, type Gpu } from "../src/runtime/device.ts";
import {
  GpuExecutor,
  resolveStep,
  singleStepProgram,
  type Weights,
} from "../src/runtime/executor.ts";
import type { Program } from "../src/runtime/program.ts";
import { shapeText } from "../src/runtime/tensor.ts";
import { applicableVariants, stepKey, type Tuning, TUNING_DIR } from "../src/runtime/tuning.ts";
import { plan } from "../src/graph/planner.ts";
import { buildStudent, DEFAULT_STUDENT } from "../src/graph/student.ts";
import { initWeights } from "../src/graph/weights.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "string" },
    sizes: { type: "string", default: "128,256" },
    repeats: { type: "string", default: "7" },
  },
});
const sizes = args.sizes.split(",").map(Number);
const repeats = Math.max(3, Number(args.repeats));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Median wall time of one replay. A submit-and-wait has a fixed latency (≈ 6 ms on lavapipe), so
 * each sample replays enough times to last ≥ 50 ms and subtracts the latency of an empty submit.
 */
async function timeExecutor(gpu: Gpu, executor?: GpuExecutor): Promise<number> {
  const replay = async (times: number) => {
    const t0 = performance.now();
    const encoder = gpu.device.createCommandEncoder();
    for (let i = 0; i < times; i++) executor?.encode(encoder);
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await replay(1); // warm-up
  let times = 1;
  while (times < 1024 && (await replay(times)) < 50) times *= 2;
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push(await replay(times));
  return Math.max(median(samples) - latency, 0) / times;
}

const progress = (text: string) =>
  Deno.stdout.isTerminal()
    ? Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${text}`))
    : undefined;

interface OpResult {
  op: string;
  label: string;
  shape: string;
  key: string;
  variant: string;
  ms: number;
  gflops: number;
  gbps: number;
  best: boolean;
}

async function benchOps(gpu: Gpu, programs: { program: Program; weights: Weights }[]) {
  const seen = new Map<string, { program: Program; weights: Weights; index: number }>();
  for (const { program, weights } of programs) {
    program.steps.forEach((step, index) => {
      const { op, ctx } = resolveStep(program, step, weights);
      seen.set(stepKey(op, ctx), { program, weights, index });
    });
  }
  const results: OpResult[] = [];
  const choices: Record<string, string> = {};
  let done = 0;
  for (const [key, { program, weights, index }] of seen) {
    const step = program.steps[index];
    const { op, ctx } = resolveStep(program, step, weights);
    // Time the step alone, on dense tensors of the same shapes.
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
    const rows: OpResult[] = [];
    for (const variant of applicableVariants(op, singleCtx)) {
      progress(`ops ${++done}: ${step.label} ${variant.name}`);
      const tuning = { adapter: gpu.key, choices: { [stepKey(op, singleCtx)]: variant.name } };
      const executor = await GpuExecutor.create(gpu, single, weights, { tuning });
      const ms = await timeExecutor(gpu, executor);
      executor.dispose();
      rows.push({
        op: step.op,
        label: step.label ?? step.op,
        shape: ctx.inputs.map((t) => shapeText(t.shape)).join(",") + "→" +
          shapeText(ctx.output.shape),
        key,
        variant: variant.name,
        ms,
        gflops: flops / ms / 1e6,
        gbps: bytes / ms / 1e6,
        best: false,
      });
    }
    const best = rows.reduce((a, b) => (b.ms < a.ms ? b : a));
    best.best = true;
    choices[key] = best.variant;
    results.push(...rows);
  }
  progress("");
  return { results, tuning: { adapter: gpu.key, choices } satisfies Tuning };
}

const gpu = await acquireGpu();
const info = gpu.info;
let latency = 0;
latency = await timeExecutor(gpu); // an empty submit: the fixed cost every sample pays once
console.log(
  `adapter: ${info.description || info.vendor} (${info.architecture || "?"})` +
    `${info.isFallbackAdapter ? ", fallback/software" : ""} — key ${gpu.key}`,
);

const students = sizes.map((inputSize) => {
  const graph = buildStudent({ ...DEFAULT_STUDENT, inputSize });
  const planned = plan(graph);
  return { inputSize, ...planned, weights: initWeights(graph, 1) };
});

const { results: ops, tuning } = await benchOps(gpu, students);
await Deno.mkdir(TUNING_DIR, { recursive: true });
const tuningFile = new URL(`${gpu.key}.json`, TUNING_DIR);
await Deno.writeTextFile(tuningFile, JSON.stringify(tuning, null, 2) + "\n");

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const num = (x: number, d = 2) => x.toFixed(d).padStart(8);
console.log(`\n${pad("op", 34)}${pad("shape", 36)}${pad("variant", 14)}      ms  GFLOP/s     GB/s`);
for (const r of ops) {
  console.log(
    `${pad(r.label.slice(0, 33), 34)}${pad(r.shape, 36)}${
      pad(r.variant + (r.best ? " *" : ""), 14)
    }` +
      `${num(r.ms, 3)} ${num(r.gflops)} ${num(r.gbps)}`,
  );
}
console.log(`(* fastest, saved to ${tuningFile.pathname})\n`);

const model = [];
for (const s of students) {
  progress(`model ${s.inputSize}²`);
  const executor = await GpuExecutor.create(gpu, s.program, s.weights, { tuning });
  const ms = await timeExecutor(gpu, executor);
  executor.dispose();
  model.push({
    inputSize: s.inputSize,
    params: s.stats.params,
    flops: s.stats.flops,
    msMedian: ms,
    gflops: s.stats.flops / ms / 1e6,
  });
}
progress("");
console.log(`${pad("model", 10)}${pad("params", 10)}${pad("GFLOP", 10)}  ms (median)  GFLOP/s`);
for (const m of model) {
  console.log(
    `${pad(`${m.inputSize}²`, 10)}${pad((m.params / 1e6).toFixed(3) + "M", 10)}` +
      `${pad((m.flops / 1e9).toFixed(3), 10)}${num(m.msMedian, 1)}     ${num(m.gflops)}`,
  );
}

if (args.json) {
  const report = {
    date: new Date().toISOString(),
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      isFallbackAdapter: info.isFallbackAdapter,
      key: gpu.key,
    },
    repeats,
    ops: ops.map(({ op, label, shape, variant, ms, gflops, gbps, best }) => ({
      op,
      label,
      shape,
      variant,
      ms,
      gflops,
      gbps,
      best,
    })),
    model,
  };
  await Deno.writeTextFile(args.json, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nreport written to ${args.json}`);
}
gpu.device.destroy();
