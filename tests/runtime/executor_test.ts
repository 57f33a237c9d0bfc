// Executors: shape and weight checks with clear errors, tuning choices honoured, replay without
// readback, and the pipeline cache compiling each kernel specialisation once.

import assert from "node:assert/strict";
import { CpuExecutor, GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp } from "../../src/runtime/ops/index.ts";
import { acquireGpu, DeviceLostError } from "../../src/runtime/device.ts";
import { PipelineCache } from "../../src/runtime/pipelines.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { chooseVariant, stepKey } from "../../src/runtime/tuning.ts";
import { gpuTest, testGpu } from "../support/gpu.ts";

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

gpuTest("a lost device is a DeviceLostError, never a hang or a crash", async () => {
  const gpu = await acquireGpu(); // its own device: this test destroys it
  const executor = await GpuExecutor.create(gpu, program, weights);
  gpu.device.destroy();
  await gpu.lost;
  await assert.rejects(executor.run([x]), DeviceLostError);
  await assert.rejects(GpuExecutor.create(gpu, program, weights), /device was lost/);
});
