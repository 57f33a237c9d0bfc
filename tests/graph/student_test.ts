// The student builder and planner: phone-class budget, fusion, concat aliasing, memory planning,
// and the planned program computing the same function as the un-fused graph.

import assert from "node:assert/strict";
import { CpuExecutor, GpuExecutor } from "../../src/runtime/executor.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { plan } from "../../src/graph/planner.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { buildStudent, DEFAULT_STUDENT } from "../../src/graph/student.ts";
import { Graph } from "../../src/graph/ir.ts";
import { initWeights } from "../../src/graph/weights.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";
import { TINY_STUDENT } from "../support/students.ts";

Deno.test("the default student is phone-class at 256²: ≤ 1 GFLOP and ≤ 1 M parameters", () => {
  const { stats } = plan(buildStudent(DEFAULT_STUDENT));
  console.log(
    `default student 256²: ${(stats.flops / 1e9).toFixed(3)} GFLOP, ${
      (stats.params / 1e6).toFixed(3)
    } M params, ` +
      `${stats.steps} steps, activations ${(stats.activationBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(naive ${(stats.naiveActivationBytes / 2 ** 20).toFixed(1)} MiB)`,
  );
  assert.ok(stats.flops <= 1e9, `${stats.flops} FLOPs`);
  assert.ok(stats.params <= 1e6, `${stats.params} parameters`);
  assert.ok(stats.flops > 0.3e9, "suspiciously cheap: is the decoder missing?");
});

Deno.test("input sizes 128..512 build with the expected output shape; bad configs are refused", () => {
  for (const inputSize of [128, 192, 256, 320, 512]) {
    const g = buildStudent({ ...DEFAULT_STUDENT, inputSize }, 2);
    assert.deepEqual(g.shape(g.outputs[0]), [2, inputSize, inputSize, 3]);
  }
  assert.throws(() => buildStudent({ ...DEFAULT_STUDENT, inputSize: 100 }), /128\.\.512/);
  assert.throws(() => buildStudent({ ...DEFAULT_STUDENT, inputSize: 136 }), /multiple of 16/);
  assert.throws(() => buildStudent({ ...DEFAULT_STUDENT, width: 0 }), /width/);
  assert.throws(() => buildStudent({ ...DEFAULT_STUDENT, encoder: [] }), /4 stages/);
});

Deno.test("the planner fuses activations, residual adds and concats away", () => {
  const graph = buildStudent(DEFAULT_STUDENT);
  const unfused = plan(graph, { fuse: false, aliasConcat: false });
  const { program, stats } = plan(graph);
  const ops = program.steps.filter((s) => !s.elided).map((s) => s.op);
  assert.ok(!ops.includes("activation"), "an activation was left un-fused");
  assert.ok(!ops.includes("add"), "a residual add was left un-fused");
  assert.ok(!ops.includes("concat"), "a concat still copies");
  assert.ok(
    program.steps.some((s) => s.inputs.length === 2 && s.op === "depthwise_project"),
    "no fused residual",
  );
  // Each depthwise conv runs inside its projection, but for the 1/16 stage's 384 → 64 blocks, whose
  // weights (98 KiB) pass the fused kernel's 64 KiB uniform buffer.
  const left = program.steps.filter((s) => s.op === "depthwise_conv2d").map((s) => s.label);
  assert.deepEqual(left, ["enc3.1.dw", "enc3.2.dw"]);
  assert.equal(ops.filter((op) => op === "depthwise_project").length, 10);
  assert.ok(stats.steps < unfused.stats.steps);
  assert.equal(stats.flops <= unfused.stats.flops, true);
  // Training plans keep them apart (fused steps have no backward), at the same arithmetic.
  const forTraining = plan(graph, { fuseForInference: false });
  assert.ok(!forTraining.program.steps.some((s) => s.op === "depthwise_project"));
  assert.equal(forTraining.stats.steps, stats.steps + 12);
  // The head's upsample, conv and residual + mask are one step.
  assert.equal(ops.at(-1), "upsample_conv2d_residual_mask");
  // Each decoder expand runs its upsampled channels' share at the low resolution and adds it
  // upsampled (a quarter of those FLOPs remain): no upsampled tensor is stored any more.
  assert.equal(ops.filter((op) => op === "pointwise_add_upsampled").length, 3);
  assert.ok(!ops.includes("upsample2x"));
  assert.ok(stats.flops < 0.92 * forTraining.stats.flops, `${stats.flops} FLOPs`);
});

