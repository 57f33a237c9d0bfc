// IEEE half-precision conversion (f16 weight files, f16 kernels' packed parameters), against the
// platform's own Float16Array and Math.f16round.

import assert from "node:assert/strict";
import { f16BitsToF32, f32ToF16Bits, halfBits } from "../../src/runtime/half.ts";

Deno.test("f16 decode matches Float16Array for all 65536 bit patterns", () => {
  const ref = new Float16Array(new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer);
  for (let h = 0; h < 65536; h++) {
    const got = f16BitsToF32(h);
    if (Number.isNaN(ref[h])) assert.ok(Number.isNaN(got), `bits ${h}`);
    else assert.ok(Object.is(got, ref[h]), `bits ${h}: ${got} vs ${ref[h]}`);
  }
});

Deno.test("f16 encode: every half round trips; round-to-nearest-even edge cases", () => {
  for (let h = 0; h < 65536; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) assert.ok((f32ToF16Bits(v) & 0x7fff) > 0x7c00, `NaN ${h}`);
    else assert.equal(f32ToF16Bits(v), h, `bits ${h}`);
  }
  const cases: [number, number][] = [
    [65519.99, 0x7bff], // just below the midpoint to Inf
    [65520, 0x7c00], // midpoint ties to even = Inf
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [-0, 0x8000],
    [1 + 2 ** -11, 0x3c00], // tie, 1.0 is even
    [1 + 3 * 2 ** -11, 0x3c02], // tie, rounds up to even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
    [2 ** -25, 0x0000], // half the smallest subnormal ties to 0
    [2 ** -25 * 1.0001, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal ulps tie to 2
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up from subnormal into the smallest normal
    [1e-10, 0x0000],
    [-1e-45, 0x8000], // f32 subnormal
  ];
  for (const [v, bits] of cases) assert.equal(f32ToF16Bits(v), bits, `${v}`);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));

  // Against the platform's own rounding on random f32 bit patterns.
  const u = new Uint32Array(20000);
  let s = 12345;
  for (let i = 0; i < u.length; i++) u[i] = s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  for (const v of new Float32Array(u.buffer)) {
    const want = Math.f16round(v);
    const got = f16BitsToF32(f32ToF16Bits(v));
    if (Number.isNaN(want)) assert.ok(Number.isNaN(got));
    else assert.ok(Object.is(got, want), `${v}: ${got} vs ${want}`);
  }
});

Deno.test("halfBits pads to whole 32-bit words, which writeBuffer needs", () => {
  assert.deepEqual([...halfBits([1, -2, 0.5])], [0x3c00, 0xc000, 0x3800, 0]);
  assert.deepEqual([...halfBits([1, 2])], [0x3c00, 0x4000]);
});
