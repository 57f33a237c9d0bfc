// `deno task bench --peers --model FILE.onnx`: the user's network goes to ONNX Runtime as the file
// itself and to us imported, and the bench's own accuracy check holds them to the same output.

import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { makeStudent, measure } from "../../bench/peers/common.ts";
import { openOrt } from "../../bench/peers/runtimes.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../fixtures/pytorch/${name}`, import.meta.url));

Deno.test("a PyTorch export runs in the peers as it is, and matches our import of it", async () => {
  const model = await fixture("student_opset11_bn.onnx");
  const student = makeStudent(128, model);
  assert.equal(student.onnx, model, "ORT runs the user's own file");
  const result = await measure(
    { runtime: "ort-node", ep: "cpu", inputSize: 128, repeats: 3, warmup: 1, check: true },
    "deno",
    student,
    // deno-lint-ignore no-explicit-any
    () => openOrt(ort as any, student, "cpu"),
  );
  assert.equal(result.error, undefined);
  assert.ok(result.msMedian > 0 && result.samples.length === 3);
  // ORT's f32 kernels against our CPU reference on the imported graph: a few ulps.
  assert.ok(result.maxAbsDiff! < 1e-4, `max |ort - ours| = ${result.maxAbsDiff}`);
});

Deno.test("a model that is not an image-to-image network of the asked size is refused", async () => {
  // Fixed at 64²: it cannot take the bench's 128² images.
  const fixed = await fixture("student_opset17.onnx");
  assert.throws(() => makeStudent(128, fixed), /maps \[1,64,64,3\] to \[1,64,64,3\]/);
});
