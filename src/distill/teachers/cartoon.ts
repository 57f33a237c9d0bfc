// Cartoon teacher: edge-preserving flattening (iterated bilateral in Lab), soft luminance
// quantisation into a few tone bands, livelier colour, and ink lines from a difference of Gaussians
// (after Winnemöller, Olsen & Gooch, "Real-time video abstraction", 2006).

import type { Landmarks } from "../../face/landmarks.ts";
import type { RgbaImage } from "../../media/codec.ts";
import {
  bilateralLab,
  blurPlane,
  clamp01,
  fromRgb,
  type Image3,
  labToRgb,
  plane,
  rgbToLab,
  smoothstep,
  toRgb,
  xdogInk,
} from "./ops.ts";
import type { Teacher } from "./teacher.ts";

export interface CartoonOptions {
  /** Bilateral passes; more = flatter. */
  passes?: number;
  /** Tone bands over L* 0..100. */
  bands?: number;
  /** Sharpness of the band steps (larger = harder). */
  bandSharpness?: number;
  /** Chroma gain. */
  saturation?: number;
  /** Ink darkness 0..1. */
  ink?: number;
  /** Share of the photo's own lightness kept inside the tone bands, 0..1. */
  keep?: number;
}

export function cartoon(crop: RgbaImage, _landmarks: Landmarks, o: CartoonOptions = {}): RgbaImage {
  const { width: w, height: h } = crop;
  // One bilateral pass and 40 % of the photo's shading kept: on the 41 prepared crops the face
  // landmarker moves by 3.0 % of the inter-ocular distance between a crop and this look of it,
  // against 4.8 % with three passes and 20 % (and loses fewer faces): a face that stays readable
  // stays the same face.
  const passes = o.passes ?? 1, bands = o.bands ?? 7, sharp = o.bandSharpness ?? 0.55;
  const sat = o.saturation ?? 1.2, inkStrength = o.ink ?? 0.9, keep = o.keep ?? 0.4;
  // Scale the filters with the crop: tuned at 256 px.
  const k = w / 256;
  let lab = rgbToLab(toRgb(crop));
  let linesFrom: Image3 | undefined;
  for (let i = 0; i < passes; i++) {
    lab = bilateralLab(lab, 2.5 * k, 9);
    if (i === 0) linesFrom = lab; // lines from a lightly flattened image: outlines, not pores
  }
  // Lines: DoG on the flattened lightness; thin, dark, slightly softened.
  const L = plane(w, h);
  for (let p = 0; p < w * h; p++) L.data[p] = (linesFrom ?? lab).data[3 * p] / 100;
  const ink = blurPlane(
    xdogInk(L, { sigma: 1.2 * k, k: 1.6, tau: 0.98, phi: 90, epsilon: -0.004 }),
    0.4 * k,
  );
  // Soft quantisation: each band is flat, with a short smooth step to the next.
  const step = 100 / bands;
  const out = new Float32Array(lab.data.length);
  for (let p = 0; p < w * h; p++) {
    const l = lab.data[3 * p];
    const base = Math.floor(l / step) * step;
    const t = (l - base) / step; // 0..1 within the band
    const q = base + step * smoothstep(0.5 - sharp / 2, 0.5 + sharp / 2, t);
    // Keep a little of the original shading inside a band so faces stay readable.
    out[3 * p] = (1 - keep) * q + keep * l + 3;
    out[3 * p + 1] = lab.data[3 * p + 1] * sat;
    out[3 * p + 2] = lab.data[3 * p + 2] * sat;
  }
  const rgb = labToRgb({ width: w, height: h, data: out });
  for (let p = 0; p < w * h; p++) {
    const a = 1 - inkStrength * clamp01(ink.data[p]);
    for (let c = 0; c < 3; c++) rgb.data[3 * p + c] = clamp01(rgb.data[3 * p + c]) * a;
  }
  return fromRgb(rgb);
}

export const cartoonTeacher: Teacher = {
  id: "cartoon",
  name: "Cartoon",
  description: "Flat tone bands, bolder colour and ink outlines; the face's geometry is unchanged.",
  geometric: false,
  apply: (crop, landmarks) => cartoon(crop, landmarks),
};
