// Executors: shape and weight checks with clear errors, tuning choices honoured, replay without
// readback, the pipeline cache compiling each kernel specialisation once, and the fast start on
// baseline kernels with its upgrade to the tuned ones.

import assert from "node:assert/strict";
import { CpuExecutor, GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp } from "../../src/runtime/ops/index.ts";
import { acquireGpu, DeviceLostError } from "../../src/runtime/device.ts";
import { PipelineCache } from "../../src/runtime/pipelines.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { baselineVariant, chooseVariant, stepKey } from "../../src/runtime/tuning.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";
import { tinyStudentRun } from "../support/students.ts";

const attrs = { cout: 4, k: 1, stride: 1, pad: 0, act: "none" };
const program = singleStepProgram("conv2d", attrs, [[1, 2, 2, 4]], ["w", "b"]);
const weights = new Map([
  ["w", {
    shape: [4, 4, 1, 1],
    data: Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
  }],
  ["b", { shape: [4], data: new Float32Array([0, 0, 0, 1]) }],
]);
const x = hostTensor([1, 2, 2, 4], Float32Array.from({ length: 16 }, (_, i) => i));

Deno.test("missing or mis-shaped weights and wrong inputs are clear errors", () => {
  assert.throws(
    () => new CpuExecutor(program, new Map([["w", weights.get("w")!]])),
    /weight "b" is missing/,
  );
  assert.throws(
    () =>
      new CpuExecutor(
        program,
        new Map([...weights, ["b", { shape: [3], data: new Float32Array(3) }]]),
      ),
    /"b" has shape \[3\], the graph needs \[4\]/,
  );
  assert.throws(
    () => new CpuExecutor(program, weights).run([hostTensor([1, 2, 3, 4])]),
    /must be 1x2x2x4/,
  );
});

Deno.test("a tuning table picks the variant; an unknown choice falls back to the default", () => {
  const op = getOp("conv2d");
  const ctx = { inputs: [program.tensors[0]], output: program.tensors[1], attrs };
  const names = op.variants.filter((v) => !v.applies || v.applies(ctx)).map((v) => v.name);
  const last = names.at(-1)!;
  assert.equal(
    chooseVariant(op, ctx, { adapter: "a", choices: { [stepKey(op, ctx)]: last } }).name,
    last,
  );
  assert.equal(
    chooseVariant(op, ctx, { adapter: "a", choices: { [stepKey(op, ctx)]: "gone" } }).name,
    names[0],
  );
});

Deno.test("the baseline is the first listed variant that applies, at its workgroup size", () => {
  const op = getOp("conv2d");
  const at = (shape: [number, number, number, number], a: typeof attrs) => {
    const p = singleStepProgram("conv2d", a, [shape], ["w", "b"]);
    return { inputs: [p.tensors[0]], output: p.tensors[1], attrs: a };
  };
  // 4 threads of 4 pixels would get a 16-wide group of their own; the baseline keeps 64.
  const pointwise = baselineVariant(op, at([1, 4, 4, 4], attrs));
  assert.equal(pointwise.name, "pw_reg_4x1/wg64");
  assert.equal(pointwise.overrides(at([1, 4, 4, 4], attrs)).WG, 64);
  assert.equal(baselineVariant(op, at([1, 8, 8, 4], { ...attrs, k: 3, pad: 1 })).name, "direct");
  // An op without a listed baseline takes its first f32 variant.
  const up = getOp("upsample2x");
  const p = singleStepProgram("upsample2x", { mode: "bilinear" }, [[1, 2, 2, 4]], []);
  const ctx = { inputs: [p.tensors[0]], output: p.tensors[1], attrs: { mode: "bilinear" } };
  assert.equal(baselineVariant(up, ctx).name, up.variants[0].name);
});

