// The residual + mask head's defining properties, on the CPU reference and on WebGPU: a closed
// mask keeps the input exactly (identity by construction), and an open one can take a pixel from
// white (+1) to black (−1) with deltaScale 2. The rows' general agreement is in ops_test.ts.

import assert from "node:assert/strict";
import { GpuExecutor, singleStepProgram } from "../../../src/runtime/executor.ts";
import { residualMask } from "../../../src/runtime/ops/eltwise.ts";
import { type HostTensor, hostTensor } from "../../../src/runtime/tensor.ts";
import { gpuTest, testGpu } from "../../support/gpu.ts";

/** x over 3 pixels (white, grey, black), with delta logits `d` and mask logit `m` everywhere. */
function head(d: number, m: number): [HostTensor, HostTensor] {
  const x = hostTensor([1, 1, 3, 3], Float32Array.from([1, 1, 1, 0.2, -0.3, 0.7, -1, -1, -1]));
  const h = hostTensor(
    [1, 1, 3, 4],
    Float32Array.from({ length: 12 }, (_, i) => i % 4 === 3 ? m : d),
  );
  return [x, h];
}

async function onGpu(inputs: HostTensor[], attrs: Record<string, unknown>) {
  const program = singleStepProgram("residual_mask", attrs, inputs.map((t) => t.shape), []);
  const executor = await GpuExecutor.create(await testGpu(), program, new Map());
  const [y] = await executor.run(inputs);
  executor.dispose();
  return y;
}

gpuTest("residual_mask: a closed mask returns x bit for bit", async () => {
  for (const d of [-50, -3, 0.4, 50]) {
    const inputs = head(d, -40);
    assert.deepEqual([...residualMask.reference(inputs, [], {}).data], [...inputs[0].data]);
    assert.deepEqual([...(await onGpu(inputs, {})).data], [...inputs[0].data]);
  }
});

gpuTest("residual_mask: deltaScale 2 spans white to black where the mask is open", async () => {
  const [x, h] = head(-40, 40);
  const white = [x.data[0], x.data[1], x.data[2]];
  for (
    const y of [residualMask.reference([x, h], [], { deltaScale: 2 }), await onGpu([x, h], {})]
  ) {
    // White + 2·tanh(−40) = −1: black.
    assert.deepEqual([y.data[0], y.data[1], y.data[2]], white.map(() => -1));
  }
});

Deno.test("residual_mask: h must carry C delta logits and one mask logit", () => {
  assert.throws(() => residualMask.outputShape([[1, 2, 2, 3], [1, 2, 2, 3]], {}), /needs h with 4/);
  assert.throws(() => residualMask.outputShape([[1, 2, 2, 3], [1, 2, 2, 4]], { deltaScale: 0 }));
});
