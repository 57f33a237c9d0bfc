// Every backward rule against finite differences of the forward op's CPU reference: for a random
// upstream gradient dy, the composed backward rows' references must give ∂(Σ dy·op(x, θ))/∂x and
// /∂θ. Each case runs through the same training plan the GPU executes (fused epilogues kept where
// the output determines act', split where it does not), on small shapes with stride 2, odd sizes,
// channel counts that are not multiples of 4, and batch 2.

import assert from "node:assert/strict";
import { randomArray, rng } from "../../src/graph/random.ts";
import { singleStepProgram } from "../../src/runtime/executor.ts";
import { getOp, OPS } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import { elementCount, hostTensor } from "../../src/runtime/tensor.ts";
import { backwardReference, forwardValues } from "../../src/train/cpu.ts";
import { GRAD_OPS } from "../../src/train/grad_ops/index.ts";
import { planTrainingProgram } from "../../src/train/plan.ts";
import { checkGradient, dot } from "./fd.ts";
import { FD_CASES } from "./grad_cases.ts";

Deno.test("every forward op with a backward rule has a finite-difference case", () => {
  for (const [name, op] of Object.entries(OPS)) {
    if (op.inferenceOnly) continue;
    assert.ok(FD_CASES.some((c) => c.op === name), `no finite-difference case for "${name}"`);
  }
  assert.ok(Object.keys(GRAD_OPS).length >= 11);
});

FD_CASES.forEach((c, index) => {
  const title = `${c.op} ${c.inputs.map((s) => s.join("x")).join(" + ")} ${
    JSON.stringify(c.attrs)
  }`;
  Deno.test(`finite differences ${index}: ${title}`, () => {
    const random = rng(7000 + index);
    const op = getOp(c.op);
    const paramShapes = Object.entries(op.params(c.inputs, c.attrs));
    const names = paramShapes.map(([n]) => n);
    const program = singleStepProgram(c.op, c.attrs, c.inputs, names);
    const weights = new Map<string, Param>(
      paramShapes.map(([n, shape]) => [n, {
        shape,
        data: randomArray(random, shape.reduce((a, b) => a * b, 1), 0.5),
      }]),
    );
    const inputs = c.inputs.map((s) =>
      hostTensor(s, randomArray(random, elementCount(s), c.scale ?? 1))
    );
    const plan = planTrainingProgram(program, { inputGrads: true });
    const values = forwardValues(plan.forward, weights, inputs);
    const y = values[plan.prediction];
    const dy = hostTensor(y.shape, randomArray(random, y.data.length, 1));
    const { grads, params } = backwardReference(plan, weights, values, dy);

    const params0 = names.map((n) => weights.get(n)!);
    const f = () => dot(op.reference(inputs, params0, c.attrs).data, dy.data);
    const options = { sample: 120, random };
    let checked = 0, skipped = 0;
    inputs.forEach((x, i) => {
      const g = grads.get(plan.gradOf.get(program.inputs[i])!);
      assert.ok(g, `no gradient for input ${i}`);
      const r = checkGradient(f, x.data, g.data, `d/dinput${i}`, options);
      checked += r.checked;
      skipped += r.skipped;
    });
    names.forEach((n) => {
      const g = params.get(n);
      assert.ok(g, `no gradient for ${n}`);
      assert.deepEqual([...g.shape], [...weights.get(n)!.shape]);
      const r = checkGradient(f, weights.get(n)!.data, g.data, `d/d${n}`, options);
      checked += r.checked;
      skipped += r.skipped;
    });
    // A weight of a depthwise relu6 conv moves every pixel of its channel, so one of them often
    // sits within eps of a kink; still, a guard that skipped most elements would prove nothing.
    assert.ok(skipped <= 0.2 * (checked + skipped), `${skipped} kinks of ${checked + skipped}`);
  });
});