gpuTest(
  "GPU executor: identity conv replays, reads back only when asked, shares pipelines",
  async () => {
    const gpu = await testGpu();
    const pipelines = new PipelineCache(gpu.device);
    const a = await GpuExecutor.create(gpu, program, weights, { pipelines });
    const b = await GpuExecutor.create(gpu, program, weights, { pipelines });
    assert.equal(pipelines.size, 1, "the same specialisation compiled twice");
    assert.deepEqual(await a.run([x], { read: false }), []);
    const [y] = await a.run([x]);
    const expected = [...x.data].map((v, i) => (i % 4 === 3 ? v + 1 : v));
    assert.deepEqual([...y.data], expected);
    assert.deepEqual([...(await b.run([x]))[0].data], expected);
    a.dispose();
    b.dispose();
  },
);

gpuTest("baked kernels: each set of weights its own pipeline, equal weights one", async () => {
  const gpu = await testGpu();
  const pipelines = new PipelineCache(gpu.device);
  const op = getOp("conv2d");
  const ctx = { inputs: [program.tensors[0]], output: program.tensors[1], attrs };
  const tuning = { adapter: gpu.key, choices: { [stepKey(op, ctx)]: "pw_baked_1" } };
  // The identity above, and the same conv with every weight doubled.
  const doubled = new Map([...weights].map(([name, p]) => [name, {
    ...p,
    data: p.data.map((v) => 2 * v),
  }]));
  const runs = [];
  for (const w of [weights, doubled, weights]) {
    const executor = await GpuExecutor.create(gpu, program, w, { pipelines, tuning });
    assert.equal(executor.variants[0].variant, "pw_baked_1");
    const [expected] = new CpuExecutor(program, w).run([x]);
    const [actual] = await executor.run([x]);
    assert.deepEqual([...actual.data], [...expected.data]);
    runs.push(actual.data);
    executor.dispose();
  }
  assert.notDeepEqual([...runs[0]], [...runs[1]]);
  assert.equal(pipelines.size, 2, "a pipeline per distinct set of baked weights");
});

gpuTest("a baseline start runs the student right, then upgrades to the tuned kernels", async () => {
  const gpu = await testGpu();
  const { program, weights, image, expected } = tinyStudentRun(3);
  const pipelines = new PipelineCache(gpu.device);
  const executor = await GpuExecutor.create(gpu, program, weights, { pipelines, baseline: true });
  const convs = (e: GpuExecutor) =>
    e.variants.filter((_, i) => /conv|project/.test(program.steps.filter((s) => !s.elided)[i].op));
  const baselineKernels = /^(direct|pw_reg_4x1|pw_u_2x1)(\/wg64)?$/;
  assert.ok(convs(executor).every((v) => baselineKernels.test(v.variant)), "baseline convs");
  // Pointwise with and without a residual, stem, depthwise + projection at strides 1 and 2 (and,
  // in this narrow student, outputs under 4 quads), the expands over [upsampled, skip] and the
  // head's upsample + conv + residual + mask.
  const baselinePipelines = pipelines.size;
  assert.ok(baselinePipelines <= 10, `${baselinePipelines} baseline pipelines`);
  assert.ok(maxAbsDiff((await executor.run([image]))[0], expected) < 1e-4);

  // Frames keep coming while the tuned kernels compile; afterwards they run on them.
  const upgraded = executor.upgrade({ gentle: true });
  const [during] = await executor.run([image]);
  await upgraded;
  assert.equal(executor.upgrade(), upgraded, "upgrade() is idempotent");
  const tuned = await GpuExecutor.create(gpu, program, weights, { pipelines });
  assert.deepEqual(executor.variants, tuned.variants);
  assert.ok(convs(executor).some((v) => !baselineKernels.test(v.variant)));
  assert.ok(pipelines.size > baselinePipelines, "the tuned kernels were compiled");
  for (const y of [during, (await executor.run([image]))[0]]) {
    assert.ok(maxAbsDiff(y, expected) < 1e-4, `max |GPU − CPU| ${maxAbsDiff(y, expected)}`);
  }
  executor.dispose();
  tuned.dispose();
});

gpuTest("a lost device is a DeviceLostError, never a hang or a crash", async () => {
  const gpu = await acquireGpu(); // its own device: this test destroys it
  const executor = await GpuExecutor.create(gpu, program, weights);
  gpu.device.destroy();
  await gpu.lost;
  await assert.rejects(executor.run([x]), DeviceLostError);
  await assert.rejects(GpuExecutor.create(gpu, program, weights), /device was lost/);
});
