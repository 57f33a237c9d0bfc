// The same runtime source in headless Chromium (SwiftShader WebGPU) against the CPU reference
// computed here in Deno: one conv, the whole student end to end, and a network PyTorch exported,
// from its weight file as the browser client loads one.

import assert from "node:assert/strict";
import { CpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { hostTensor, type Shape } from "../../src/runtime/tensor.ts";
import { plan } from "../../src/graph/planner.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { buildStudent } from "../../src/graph/student.ts";
import { graphSpec } from "../../src/graph/architecture.ts";
import { importOnnx } from "../../src/graph/onnx/import.ts";
import { encodeStudentWeights, initWeights } from "../../src/graph/weights.ts";
import { withBrowser } from "../../src/headless/chromium.ts";
import { needs, requireChromium } from "../support/env.ts";
import { maxAbsDiff } from "../support/gpu.ts";
import { TINY_STUDENT } from "../support/students.ts";

const entry = new URL("./browser_entry.ts", import.meta.url);

Deno.test(needs(requireChromium(), {
  name:
    "runtime in Chromium: one conv, the student and an imported network match the CPU reference",
  async fn() {
    await withBrowser(async (browser) => {
      const page = await browser.open(entry);
      const info = await page.call<{ architecture: string; isFallbackAdapter: boolean }>(
        "adapterInfo",
      );
      console.log(`chromium adapter: ${JSON.stringify(info)}`);

      const random = rng(11);
      const shape: Shape = [2, 9, 7, 6];
      const attrs = { cout: 5, k: 3, stride: 2, pad: 1, act: "relu6" };
      const weight = randomArray(random, 5 * 6 * 9, 0.5), bias = randomArray(random, 5, 0.5);
      const input = randomArray(random, 2 * 9 * 7 * 6);
      const program = singleStepProgram("conv2d", attrs, [shape], ["w", "b"]);
      const weights = new Map([
        ["w", { shape: [5, 6, 3, 3], data: weight }],
        ["b", { shape: [5], data: bias }],
      ]);
      const [expected] = new CpuExecutor(program, weights).run([hostTensor(shape, input)]);
      const conv = await page.call<Float32Array>("conv", attrs, shape, weight, bias, input);
      const convDiff = maxAbsDiff(hostTensor(expected.shape, conv), expected);
      assert.ok(convDiff <= 2e-5, `conv: max |chromium - cpu| = ${convDiff}`);

      const graph = buildStudent(TINY_STUDENT, 2);
      const studentWeights = initWeights(graph, 5);
      const file = encodeStudentWeights(
        { kind: "student", config: TINY_STUDENT },
        studentWeights,
        "f32",
      );
      const size = TINY_STUDENT.inputSize;
      const image = randomArray(random, 2 * size * size * 3);
      const [reference] = new CpuExecutor(plan(graph).program, studentWeights)
        .run([hostTensor([2, size, size, 3], image)]);
      const out = await page.call<Float32Array>("student", file, 2, image);
      const diff = maxAbsDiff(hostTensor(reference.shape, out), reference);
      console.log(
        `student ${size}² batch 2 in chromium: max |chromium - cpu| = ${diff.toExponential(2)}`,
      );
      assert.ok(diff <= 1e-3, `student: max |chromium - cpu| = ${diff}`);

      const onnx = await Deno.readFile(
        new URL("../fixtures/pytorch/student_opset17.onnx", import.meta.url),
      );
      const imported = importOnnx(onnx);
      const crop = randomArray(random, 64 * 64 * 3);
      const [expectedCrop] = new CpuExecutor(plan(imported.graph).program, imported.weights)
        .run([hostTensor([1, 64, 64, 3], crop)]);
      const graphFile = encodeStudentWeights(
        { kind: "graph", graph: graphSpec(imported.graph) },
        imported.weights,
        "f32",
      );
      const outCrop = await page.call<Float32Array>("student", graphFile, 1, crop);
      const cropDiff = maxAbsDiff(hostTensor(expectedCrop.shape, outCrop), expectedCrop);
      console.log(`imported PyTorch network in chromium: max |chromium - cpu| = ${cropDiff}`);
      assert.ok(cropDiff <= 1e-4, `imported: max |chromium - cpu| = ${cropDiff}`);
    });
  },
}));
