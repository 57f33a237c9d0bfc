// IEEE half precision, hand-written (not Float16Array, which browsers before Chrome 135 lack) so
// every platform rounds the same: f16 weight files (src/graph/) and the packed parameters of the
// f16 kernels.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 → f16 bits, round to nearest even; overflow → ±Inf, NaN stays NaN, subnormals kept. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00;
  // Normal: drop 13 mantissa bits. Subnormal: also shift the implicit 1 in. Below half the
  // smallest subnormal everything rounds to zero.
  if (e < -10) return sign;
  const m = e > 0 ? mant : mant | 0x800000;
  const shift = e > 0 ? 13 : 14 - e;
  let h = (e > 0 ? e << 10 : 0) | (m >>> shift);
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  // A carry out of the mantissa correctly bumps the exponent (and up to Inf).
  if (rest > half || (rest === half && (h & 1))) h++;
  return sign | h;
}

/** f16 bits → number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** Half bits of each value, padded to whole 32-bit words (the unit writeBuffer takes). */
export function halfBits(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length + (data.length & 1));
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(data[i]);
  return out;
}
