// Every op case again, with each input and the output stored as a channel slice of a wider buffer
// (pixelStride and channelOffset ≠ the dense layout), as the planner places concat parts: each
// kernel must read and write only its own channels.

import assert from "node:assert/strict";
import { randomArray, rng } from "../../src/graph/random.ts";
import { CpuExecutor, GpuExecutor } from "../../src/runtime/executor.ts";
import { getOp } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import type { Program } from "../../src/runtime/program.ts";
import {
  hostTensor,
  type Layout,
  layoutFloats,
  pack,
  pad4,
  type Shape,
  unpack,
} from "../../src/runtime/tensor.ts";
import { applicableVariants, stepKey } from "../../src/runtime/tuning.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";
import { OP_CASES } from "./op_cases.ts";

const TOLERANCE = 2e-5;
/** Written around every tensor: a finite value that would show in any result that read it. */
const POISON = 1000;

/** One quad of neighbour channels before the tensor and one after. */
const sliceOf = (s: Shape): Layout => ({ pixelStride: pad4(s[3]) + 8, channelOffset: 4 });

function slicedProgram(op: string, attrs: Record<string, unknown>, inputs: Shape[]): Program {
  const shapes = [...inputs, getOp(op).outputShape(inputs, attrs)];
  const tensors = shapes.map((shape, slot) => ({ shape, layout: sliceOf(shape), slot }));
  return {
    tensors,
    slots: tensors.map((t) => layoutFloats(t.shape, t.layout) * 4),
    steps: [{
      op,
      attrs,
      inputs: inputs.map((_, i) => i),
      output: inputs.length,
      params: Object.keys(getOp(op).params(inputs, attrs)),
    }],
    inputs: inputs.map((_, i) => i),
    outputs: [inputs.length],
  };
}

async function readSlot(device: GPUDevice, buffer: GPUBuffer, floats: number) {
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

OP_CASES.forEach((c, index) => {
  const title = `${c.op} ${c.inputs.map((s) => s.join("x")).join(" + ")} ${
    JSON.stringify(c.attrs)
  }`;
  gpuTest(`sliced op case ${index}: ${title}`, async () => {
    const random = rng(5000 + index);
    const op = getOp(c.op);
    const program = slicedProgram(c.op, c.attrs, c.inputs);
    const paramShapes = Object.entries(op.params(c.inputs, c.attrs));
    const weights = new Map<string, Param>(paramShapes.map(([name, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return [name, { shape, data: randomArray(random, size, 0.5) }];
    }));
    const inputs = c.inputs.map((shape) =>
      hostTensor(shape, randomArray(random, shape.reduce((a, b) => a * b, 1), c.scale ?? 1))
    );
    const [expected] = new CpuExecutor(program, weights).run(inputs);

    const gpu = await testGpu();
    const { device } = gpu;
    const step = program.steps[0];
    const ctx = {
      inputs: step.inputs.map((i) => program.tensors[i]),
      output: program.tensors[step.output],
      attrs: c.attrs,
    };
    const out = program.tensors[step.output];
    const outFloats = layoutFloats(out.shape, out.layout);
    for (const variant of applicableVariants(op, ctx)) {
      const tuning = { adapter: gpu.key, choices: { [stepKey(op, ctx)]: variant.name } };
      const executor = await GpuExecutor.create(gpu, program, weights, { tuning });
      // Inputs: the tensor's channels, POISON everywhere else in the buffer (padding included).
      inputs.forEach((t, i) => {
        const { layout } = program.tensors[i];
        const data = new Float32Array(layoutFloats(t.shape, layout)).fill(POISON);
        device.queue.writeBuffer(executor.slots[i], 0, pack(t, layout, data));
      });
      device.queue.writeBuffer(
        executor.slots[out.slot],
        0,
        new Float32Array(outFloats).fill(POISON),
      );
      const encoder = device.createCommandEncoder();
      executor.encode(encoder);
      device.queue.submit([encoder.finish()]);
      const raw = await readSlot(device, executor.slots[out.slot], outFloats);
      executor.dispose();

      const { pixelStride, channelOffset } = out.layout;
      for (let i = 0; i < raw.length; i++) {
        const lane = (i % pixelStride) - channelOffset;
        if (lane < 0 || lane >= pad4(out.shape[3])) {
          assert.equal(raw[i], POISON, `${variant.name}: wrote float ${i}, outside its slice`);
        }
      }
      const diff = maxAbsDiff(unpack(raw, out.shape, out.layout), expected);
      assert.ok(diff <= TOLERANCE, `${variant.name}: max |gpu - cpu| = ${diff}`);
    }
  });
});
