// Every op registry row on WebGPU against its hand-written CPU reference, for every GPU variant
// that applies to each shared case on this device (f16 ones where it has shader-f16).

import assert from "node:assert/strict";
import { CpuExecutor, GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp, OPS } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
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
