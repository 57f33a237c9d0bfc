// Every op registry row on WebGPU against its hand-written CPU reference, for every GPU variant
// that applies to each shared case on this device (f16 ones where it has shader-f16).

import assert from "node:assert/strict";
import { CpuExecutor, GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp, OPS } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import { denseLayout, hostTensor, type Shape } from "../../src/runtime/tensor.ts";
import { applicableVariants, stepKey } from "../../src/runtime/tuning.ts";
import { gpuTest, maxAbsDiff, testGpu, tolerance } from "../support/gpu.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { OP_CASES } from "./op_cases.ts";

Deno.test("every registered op has at least one case", () => {
  for (const name of Object.keys(OPS)) {
    assert.ok(OP_CASES.some((c) => c.op === name), `no case exercises op "${name}"`);
  }
});

OP_CASES.forEach((c, index) => {
  const title = `${c.op} ${c.inputs.map((s) => s.join("x")).join(" + ")} ${
    JSON.stringify(c.attrs)
  }`;
  gpuTest(`op case ${index}: ${title}`, async () => {
    const random = rng(1000 + index);
    const op = getOp(c.op);
    const program = singleStepProgram(c.op, c.attrs, c.inputs, c.params);
    const paramShapes = Object.values(op.params(c.inputs, c.attrs));
    const weights = new Map<string, Param>(c.params.map((name, i) => {
      const shape = paramShapes[i];
      const size = shape.reduce((a, b) => a * b, 1);
      return [name, { shape, data: randomArray(random, size, 0.5) }];
    }));
    const inputs = c.inputs.map((shape) =>
      hostTensor(shape, randomArray(random, shape.reduce((a, b) => a * b, 1), c.scale ?? 1))
    );
    const [expected] = new CpuExecutor(program, weights).run(inputs);

    const gpu = await testGpu();
    const step = program.steps[0];
    const ctx = {
      inputs: step.inputs.map((i) => program.tensors[i]),
      output: program.tensors[step.output],
      attrs: c.attrs,
    };
    const variants = applicableVariants(op, ctx, gpu.device.features);
    assert.ok(variants.length > 0, "no GPU variant applies");
    for (const variant of variants) {
      const tuning = { adapter: gpu.key, choices: { [stepKey(op, ctx)]: variant.name } };
      const executor = await GpuExecutor.create(gpu, program, weights, { tuning });
      assert.equal(executor.variants[0].variant, variant.name);
      const [actual] = await executor.run(inputs);
      executor.dispose();
      const diff = maxAbsDiff(actual, expected);
      const limit = tolerance(variant.precision, expected);
      assert.ok(diff <= limit, `${variant.name}: max |gpu - cpu| = ${diff} > ${limit}`);
    }
  });
});

Deno.test("a baked pointwise kernel carries every weight and bias exactly, and skips zero blocks", () => {
  const op = getOp("conv2d");
  const baked = op.variants.find((v) => v.name === "pw_baked_1")!;
  const dense = (shape: Shape) => ({ shape, layout: denseLayout(shape) });
  // 8 → 6 channels: two input quads, two output quads (the second half padding).
  const ctx = {
    inputs: [dense([1, 2, 2, 8])],
    output: dense([1, 2, 2, 6]),
    attrs: { cout: 6, k: 1, stride: 1, pad: 0, act: "none" },
  };
  const awkward = [1 / 3, -1e-8, 7.5e12, 0.1, -2.5, 1.17549435e-38, 123456.789];
  const weight = new Float32Array(6 * 8).map((_, i) => awkward[i % awkward.length] * (i + 1));
  weight.fill(0, 4 * 8); // outputs 4 and 5 only from zeros: output quad 1 has zero blocks
  const bias = Float32Array.from([0.3, -0.7, 1e-3, 9, 0.1, 0.2]);
  const packed = op.packParams([{ shape: [6, 8, 1, 1], data: weight }, {
    shape: [6],
    data: bias,
  }], ctx);
  const code = baked.bake!(ctx, packed);
  const literals = [...code.matchAll(/(-?[\d.]+(?:e[+-]?\d+)?)f/g)].map((m) =>
    Math.fround(Number(m[1]))
  );
  for (const v of [...weight, ...bias]) {
    assert.ok(literals.includes(Math.fround(v)), `weight ${v} is not in the code exactly`);
  }
  assert.equal((code.match(/mat4x4<f32>/g) ?? []).length, 2, "zero blocks are skipped");
});
