// upsample2x's reference against values PyTorch gives, so a PyTorch-trained decoder imports
// exactly (the GPU kernel is held to this reference by ops_test.ts).

import assert from "node:assert/strict";
import { upsample2x } from "../../../src/runtime/ops/resample.ts";
import { hostTensor } from "../../../src/runtime/tensor.ts";

const x = hostTensor([1, 2, 2, 1], Float32Array.from([1, 2, 3, 4]));

Deno.test("bilinear matches F.interpolate(scale_factor=2, align_corners=False)", () => {
  // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), scale_factor=2,
  //   mode="bilinear", align_corners=False)
  const torch = [
    [1.0, 1.25, 1.75, 2.0],
    [1.5, 1.75, 2.25, 2.5],
    [2.5, 2.75, 3.25, 3.5],
    [3.0, 3.25, 3.75, 4.0],
  ];
  const y = upsample2x.reference([x], [], { mode: "bilinear" });
  assert.deepEqual(y.shape, [1, 4, 4, 1]);
  assert.deepEqual([...y.data], torch.flat());
});

Deno.test("nearest repeats each pixel 2×2", () => {
  const y = upsample2x.reference([x], [], { mode: "nearest" });
  assert.deepEqual([...y.data], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
});

Deno.test("channels and batch items stay apart", () => {
  // Two items × two channels: channel c of item n is (10n + c) + the 1..4 ramp.
  const data = new Float32Array(16);
  for (let n = 0; n < 2; n++) {
    for (let p = 0; p < 4; p++) {
      for (let c = 0; c < 2; c++) data[(n * 4 + p) * 2 + c] = 10 * n + c + p + 1;
    }
  }
  const y = upsample2x.reference([hostTensor([2, 2, 2, 2], data)], [], { mode: "bilinear" });
  const one = upsample2x.reference([x], [], { mode: "bilinear" }).data;
  for (let n = 0; n < 2; n++) {
    for (let p = 0; p < 16; p++) {
      for (let c = 0; c < 2; c++) assert.equal(y.data[(n * 16 + p) * 2 + c], one[p] + 10 * n + c);
    }
  }
});

Deno.test("an unknown mode is refused", () => {
  // deno-lint-ignore no-explicit-any
  assert.throws(() => upsample2x.outputShape([[1, 2, 2, 1]], { mode: "bicubic" as any }), /mode/);
});
