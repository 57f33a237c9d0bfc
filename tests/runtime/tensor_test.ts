// Host tensors and their padded GPU layout; uniform structs' WGSL text and byte packing.

import assert from "node:assert/strict";
import { hostTensor, pack, pad4, unpack } from "../../src/runtime/tensor.ts";
import { uniformStruct } from "../../src/runtime/uniforms.ts";

Deno.test("pack/unpack pads channels to vec4s and round-trips, also as a channel slice", () => {
  const t = hostTensor([2, 1, 3, 5], Float32Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(pad4(5), 8);
  const dense = pack(t);
  assert.equal(dense.length, 2 * 3 * 8);
  assert.deepEqual([...dense.subarray(0, 8)], [1, 2, 3, 4, 5, 0, 0, 0]);
  assert.deepEqual(unpack(dense, t.shape), t);
  const slice = { pixelStride: 16, channelOffset: 4 };
  const wide = pack(t, slice);
  assert.deepEqual([...wide.subarray(0, 16)], [0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(unpack(wide, t.shape, slice), t);
  assert.throws(() => hostTensor([1, 2, 2, 3], new Float32Array(5)), /12/);
});

Deno.test("a uniform struct declares its WGSL and packs in the same order", () => {
  const S = uniformStruct("S", { a: "u32", b: "f32", c: "i32", d: "u32", e: "f32" });
  assert.equal(S.wgsl, "struct S {\n  a: u32,\n  b: f32,\n  c: i32,\n  d: u32,\n  e: f32,\n}\n");
  assert.equal(S.byteSize, 32);
  const view = new DataView(S.pack({ a: 7, b: 0.5, c: -2, d: 9, e: 1.5 }));
  assert.deepEqual(
    [
      view.getUint32(0, true),
      view.getFloat32(4, true),
      view.getInt32(8, true),
      view.getUint32(12, true),
      view.getFloat32(16, true),
    ],
    [7, 0.5, -2, 9, 1.5],
  );
  assert.throws(() => S.pack({ a: 1, b: NaN, c: 0, d: 0, e: 0 }), /S\.b/);
});
