// Every backward row on WebGPU against its own CPU reference, for every variant that applies,
// on the tasks the training plan makes of the shared cases. Buffers are filled with junk outside
// each tensor and its tensors are laid out both densely and as strided slices (pixel stride +
// channel offset), so a kernel that reads or writes outside its tensor, ignores a layout, or
// leaves a gradient's padding lanes nonzero fails; each task also runs accumulating into a
// prefilled output, and parameter gradients with their own split count and with a single split.

import assert from "node:assert/strict";
import { randomArray, rng } from "../../src/graph/random.ts";
import { singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp } from "../../src/runtime/ops/index.ts";
import type { Param, TensorRef } from "../../src/runtime/ops/types.ts";
import { PipelineCache } from "../../src/runtime/pipelines.ts";
import {
  denseLayout,
  elementCount,
  type HostTensor,
  hostTensor,
  type Layout,
  layoutFloats,
  pad4,
  type Shape,
} from "../../src/runtime/tensor.ts";
import { backwardReference, forwardValues } from "../../src/train/cpu.ts";
import { getGradOp, GRAD_OPS } from "../../src/train/grad_ops/index.ts";
import type { GradOpDef } from "../../src/train/grad_ops/types.ts";
import { encodeDispatches, readBuffer, Recorder } from "../../src/train/gpu.ts";
import { stepContext } from "../../src/train/params.ts";
import {
  type BackwardTask,
  isClear,
  planTraining,
  planTrainingProgram,
  type TrainingPlan,
} from "../../src/train/plan.ts";
import { miniUnet } from "./graphs.ts";
import { applicableGradVariants, recordGradTask, resolveGradTask } from "../../src/train/record.ts";
import { needs, requireWebGpu } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";
import { FD_CASES, type FdCase } from "./grad_cases.ts";

// Tile tails of the register-tiled grad-input GEMM (117 pixels, 5 and 9 quads) and of the 3×3
// register blocks (widths 11 and 13), and a grad-input asked for only its first channels (the plan
// does that for a concat whose image part needs no gradient).
const EXTRA: (FdCase & { dxChannels?: number })[] = [
  {
    op: "conv2d",
    attrs: { cout: 36, k: 1, stride: 1, pad: 0, act: "relu6" },
    inputs: [[1, 9, 13, 20]],
  },
  {
    op: "conv2d",
    attrs: { cout: 5, k: 1, stride: 1, pad: 0, act: "none" },
    inputs: [[2, 3, 7, 34]],
    dxChannels: 32,
  },
  {
    op: "conv2d",
    attrs: { cout: 6, k: 3, stride: 1, pad: 1, act: "none" },
    inputs: [[2, 6, 11, 11]],
    dxChannels: 8,
  },
  {
    op: "depthwise_conv2d",
    attrs: { k: 3, stride: 1, pad: 1, act: "none" },
    inputs: [[2, 5, 11, 6]],
  },
  // Stride 2 with pad 1 on odd sizes: the register kernel's column pairs and tails.
  {
    op: "depthwise_conv2d",
    attrs: { k: 3, stride: 2, pad: 1, act: "relu6" },
    inputs: [[1, 9, 13, 8]],
  },
];

const strided = (shape: Shape): Layout => ({ pixelStride: pad4(shape[3]) + 8, channelOffset: 4 });

/** A buffer of junk with the tensor's quads written in (padding lanes set to `pad`). */
function fill(t: HostTensor, layout: Layout, pad: number, random: () => number): Float32Array {
  const buf = randomArray(random, layoutFloats(t.shape, layout), 1);
  const c = t.shape[3];
  for (let p = 0; p < elementCount(t.shape) / c; p++) {
    const at = p * layout.pixelStride + layout.channelOffset;
    buf.fill(pad, at, at + pad4(c));
    buf.set(t.data.subarray(p * c, p * c + c), at);
  }
  return buf;
}

let cache: PipelineCache | undefined;

