// Float image operations for the procedural teachers: planes and RGB images in [0, 1], Gaussian and
// bilateral filters, Lab colour, gradients, difference-of-Gaussians lines and seeded fractal noise.
// Plain CPU code, written for clarity over speed (a teacher may take seconds per crop).

import type { RgbaImage } from "../../media/codec.ts";

/** One channel, row-major. */
export interface Plane {
  width: number;
  height: number;
  data: Float32Array;
}

/** Three interleaved channels (RGB or Lab), row-major. */
export interface Image3 {
  width: number;
  height: number;
  data: Float32Array;
}

export const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
export const mix = (a: number, b: number, t: number) => a + (b - a) * t;
export const smoothstep = (e0: number, e1: number, x: number) => {
  const t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
};

export function plane(width: number, height: number, fill = 0): Plane {
  return { width, height, data: new Float32Array(width * height).fill(fill) };
}

/** RGBA8 → RGB floats in [0, 1] (alpha dropped). */
export function toRgb(img: RgbaImage): Image3 {
  const n = img.width * img.height;
  const data = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) {
    data[3 * p] = img.data[4 * p] / 255;
    data[3 * p + 1] = img.data[4 * p + 1] / 255;
    data[3 * p + 2] = img.data[4 * p + 2] / 255;
  }
  return { width: img.width, height: img.height, data };
}

/** RGB floats → RGBA8 (clamped, rounded, opaque). */
export function fromRgb(img: Image3): RgbaImage {
  const n = img.width * img.height;
  const data = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) data[4 * p + c] = Math.round(255 * clamp01(img.data[3 * p + c]));
    data[4 * p + 3] = 255;
  }
  return { width: img.width, height: img.height, data };
}

/** Rec. 709 luma of gamma-encoded RGB (what people call "greyscale"). */
export function luminance(img: Image3): Plane {
  const out = plane(img.width, img.height);
  for (let p = 0; p < out.data.length; p++) {
    out.data[p] = 0.2126 * img.data[3 * p] + 0.7152 * img.data[3 * p + 1] +
      0.0722 * img.data[3 * p + 2];
  }
  return out;
}

// ---- Lab (sRGB, D65) ----

const srgbToLinear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const linearToSrgb = (v: number) =>
  v <= 0.0031308 ? 12.92 * v : 1.055 * Math.max(v, 0) ** (1 / 2.4) - 0.055;
const labF = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const labFInv = (t: number) => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));
const WHITE = [0.95047, 1, 1.08883];

/** sRGB [0, 1] → CIE Lab (L in [0, 100]). */
export function rgbToLab(img: Image3): Image3 {
  const out = new Float32Array(img.data.length);
  for (let p = 0; p < out.length; p += 3) {
    const r = srgbToLinear(img.data[p]), g = srgbToLinear(img.data[p + 1]);
    const b = srgbToLinear(img.data[p + 2]);
    const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / WHITE[0];
    const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / WHITE[2];
    const fx = labF(x), fy = labF(y), fz = labF(z);
    out[p] = 116 * fy - 16;
    out[p + 1] = 500 * (fx - fy);
    out[p + 2] = 200 * (fy - fz);
  }
  return { width: img.width, height: img.height, data: out };
}

/** CIE Lab → sRGB [0, 1] (not clamped). */
export function labToRgb(img: Image3): Image3 {
  const out = new Float32Array(img.data.length);
  for (let p = 0; p < out.length; p += 3) {
    const fy = (img.data[p] + 16) / 116;
    const fx = fy + img.data[p + 1] / 500, fz = fy - img.data[p + 2] / 200;
    const x = labFInv(fx) * WHITE[0], y = labFInv(fy), z = labFInv(fz) * WHITE[2];
    out[p] = linearToSrgb(3.2406 * x - 1.5372 * y - 0.4986 * z);
    out[p + 1] = linearToSrgb(-0.9689 * x + 1.8758 * y + 0.0415 * z);
    out[p + 2] = linearToSrgb(0.0557 * x - 0.204 * y + 1.057 * z);
  }
  return { width: img.width, height: img.height, data: out };
}

// ---- Filters ----

function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** Separable Gaussian blur of `channels` interleaved channels, edges clamped. */
export function gaussianBlurN(
  data: Float32Array,
  width: number,
  height: number,
  channels: number,
  sigma: number,
): Float32Array {
  if (sigma <= 0) return data.slice();
  const k = gaussianKernel(sigma), r = (k.length - 1) / 2;
  const tmp = new Float32Array(data.length), out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) {
          const xx = Math.min(width - 1, Math.max(0, x + i));
          s += k[i + r] * data[(y * width + xx) * channels + c];
        }
        tmp[(y * width + x) * channels + c] = s;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) {
          const yy = Math.min(height - 1, Math.max(0, y + i));
          s += k[i + r] * tmp[(yy * width + x) * channels + c];
        }
        out[(y * width + x) * channels + c] = s;
      }
    }
  }
  return out;
}

export function blurPlane(p: Plane, sigma: number): Plane {
  return {
    width: p.width,
    height: p.height,
    data: gaussianBlurN(p.data, p.width, p.height, 1, sigma),
  };
}

export function blur3(img: Image3, sigma: number): Image3 {
  return { ...img, data: gaussianBlurN(img.data, img.width, img.height, 3, sigma) };
}

/**
 * Bilateral filter of a Lab image: spatial Gaussian `sigmaS` pixels, range Gaussian `sigmaR` in
 * ΔE units. Edge-preserving: flattens skin and cloth, keeps the outlines between them.
 */
