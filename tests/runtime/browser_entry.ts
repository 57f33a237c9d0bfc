// Page side of browser_test.ts: the unchanged runtime source, bundled for Chromium, runs one conv
// and the whole student on Chromium's WebGPU adapter and hands the outputs back to Deno.

import { acquireGpu } from "../../src/runtime/device.ts";
import { GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import { hostTensor, type Shape } from "../../src/runtime/tensor.ts";
import { plan } from "../../src/graph/planner.ts";
import { buildNetwork, inputSizeOf } from "../../src/graph/architecture.ts";
import { decodeStudentWeights } from "../../src/graph/weights.ts";

const gpu = await acquireGpu();

Object.assign(globalThis, {
  adapterInfo: () => gpu.info,

  async conv(
    attrs: Record<string, unknown>,
    shape: Shape,
    weight: Float32Array,
    bias: Float32Array,
    input: Float32Array,
  ): Promise<Float32Array> {
    const program = singleStepProgram("conv2d", attrs, [shape], ["w", "b"]);
    const cout = attrs.cout as number, k = attrs.k as number;
    const weights = new Map([
      ["w", { shape: [cout, shape[3], k, k], data: weight }],
      ["b", { shape: [cout], data: bias }],
    ]);
    const executor = await GpuExecutor.create(gpu, program, weights);
    const [out] = await executor.run([hostTensor(shape, input)]);
    executor.dispose();
    return out.data;
  },

  async student(file: Uint8Array, batch: number, input: Float32Array): Promise<Float32Array> {
    const { architecture, weights } = decodeStudentWeights(file);
    const { program } = plan(buildNetwork(architecture, batch));
    const executor = await GpuExecutor.create(gpu, program, weights);
    const size = inputSizeOf(architecture);
    const [out] = await executor.run([hostTensor([batch, size, size, 3], input)]);
    executor.dispose();
    return out.data;
  },
});