async function runTask(
  task: BackwardTask,
  inputs: HostTensor[],
  packedParams: Float32Array[],
  expected: HostTensor | Param,
  o: { layouts: boolean; accumulate: boolean; variant: string; forceOneSplit: boolean },
  random: () => number,
): Promise<string | undefined> {
  const gpu = await testGpu();
  cache ??= new PipelineCache(gpu.device);
  const rec = new Recorder(gpu.device, cache);
  try {
    // deno-lint-ignore no-explicit-any
    const row: GradOpDef<any> = getGradOp(task.row);
    const refs: TensorRef[] = inputs.map((t) => ({
      shape: t.shape,
      layout: o.layouts ? strided(t.shape) : denseLayout(t.shape),
    }));
    const isParam = row.writes === "param";
    const outShape = row.outputShape(inputs.map((t) => t.shape), task.attrs);
    const outRef: TensorRef | undefined = isParam ? undefined : {
      shape: outShape as unknown as Shape,
      layout: o.layouts
        ? strided(outShape as unknown as Shape)
        : denseLayout(outShape as unknown as Shape),
    };
    const base = { inputs: refs, output: outRef, attrs: task.attrs, accumulate: o.accumulate };
    const resolved = resolveGradTask(row, base, undefined, o.variant);
    const ctx = o.forceOneSplit ? { ...resolved.ctx, splits: 1 } : resolved.ctx;
    const inputBufs = inputs.map((t, i) => {
      const isGrad = task.inputs[i].kind === "grad";
      return rec.upload(fill(t, refs[i].layout, isGrad ? 0 : 0.5, random), `in${i}`);
    });
    const paramBufs = packedParams.map((p, i) => rec.upload(p, `param${i}`));

    // Expected output buffer, and what the GPU starts from.
    let initial: Float32Array, want: Float32Array;
    let paramFloats: number | undefined;
    if (isParam) {
      const packOf = (p: Param) => packLike(task, p, expected as Param);
      paramFloats = packOf(expected as Param).length;
      if (o.accumulate) {
        const prior = { shape: expected.shape, data: randomArray(random, expected.data.length, 1) };
        initial = packOf(prior);
        const sum = expected.data.map((v, i) => v + prior.data[i]);
        want = packOf({ shape: expected.shape, data: sum });
      } else {
        initial = randomArray(random, paramFloats, 1);
        want = packOf(expected as Param);
      }
    } else {
      const e = expected as HostTensor;
      const prior = hostTensor(e.shape, randomArray(random, e.data.length, 1));
      initial = fill(o.accumulate ? prior : e, outRef!.layout, o.accumulate ? 0 : 7, random);
      if (!o.accumulate) {
        // Junk inside the tensor too: the kernel must overwrite all of it.
        for (let i = 0; i < initial.length; i++) initial[i] = initial[i] === 7 ? -3 : initial[i];
      }
      const sum = hostTensor(e.shape, e.data.map((v, i) => v + (o.accumulate ? prior.data[i] : 0)));
      want = initial.slice();
      const c = e.shape[3];
      for (let p = 0; p < e.data.length / c; p++) {
        const at = p * outRef!.layout.pixelStride + outRef!.layout.channelOffset;
        want.fill(0, at, at + pad4(c));
        want.set(sum.data.subarray(p * c, p * c + c), at);
      }
      // Where the prefill was the tensor itself (no accumulate), overwrite with the tensor.
      if (!o.accumulate) {
        for (let p = 0; p < e.data.length / c; p++) {
          const at = p * outRef!.layout.pixelStride + outRef!.layout.channelOffset;
          initial.fill(-3, at, at + pad4(c));
        }
      }
    }
    const output = rec.upload(initial, "out");
    const partial = isParam && ctx.splits > 1
      ? rec.buffer(ctx.splits * paramFloats! * 4, "partials")
      : undefined;
    await rec.checked(async () => {
      const dispatches = await recordGradTask(rec, row, resolved.variant, ctx, {
        inputs: inputBufs,
        params: paramBufs,
        output,
        paramFloats,
        partial,
      }, task.label);
      const encoder = gpu.device.createCommandEncoder();
      encodeDispatches(encoder, dispatches);
      gpu.device.queue.submit([encoder.finish()]);
    }, task.label);
    const got = await readBuffer(gpu.device, output, 0, initial.byteLength);
    let worst = 0, at = -1, scale = 1;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= worst)) [worst, at] = [Number.isNaN(d) ? Infinity : d, i];
    }
    // f32 sums of a few hundred products against f64: a few ulps of the largest value.
    if (worst > 2e-6 * scale) {
      return `${task.row} [${o.variant}${
        o.forceOneSplit ? ", 1 split" : `, ${ctx.splits} splits`
      }` +
        `${o.layouts ? ", strided" : ""}${o.accumulate ? ", accumulate" : ""}]: ` +
        `float ${at}: gpu ${got[at]}, want ${want[at]} (scale ${scale})`;
    }
    return undefined;
  } finally {
    rec.destroy();
  }
}

/** A parameter gradient in its forward op's packed layout (the partner parameter zero). */
let packLike: (task: BackwardTask, p: Param, like: Param) => Float32Array;

const webGpu = await requireWebGpu();
const covered = new Set<string>();

/**
 * Runs every task of a training plan on the GPU (each variant, layouts and accumulation as above)
 * against its row's reference, with inputs from a CPU forward + backward of the plan.
 */