export function bilateralLab(lab: Image3, sigmaS: number, sigmaR: number): Image3 {
  const { width: w, height: h, data } = lab;
  const r = Math.ceil(2 * sigmaS);
  const spatial = new Float32Array((2 * r + 1) ** 2);
  for (let j = -r; j <= r; j++) {
    for (let i = -r; i <= r; i++) {
      spatial[(j + r) * (2 * r + 1) + i + r] = Math.exp(-(i * i + j * j) / (2 * sigmaS * sigmaS));
    }
  }
  const inv2r = 1 / (2 * sigmaR * sigmaR);
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      const L = data[p], A = data[p + 1], B = data[p + 2];
      let sw = 0, sL = 0, sA = 0, sB = 0;
      for (let j = -r; j <= r; j++) {
        const yy = y + j;
        if (yy < 0 || yy >= h) continue;
        for (let i = -r; i <= r; i++) {
          const xx = x + i;
          if (xx < 0 || xx >= w) continue;
          const q = (yy * w + xx) * 3;
          const dL = data[q] - L, dA = data[q + 1] - A, dB = data[q + 2] - B;
          const wt = spatial[(j + r) * (2 * r + 1) + i + r] *
            Math.exp(-(dL * dL + dA * dA + dB * dB) * inv2r);
          sw += wt, sL += wt * data[q], sA += wt * data[q + 1], sB += wt * data[q + 2];
        }
      }
      out[p] = sL / sw, out[p + 1] = sA / sw, out[p + 2] = sB / sw;
    }
  }
  return { width: w, height: h, data: out };
}

/** Sobel gradient magnitude and direction (radians) of a plane. */
export function sobel(p: Plane): { magnitude: Plane; angle: Plane } {
  const { width: w, height: h, data } = p;
  const at = (x: number, y: number) =>
    data[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
  const magnitude = plane(w, h), angle = plane(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) -
        at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) -
        at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      magnitude.data[y * w + x] = Math.hypot(gx, gy) / 8;
      angle.data[y * w + x] = Math.atan2(gy, gx);
    }
  }
  return { magnitude, angle };
}

/**
 * Extended difference of Gaussians (Winnemöller 2012): ink where the luminance has a dark-side
 * edge. Returns ink coverage in [0, 1] (1 = full ink). `sigma` sets line width, `k` the surround
 * ratio, `tau` the edge sensitivity, `phi` the sharpness, `epsilon` the threshold.
 */
export function xdogInk(
  lum: Plane,
  { sigma = 1.0, k = 1.6, tau = 0.98, phi = 60, epsilon = 0.0 } = {},
): Plane {
  const a = blurPlane(lum, sigma), b = blurPlane(lum, sigma * k);
  const out = plane(lum.width, lum.height);
  for (let i = 0; i < out.data.length; i++) {
    const d = a.data[i] - tau * b.data[i];
    // 1 where d ≥ ε (paper), soft ramp below it; ink = 1 − that.
    const white = d >= epsilon ? 1 : 1 + Math.tanh(phi * (d - epsilon));
    out.data[i] = 1 - clamp01(white);
  }
  return out;
}

// ---- Seeded noise ----

function hash2(x: number, y: number, seed: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(seed, 0x9e3779b9);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Smooth value noise in [0, 1] at a point (lattice spacing 1). */
export function valueNoise(x: number, y: number, seed: number): number {
  const xi = Math.floor(x), yi = Math.floor(y);
  const tx = x - xi, ty = y - yi;
  const sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty);
  const a = hash2(xi, yi, seed), b = hash2(xi + 1, yi, seed);
  const c = hash2(xi, yi + 1, seed), d = hash2(xi + 1, yi + 1, seed);
  return mix(mix(a, b, sx), mix(c, d, sx), sy);
}

/** Fractal (fBm) value noise in about [0, 1]: `octaves` layers, each twice as fine. */
export function fractalNoise(x: number, y: number, seed: number, octaves = 4): number {
  let s = 0, amp = 0.5, norm = 0, f = 1;
  for (let o = 0; o < octaves; o++) {
    s += amp * valueNoise(x * f, y * f, seed + o * 101);
    norm += amp;
    amp *= 0.5;
    f *= 2;
  }
  return s / norm;
}

/** A plane of fractal noise with features about `scale` pixels across. */
export function noisePlane(
  width: number,
  height: number,
  scale: number,
  seed: number,
  octaves = 4,
): Plane {
  const out = plane(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      out.data[y * width + x] = fractalNoise(x / scale, y / scale, seed, octaves);
    }
  }
  return out;
}

/** Bilinear sample of an RGB image at a pixel-centre-based point (x, y), edges clamped. */
export function sample3(img: Image3, x: number, y: number, out: Float32Array | number[]): void {
  const { width: w, height: h, data } = img;
  const fx = Math.min(w - 1, Math.max(0, x - 0.5)), fy = Math.min(h - 1, Math.max(0, y - 0.5));
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1);
  const tx = fx - x0, ty = fy - y0;
  for (let c = 0; c < 3; c++) {
    const a = data[(y0 * w + x0) * 3 + c], b = data[(y0 * w + x1) * 3 + c];
    const d = data[(y1 * w + x0) * 3 + c], e = data[(y1 * w + x1) * 3 + c];
    out[c] = mix(mix(a, b, tx), mix(d, e, tx), ty);
  }
}
