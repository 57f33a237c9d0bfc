// Convolutions on tensors that share buffers, as the planner places concat parts: the input and the
// residual are two channel slices of one buffer, the output a slice of a wider one. Every variant
// must read only its own slices and write nothing outside its output's channels.

import assert from "node:assert/strict";
import { randomArray, rng } from "../../src/graph/random.ts";
import { CpuExecutor, GpuExecutor } from "../../src/runtime/executor.ts";
import { getOp } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import type { Program } from "../../src/runtime/program.ts";
import {
  hostTensor,
  layoutFloats,
  pack,
  pad4,
  type Shape,
  unpack,
} from "../../src/runtime/tensor.ts";
import { applicableVariants, stepKey } from "../../src/runtime/tuning.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";

const TOLERANCE = 2e-5;
/** Fills every float no tensor owns: a finite value that would show in any result that read it. */
const POISON = 1000;

/**
 * Slot 0: [poison quad | x | residual | poison quad] per pixel; slot 1: [2 poison quads | y |
 * poison quad]. Stride-1 "same" convs only, so x and the residual have the same pixels.
 */
function sharedProgram(op: string, attrs: Record<string, unknown>, x: Shape): Program {
  const y = getOp(op).outputShape([x], attrs);
  const cx = pad4(x[3]), cy = pad4(y[3]);
  const inStride = 4 + cx + cy + 4;
  const outStride = 8 + cy + 4;
  const tensors = [
    { shape: x, layout: { pixelStride: inStride, channelOffset: 4 }, slot: 0 },
    { shape: y, layout: { pixelStride: inStride, channelOffset: 4 + cx }, slot: 0 },
    { shape: y, layout: { pixelStride: outStride, channelOffset: 8 }, slot: 1 },
  ];
  return {
    tensors,
    slots: [layoutFloats(x, tensors[0].layout) * 4, layoutFloats(y, tensors[2].layout) * 4],
    steps: [{
      op,
      attrs,
      inputs: [0, 1],
      output: 2,
      params: Object.keys(getOp(op).params([x, y], attrs)),
    }],
    inputs: [0, 1],
    outputs: [2],
  };
}

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, floats: number) {
  const staging = device.createBuffer({
    size: floats * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, floats * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return data;
}

const CASES: { op: string; attrs: Record<string, unknown>; x: Shape }[] = [
  // Pointwise GEMM tails: 84 pixels, 3 input quads, 4 output quads (one partial).
  { op: "conv2d", attrs: { cout: 14, k: 1, stride: 1, pad: 0, act: "relu6" }, x: [2, 6, 7, 10] },
  { op: "conv2d", attrs: { cout: 8, k: 3, stride: 1, pad: 1, act: "hardswish" }, x: [1, 7, 9, 6] },
  { op: "depthwise_conv2d", attrs: { k: 3, stride: 1, pad: 1, act: "relu6" }, x: [2, 5, 11, 7] },
];

CASES.forEach(({ op: name, attrs, x }, index) => {
  gpuTest(`${name} ${x.join("x")} ${JSON.stringify(attrs)}: slices of shared buffers`, async () => {
    const random = rng(7000 + index);
    const op = getOp(name);
    const program = sharedProgram(name, attrs, x);
    const [xRef, resRef, outRef] = program.tensors;
    const weights = new Map<string, Param>(
      Object.entries(op.params([x, resRef.shape], attrs)).map(([param, shape]) => {
        const size = shape.reduce((a, b) => a * b, 1);
        return [param, { shape, data: randomArray(random, size, 0.5) }];
      }),
    );
    const inputs = [xRef, resRef].map(({ shape }) =>
      hostTensor(shape, randomArray(random, shape.reduce((a, b) => a * b, 1)))
    );
    const [expected] = new CpuExecutor(program, weights).run(inputs);

    const gpu = await testGpu();
    const { device } = gpu;
    const inFloats = program.slots[0] / 4, outFloats = program.slots[1] / 4;
    const shared = new Float32Array(inFloats).fill(POISON);
    pack(inputs[0], xRef.layout, shared);
    pack(inputs[1], resRef.layout, shared);
    const ctx = { inputs: [xRef, resRef], output: outRef, attrs };
    const variants = applicableVariants(op, ctx);
    assert.ok(variants.length > 1, "expected several variants to compare");
    for (const variant of variants) {
      const tuning = { adapter: gpu.key, choices: { [stepKey(op, ctx)]: variant.name } };
      const executor = await GpuExecutor.create(gpu, program, weights, { tuning });
      device.queue.writeBuffer(executor.slots[0], 0, shared);
      device.queue.writeBuffer(executor.slots[1], 0, new Float32Array(outFloats).fill(POISON));
      const encoder = device.createCommandEncoder();
      executor.encode(encoder);
      device.queue.submit([encoder.finish()]);
      const raw = await readBuffer(device, executor.slots[1], outFloats);
      const input = await readBuffer(device, executor.slots[0], inFloats);
      executor.dispose();

      const { pixelStride, channelOffset } = outRef.layout;
      for (let i = 0; i < raw.length; i++) {
        const lane = (i % pixelStride) - channelOffset;
        if (lane < 0 || lane >= pad4(outRef.shape[3])) {
          assert.equal(raw[i], POISON, `${variant.name}: wrote float ${i}, outside its slice`);
        }
      }
      assert.deepEqual(input, shared, `${variant.name}: changed its input buffer`);
      const diff = maxAbsDiff(unpack(raw, outRef.shape, outRef.layout), expected);
      assert.ok(diff <= TOLERANCE, `${variant.name}: max |gpu - cpu| = ${diff}`);
    }
  });
});
