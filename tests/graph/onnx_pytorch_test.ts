// ONNX import of models that PyTorch itself exported (torch.onnx.export, PyTorch 1.13): a small
// UNet-MobileNet student with BatchNorm, ReLU6, Hardswish, ReLU, LeakyReLU, bilinear and nearest
// F.interpolate, skip concats, residual adds and the residual + mask head; our own export of the
// imported graph imports again to the same outputs. The fixtures and PyTorch's own output for one
// input come from tests/fixtures/pytorch/export_student.py; the hand-built PyTorch-style graphs of
// onnx_test.ts cover the variations PyTorch may write.

import assert from "node:assert/strict";
import { exportOnnx } from "../../src/graph/onnx/export.ts";
import { importOnnx } from "../../src/graph/onnx/import.ts";
import { parseSafetensors } from "../../src/graph/safetensors.ts";
import { plan } from "../../src/graph/planner.ts";
import { CpuExecutor, GpuExecutor } from "../../src/runtime/executor.ts";
import { type HostTensor, hostTensor } from "../../src/runtime/tensor.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";

const fixtures = new URL("../fixtures/pytorch/", import.meta.url);
const reference = parseSafetensors(
  await Deno.readFile(new URL("reference.safetensors", fixtures)),
).tensors;

/** A 1×3×S×S NCHW tensor of the reference file as NHWC, repeated `batch` times. */
function nhwc(name: string, batch = 1): HostTensor {
  const t = reference.get(name)!;
  const [, c, h, w] = t.shape;
  const out = hostTensor([batch, h, w, c]);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) out.data[(b * h * w + p) * c + ch] = t.data[ch * h * w + p];
    }
  }
  return out;
}

const EXPORTS = [
  // The exporter's defaults: eval mode folds BatchNorm into the convs; HardSwish is one op.
  { file: "student_opset17.onnx", batchNorms: 0, dynamic: false },
  // BatchNormalization nodes kept (folded by us), hardswish as x · HardSigmoid(x), and symbolic
  // batch, height and width.
  { file: "student_opset11_bn.onnx", batchNorms: 13, dynamic: true },
];
const SIZE = reference.get("input")!.shape[2];

for (const { file, batchNorms, dynamic } of EXPORTS) {
  const sized = dynamic ? { inputSize: [SIZE, SIZE] as [number, number] } : {};
  const bytes = await Deno.readFile(new URL(file, fixtures));

  Deno.test(`PyTorch's export ${file} imports and matches PyTorch's own output`, () => {
    const { graph, weights, inputNames, outputNames, opset } = importOnnx(bytes, sized);
    assert.deepEqual([inputNames, outputNames], [["input"], ["output"]]);
    assert.equal(opset, batchNorms ? 11 : 17);
    const count = (op: string) => graph.nodes.filter((n) => n.op === op).length;
    // 15 convs (4 of them depthwise), 3 upsamples, the head as one residual_mask.
    assert.deepEqual(
      [count("conv2d"), count("depthwise_conv2d"), count("upsample2x"), count("residual_mask")],
      [11, 4, 3, 1],
    );
    assert.deepEqual(
      graph.nodes.filter((n) => n.op === "upsample2x").map((n) => n.attrs.mode),
      ["bilinear", "nearest", "bilinear"],
    );
    const acts = graph.nodes.filter((n) => n.op === "activation").map((n) => n.attrs.act);
    assert.deepEqual([...new Set(acts)].sort(), ["hardswish", "leaky_relu", "relu", "relu6"]);
    // Every BatchNorm is folded away, whichever side did it.
    assert.ok(![...weights.keys()].some((k) => /running|num_batches/.test(k)));
    assert.equal(weights.size, 2 * 15, "a weight and a bias per conv");

    const x = nhwc("input");
    const [ours] = new CpuExecutor(plan(graph).program, weights).run([x]);
    const expected = nhwc("output");
    // PyTorch's f32 convs sum in another order: a few ulps of outputs of order 1.
    const diff = maxAbsDiff(ours, expected);
    console.log(`max |ours - PyTorch| = ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-5, `max |ours - PyTorch| = ${diff}`);
    assert.ok(maxAbsDiff(expected, x) > 0.1, "the head should edit the image");

    // Exported again by us (as the peers get it), it imports to the same outputs, bit for bit.
    const again = importOnnx(exportOnnx(graph, weights));
    const [same] = new CpuExecutor(plan(again.graph).program, again.weights).run([x]);
    assert.deepEqual(same.data, ours.data);
  });

  gpuTest(`PyTorch's export ${file} runs fused on WebGPU and matches PyTorch`, async () => {
    // The symbolic batch axis takes the batch we ask for; the fixed one is 1.
    const batch = dynamic ? 2 : 1;
    const { graph, weights } = importOnnx(bytes, { ...sized, batch });
    const { program } = plan(graph);
    // The inference plan fuses what our own students fuse.
    assert.ok(program.steps.some((s) => s.op === "depthwise_project"));
    const executor = await GpuExecutor.create(await testGpu(), program, weights);
    try {
      const [actual] = await executor.run([nhwc("input", batch)]);
      // ~10 layers of reordered f32 sums over activations of order 1..10.
      const diff = maxAbsDiff(actual, nhwc("output", batch));
      console.log(`max |gpu - PyTorch| = ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `max |gpu - PyTorch| = ${diff}`);
    } finally {
      executor.dispose();
    }
  });
}