Deno.test("the memory plan beats one buffer per tensor, and never aliases a step's input and output", () => {
  for (const options of [{}, { fuse: false, aliasConcat: false }]) {
    const { program, stats } = plan(buildStudent(DEFAULT_STUDENT, 2), options);
    assert.ok(
      stats.activationBytes < stats.naiveActivationBytes / 2,
      `${stats.activationBytes} vs naive ${stats.naiveActivationBytes}`,
    );
    for (const step of program.steps.filter((s) => !s.elided)) {
      const out = program.tensors[step.output].slot;
      for (const i of step.inputs) {
        assert.notEqual(program.tensors[i].slot, out, `${step.label} reads and writes one slot`);
      }
    }
    for (const t of program.tensors) {
      const bytes = t.shape[0] * t.shape[1] * t.shape[2] * t.layout.pixelStride * 4;
      assert.ok(bytes <= program.slots[t.slot], "a tensor overflows its slot");
    }
  }
});

Deno.test("fused and aliased program computes what the un-fused graph computes (CPU reference)", () => {
  const graph = buildStudent(TINY_STUDENT, 2);
  const weights = initWeights(graph, 7);
  const x = hostTensor([2, 128, 128, 3], randomArray(rng(3), 2 * 128 * 128 * 3));
  const [a] = new CpuExecutor(plan(graph, { fuse: false, aliasConcat: false }).program, weights)
    .run([x]);
  const [b] = new CpuExecutor(plan(graph).program, weights).run([x]);
  assert.ok(maxAbsDiff(a, b) <= 1e-5, `difference ${maxAbsDiff(a, b)}`);
  assert.ok(maxAbsDiff(a, x) > 1e-3, "the student should change its input");
});

Deno.test("the upsample fusions keep a concat's channel order when the upsampled part is second", () => {
  const g = new Graph();
  const x = g.input("image", [2, 16, 12, 3]);
  const conv = (input: number, cout: number, k: number, stride: number, name: string) =>
    g.add("conv2d", [input], { cout, k, stride, pad: k >> 1, act: "relu" }, name);
  const skip = conv(x, 4, 1, 1, "skip");
  const up = g.add("upsample2x", [conv(x, 8, 3, 2, "down")], { mode: "bilinear" }, "up");
  const expand = conv(g.add("concat", [skip, up], {}, "cat"), 12, 1, 1, "expand");
  const up2 = g.add("upsample2x", [conv(expand, 8, 3, 2, "down2")], { mode: "nearest" }, "up2");
  const head = g.add("concat", [x, up2], {}, "head.cat");
  const logits = g.add("conv2d", [head], { cout: 4, k: 3, stride: 1, pad: 1, act: "none" }, "conv");
  g.outputs = [g.add("residual_mask", [x, logits], { deltaScale: 2 }, "head")];
  const weights = initWeights(g, 5);
  const { program } = plan(g);
  const ops = program.steps.filter((s) => !s.elided).map((s) => s.op);
  assert.deepEqual(ops.filter((op) => /upsample|pointwise_/.test(op)), [
    "pointwise_part",
    "pointwise_add_upsampled",
    "upsample_conv2d_residual_mask",
  ]);
  const image = hostTensor([2, 16, 12, 3], randomArray(rng(8), 2 * 16 * 12 * 3));
  const [a] = new CpuExecutor(plan(g, { fuseForInference: false }).program, weights).run([image]);
  const [b] = new CpuExecutor(program, weights).run([image]);
  assert.ok(maxAbsDiff(a, b) <= 1e-5, `difference ${maxAbsDiff(a, b)}`);
});

gpuTest(
  "the whole default-width student on WebGPU matches the CPU backend (batch 2, 128²)",
  async () => {
    const config = { ...DEFAULT_STUDENT, inputSize: 128 };
    const graph = buildStudent(config, 2);
    const weights = initWeights(graph, 9);
    const { program } = plan(graph);
    const x = hostTensor([2, 128, 128, 3], randomArray(rng(4), 2 * 128 * 128 * 3));
    const [expected] = new CpuExecutor(program, weights).run([x]);
    const executor = await GpuExecutor.create(await testGpu(), program, weights);
    const [actual] = await executor.run([x]);
    executor.dispose();
    // ~25 layers of f32 sums, each reordered on the GPU: relative error grows to ~1e-6 per layer
    // over activations of order 1..10, so 1e-3 absolute on outputs of order 1 is a safe bound.
    const diff = maxAbsDiff(actual, expected);
    console.log(`student 128² batch 2: max |gpu - cpu| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-3, `max |gpu - cpu| = ${diff}`);
  },
);
