// Int8 per-output-channel symmetric quantisation, and the stored form of a whole weight set:
// a quantised tensor `name` is I8 with its scales in sibling `name.scale`; 1-D tensors stay F32.

import { f16BitsToF32, f32ToF16Bits } from "../runtime/half.ts";
import { elementCount, type Tensor, WeightsError } from "./safetensors.ts";

export type ScaleDtype = "F32" | "F16";

export interface Quantized {
  q: Int8Array;
  scales: Float32Array;
}

const SCALE_SUFFIX = ".scale";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Smallest scale representable in `dtype` that is >= exact. Rounding the scale *up* to what
 * will be stored means the largest weight never clamps, so every element stays within
 * scale/2 of its dequantised value, measured with the scale actually stored.
 */
function storableScale(exact: number, dtype: ScaleDtype): number {
  if (dtype === "F16") {
    const h = f32ToF16Bits(exact);
    return f16BitsToF32(f16BitsToF32(h) < exact ? h + 1 : h);
  }
  f32[0] = exact;
  if (f32[0] < exact) u32[0]++; // next float up (exact is positive)
  return f32[0];
}

function checkShape(data: Float32Array | Int8Array, shape: number[], what: string): number {
  const count = elementCount(shape, what);
  if (shape.length === 0) {
    throw new WeightsError("shape", `${what}: a scalar has no output-channel axis`);
  }
  if (count !== data.length) {
    throw new WeightsError(
      "shape",
      `${what}: shape [${shape}] holds ${count} elements but data has ${data.length}`,
    );
  }
  return count;
}

/**
 * Quantise along axis 0 (the output channel in PyTorch's OIHW / [out, in] layout):
 * scale = max|w| / 127 (rounded up to `scaleDtype`), q = round-half-away(w / scale).
 * An all-zero channel gets scale 0 and dequantises to exactly 0.
 */
export function quantizePerChannel(
  data: Float32Array,
  shape: number[],
  opts: { scaleDtype?: ScaleDtype; name?: string } = {},
): Quantized {
  const what = `tensor "${opts.name ?? "?"}"`;
  const scaleDtype = opts.scaleDtype ?? "F32";
  checkShape(data, shape, what);
  const channels = shape[0];
  const per = channels ? data.length / channels : 0;
  const q = new Int8Array(data.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const row = data.subarray(c * per, (c + 1) * per);
    let max = 0;
    for (let i = 0; i < row.length; i++) {
      const a = Math.abs(row[i]);
      if (!(a < Infinity)) {
        throw new WeightsError("nonfinite", `${what}: element ${c * per + i} is ${row[i]}`);
      }
      if (a > max) max = a;
    }
    const scale = storableScale(max / 127, scaleDtype);
    if (!Number.isFinite(scale)) {
      throw new WeightsError(
        "nonfinite",
        `${what}: channel ${c} scale ${max / 127} overflows ${scaleDtype}`,
      );
    }
    scales[c] = scale;
    if (scale === 0) continue;
    for (let i = 0; i < row.length; i++) {
      const x = row[i] / scale;
      const r = Math.sign(x) * Math.round(Math.abs(x)); // half away from zero
      q[c * per + i] = Math.max(-127, Math.min(127, r));
    }
  }
  return { q, scales };
}

/** Inverse of quantizePerChannel: w = q * scale[channel]. */
export function dequantizePerChannel(
  q: Int8Array,
  scales: Float32Array,
  shape: number[],
  name = "?",
): Float32Array {
  const what = `tensor "${name}"`;
  checkShape(q, shape, what);
  if (scales.length !== shape[0]) {
    throw new WeightsError(
      "shape",
      `${what}: ${scales.length} scales in "${name}${SCALE_SUFFIX}" but dim 0 has ${
        shape[0]
      } channels`,
    );
  }
  const out = new Float32Array(q.length);
  const per = shape[0] ? q.length / shape[0] : 0;
  for (let c = 0, i = 0; c < shape[0]; c++) {
    for (const end = i + per; i < end; i++) out[i] = q[i] * scales[c];
  }
  return out;
}

/**
 * Turn an f32 weight set into its stored form: tensors of rank >= 2 become I8 + `.scale`,
 * rank <= 1 (biases, norms) stay F32 because they are tiny and precision-sensitive.
 */
export function quantizeWeights(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  opts: { scaleDtype?: ScaleDtype } = {},
): Record<string, Tensor> {
  const scaleDtype = opts.scaleDtype ?? "F32";
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    // The suffix is how a reader finds scales, so a weight may not use it itself.
    if (name.endsWith(SCALE_SUFFIX)) {
      throw new WeightsError(
        "unexpected",
        `tensor "${name}": names ending in "${SCALE_SUFFIX}" are reserved for scales`,
      );
    }
    if (t.shape.length <= 1) {
      checkShape(t.data, t.shape.length ? t.shape : [1], `tensor "${name}"`);
      out[name] = { dtype: "F32", shape: [...t.shape], data: t.data };
      continue;
    }
    const { q, scales } = quantizePerChannel(t.data, t.shape, { scaleDtype, name });
    out[name] = { dtype: "I8", shape: [...t.shape], data: q };
    out[name + SCALE_SUFFIX] = { dtype: scaleDtype, shape: [scales.length], data: scales };
  }
  return out;
}

/** Inverse of quantizeWeights over parsed tensors: every weight back as f32. */
export function dequantizeWeights(
  tensors: ReadonlyMap<string, Tensor>,
): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (name.endsWith(SCALE_SUFFIX)) {
      const base = name.slice(0, -SCALE_SUFFIX.length);
      if (tensors.get(base)?.dtype !== "I8") {
        throw new WeightsError(
          "unexpected",
          `tensor "${name}": scale without an I8 tensor "${base}"`,
        );
      }
      continue;
    }
    if (t.dtype !== "I8") {
      out.set(name, { shape: t.shape, data: t.data });
      continue;
    }
    const s = tensors.get(name + SCALE_SUFFIX);
    if (!s) {
      throw new WeightsError(
        "missing",
        `tensor "${name}": I8 tensor without its "${name}${SCALE_SUFFIX}" scales`,
      );
    }
    if (s.dtype === "I8") {
      throw new WeightsError(
        "dtype",
        `tensor "${name}${SCALE_SUFFIX}": scales must be F32 or F16, got I8`,
      );
    }
    if (s.shape.length !== 1) {
      throw new WeightsError(
        "shape",
        `tensor "${name}${SCALE_SUFFIX}": scales must be 1-D, got shape [${s.shape}]`,
      );
    }
    out.set(name, { shape: t.shape, data: dequantizePerChannel(t.data, s.data, t.shape, name) });
  }
  return out;
}