async function checkPlanTasks(
  plan: TrainingPlan,
  tasks: BackwardTask[],
  weights: Map<string, Param>,
  inputs: HostTensor[],
  random: () => number,
): Promise<string[]> {
  const values = forwardValues(plan.forward, weights, inputs);
  const y = values[plan.prediction];
  const dy = hostTensor(y.shape, randomArray(random, y.data.length, 1));
  const { grads } = backwardReference(plan, weights, values, dy);
  const owner = (name: string) => plan.forward.steps.find((s) => s.params.includes(name))!;
  const packParam = (name: string, p: Param) => {
    const step = owner(name);
    const all = step.params.map((n) => (n === name ? p : weights.get(n)!));
    return getOp(step.op).packParams(
      all,
      stepContext(plan.forward, step),
    )[step.params.indexOf(name)];
  };
  packLike = (task, p) => packParam((task.output as { name: string }).name, p);

  const failures: string[] = [];
  for (const task of tasks) {
    // deno-lint-ignore no-explicit-any
    const row: GradOpDef<any> = getGradOp(task.row);
    const taskInputs = task.inputs.map((r) => (r.kind === "act" ? values[r.id] : grads.get(r.id)!));
    const params = task.params.map((n) => weights.get(n)!);
    const expected = row.reference(taskInputs, params, task.attrs);
    const packed = task.params.map((n) => packParam(n, weights.get(n)!));
    const probe = {
      inputs: taskInputs.map((t) => ({ shape: t.shape, layout: denseLayout(t.shape) })),
      output: row.writes === "param"
        ? undefined
        : { shape: expected.shape as Shape, layout: denseLayout(expected.shape as Shape) },
      attrs: task.attrs,
      accumulate: false,
      splits: 1,
    };
    for (const variant of applicableGradVariants(row, probe)) {
      const modes = [
        { layouts: false, accumulate: false, forceOneSplit: false },
        { layouts: true, accumulate: true, forceOneSplit: false },
        ...(row.writes === "param"
          ? [
            { layouts: true, accumulate: false, forceOneSplit: true },
            { layouts: false, accumulate: true, forceOneSplit: true },
          ]
          : []),
      ];
      for (const mode of modes) {
        const failure = await runTask(task, taskInputs, packed, expected, {
          ...mode,
          variant: variant.name,
        }, random);
        if (failure) failures.push(`${task.label}: ${failure}`);
      }
    }
  }
  return failures;
}

const randomWeights = (specs: [string, number[]][], random: () => number) =>
  new Map<string, Param>(specs.map(([n, shape]) => [n, {
    shape,
    data: randomArray(random, shape.reduce((a, b) => a * b, 1), 0.5),
  }]));

[...FD_CASES, ...EXTRA].forEach((c, index) => {
  const title = `${c.op} ${c.inputs.map((s) => s.join("x")).join(" + ")} ${
    JSON.stringify(c.attrs)
  }`;
  const random = rng(9000 + index);
  const op = getOp(c.op);
  const paramShapes = Object.entries(op.params(c.inputs, c.attrs));
  const names = paramShapes.map(([n]) => n);
  const program = singleStepProgram(c.op, c.attrs, c.inputs, names);
  const plan = planTrainingProgram(program, { inputGrads: true });
  const dxChannels = (c as { dxChannels?: number }).dxChannels;
  const tasks = plan.tasks.filter((t): t is BackwardTask => !isClear(t) && !t.elided).map((t) =>
    dxChannels && t.row === "conv2d.grad_input" ? { ...t, attrs: { ...t.attrs, dxChannels } } : t
  );
  for (const t of tasks) covered.add(t.row);

  Deno.test(needs(webGpu, {
    name: `backward rows on the GPU ${index}: ${title}`,
    fn: async () => {
      const weights = randomWeights(paramShapes, random);
      const inputs = c.inputs.map((s) =>
        hostTensor(s, randomArray(random, elementCount(s), c.scale ?? 1))
      );
      assert.deepEqual(await checkPlanTasks(plan, tasks, weights, inputs, random), []);
    },
  }));
});

{
  // A whole network's plan: grad-inputs carrying the previous layer's act', concat slices, the
  // residual copies, the head — every task as the trainer composes it.
  const graph = miniUnet(2, 12);
  const plan = planTraining(graph);
  const tasks = plan.tasks.filter((t): t is BackwardTask => !isClear(t) && !t.elided);
  Deno.test(needs(webGpu, {
    name: "backward rows on the GPU: every task of a miniature UNet's plan",
    fn: async () => {
      assert.ok(tasks.some((t) => t.attrs.dyAct), "no grad-input carries an act' epilogue");
      const random = rng(77);
      const weights = randomWeights(graph.paramSpecs().map((p) => [p.name, p.shape]), random);
      const [shape] = graph.inputs.map((i) => graph.shape(i));
      const input = hostTensor(shape, randomArray(random, elementCount(shape), 1));
      assert.deepEqual(await checkPlanTasks(plan, tasks, weights, [input], random), []);
    },
  }));
}

Deno.test("every backward row runs in some GPU case", () => {
  for (const name of Object.keys(GRAD_OPS)) {
    assert.ok(covered.has(name), `no GPU case runs ${name}`);
  }
});
