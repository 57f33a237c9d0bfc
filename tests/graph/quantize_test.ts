// Tests for int8 per-channel quantisation: error bounds, rounding, zero channels, and the
// stored-form round trip through safetensors with its error cases.

import assert from "node:assert/strict";
import {
  dequantizePerChannel,
  dequantizeWeights,
  quantizePerChannel,
  quantizeWeights,
} from "../../src/graph/quantize.ts";
import { f16BitsToF32, f32ToF16Bits } from "../../src/runtime/half.ts";
import {
  parseSafetensors,
  type Tensor,
  WeightsError,
  type WeightsErrorCode,
  writeSafetensors,
} from "../../src/graph/safetensors.ts";

function assertCode(fn: () => unknown, code: WeightsErrorCode, message?: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof WeightsError, `expected WeightsError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Every element within scale/2 of the original (plus the f32 rounding of q * scale). */
function assertBounded(w: Float32Array, back: Float32Array, scales: Float32Array): void {
  const per = w.length / scales.length;
  for (let i = 0; i < w.length; i++) {
    const s = scales[Math.floor(i / per)];
    const bound = s / 2 + Math.abs(back[i]) * 2 ** -24;
    assert.ok(
      Math.abs(w[i] - back[i]) <= bound,
      `element ${i}: ${w[i]} -> ${back[i]} (scale ${s})`,
    );
  }
}

Deno.test("per-channel error is at most scale/2; largest weight maps to ±127", () => {
  const rand = rng(1);
  const shape = [6, 3, 3, 3]; // OIHW
  const w = Float32Array.from(
    { length: 6 * 27 },
    (_, i) => (rand() * 2 - 1) * 10 ** (Math.floor(i / 27) - 3),
  );
  const { q, scales } = quantizePerChannel(w, shape);
  assert.equal(scales.length, 6);
  for (let c = 0; c < 6; c++) {
    const row = w.subarray(c * 27, (c + 1) * 27);
    const max = Math.max(...row.map(Math.abs));
    // The scale is max/127 rounded up to the nearest f32: never below, at most one ulp above.
    assert.ok(scales[c] >= max / 127 && scales[c] <= (max / 127) * (1 + 2 ** -23), `channel ${c}`);
    const qrow = q.subarray(c * 27, (c + 1) * 27);
    assert.equal(Math.max(...qrow.map(Math.abs)), 127);
  }
  assertBounded(w, dequantizePerChannel(q, scales, shape), scales);
});

Deno.test("rounding is half away from zero; all-zero channel is exact", () => {
  // max 127 gives scale exactly 1, so w / scale is w itself.
  const w = new Float32Array([127, 0.5, -0.5, 1.5, -1.5, 2.5, -126.5, 0, 0, 0, 0, 0, 0, 0]);
  const { q, scales } = quantizePerChannel(w, [2, 7]);
  assert.deepEqual(scales, new Float32Array([1, 0]));
  assert.deepEqual(q, new Int8Array([127, 1, -1, 2, -2, 3, -127, 0, 0, 0, 0, 0, 0, 0]));
  const back = dequantizePerChannel(q, scales, [2, 7]);
  for (const v of back.subarray(7)) assert.ok(Object.is(v, 0));
});

Deno.test("F16 scales: representable in f16, bound holds for the stored scale, tiny channels too", () => {
  const rand = rng(2);
  const w = Float32Array.from(
    { length: 4 * 50 },
    (_, i) => (rand() * 2 - 1) * [3, 1e-3, 1e-7, 1e-12][i % 4],
  );
  // Interleaved magnitudes above; regroup so each channel has one magnitude.
  const grouped = Float32Array.from(
    { length: 200 },
    (_, i) => w[(i % 50) * 4 + Math.floor(i / 50)],
  );
  const { q, scales } = quantizePerChannel(grouped, [4, 50], { scaleDtype: "F16" });
  for (const s of scales) assert.equal(f16BitsToF32(f32ToF16Bits(s)), s);
  for (const v of q) assert.ok(v >= -127 && v <= 127);
  assertBounded(grouped, dequantizePerChannel(q, scales, [4, 50]), scales);
});

Deno.test("quantizePerChannel rejects bad shapes and non-finite weights", () => {
  assertCode(
    () => quantizePerChannel(new Float32Array(5), [2, 3], { name: "conv" }),
    "shape",
    /"conv".*6.*5/,
  );
  assertCode(() => quantizePerChannel(new Float32Array(1), []), "shape", /scalar/);
  assertCode(
    () => quantizePerChannel(new Float32Array([1, NaN]), [1, 2]),
    "nonfinite",
    /element 1/,
  );
  assertCode(() => quantizePerChannel(new Float32Array([Infinity, 1]), [2, 1]), "nonfinite");
  assertCode(
    () => quantizePerChannel(new Float32Array([1e9, 1]), [1, 2], { scaleDtype: "F16" }),
    "nonfinite",
    /F16/,
  );
  assertCode(
    () => dequantizePerChannel(new Int8Array(6), new Float32Array(3), [2, 3], "conv"),
    "shape",
    /"conv.scale"/,
  );
  assert.deepEqual(quantizePerChannel(new Float32Array(0), [0, 3]), {
    q: new Int8Array(0),
    scales: new Float32Array(0),
  });
});

Deno.test("quantizeWeights → safetensors → dequantizeWeights", () => {
  const rand = rng(3);
  const weights = {
    "enc.conv.weight": {
      shape: [8, 4, 3, 3],
      data: Float32Array.from({ length: 288 }, () => rand() - 0.5),
    },
    "enc.conv.bias": { shape: [8], data: Float32Array.from({ length: 8 }, () => rand()) },
    "head.weight": {
      shape: [10, 16],
      data: Float32Array.from({ length: 160 }, () => rand() * 4 - 2),
    },
  };
  for (const scaleDtype of ["F32", "F16"] as const) {
    const stored = quantizeWeights(weights, { scaleDtype });
    assert.deepEqual(Object.keys(stored).sort(), [
      "enc.conv.bias",
      "enc.conv.weight",
      "enc.conv.weight.scale",
      "head.weight",
      "head.weight.scale",
    ]);
    assert.equal(stored["enc.conv.weight"].dtype, "I8");
    assert.equal(stored["enc.conv.weight.scale"].dtype, scaleDtype);
    assert.deepEqual(stored["enc.conv.weight.scale"].shape, [8]);
    assert.equal(stored["enc.conv.bias"].dtype, "F32");

    const parsed = parseSafetensors(writeSafetensors(stored, { format: "pt" })).tensors;
    const back = dequantizeWeights(parsed);
    assert.deepEqual([...back.keys()].sort(), Object.keys(weights).sort());
    assert.deepEqual(back.get("enc.conv.bias"), weights["enc.conv.bias"]);
    for (const name of ["enc.conv.weight", "head.weight"] as const) {
      const b = back.get(name)!;
      assert.deepEqual(b.shape, weights[name].shape);
      assertBounded(weights[name].data, b.data, parsed.get(name + ".scale")!.data as Float32Array);
    }
  }
});

Deno.test("dequantizeWeights errors: missing scale, wrong length, orphan, wrong dtype", () => {
  const i8 = (shape: number[]): Tensor => ({
    dtype: "I8",
    shape,
    data: new Int8Array(shape.reduce((a, b) => a * b, 1)),
  });
  const f = (n: number, shape = [n]): Tensor => ({
    dtype: "F32",
    shape,
    data: new Float32Array(n),
  });
  const dq = (entries: [string, Tensor][]) => () => dequantizeWeights(new Map(entries));

  assertCode(dq([["w", i8([2, 3])]]), "missing", /"w".*"w.scale"/);
  assertCode(dq([["w", i8([2, 3])], ["w.scale", f(3)]]), "shape", /3 scales.*2 channels/);
  assertCode(dq([["w", i8([2, 3])], ["w.scale", f(2, [1, 2])]]), "shape", /1-D/);
  assertCode(dq([["w", i8([2, 3])], ["w.scale", i8([2])]]), "dtype", /F32 or F16/);
  assertCode(dq([["b", f(2)], ["b.scale", f(2)]]), "unexpected", /"b.scale".*"b"/);
  assertCode(dq([["x.scale", f(2)]]), "unexpected");
  assertCode(
    () => quantizeWeights({ "w.scale": { shape: [2, 2], data: new Float32Array(4) } }),
    "unexpected",
    /reserved/,
  );
  assertCode(() => quantizeWeights({ b: { shape: [3], data: new Float32Array(2) } }), "shape");
});
