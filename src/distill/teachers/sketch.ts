// Pencil sketch teacher: colour-dodge of the greyscale by its blurred negative (the classic
// pencil look: white paper, graphite where the tone changes), crisp contour strokes from a
// difference of Gaussians, a soft graphite wash in the shadows, and paper grain.
//
// No hatching: strokes at a fixed phase in crop coordinates cannot be predicted from the face by a
// translation-equivariant student (measured: they alone cap student-vs-teacher PSNR at 19–26 dB),
// so the shadows are shaded by tone, which the student can learn.

import type { Landmarks } from "../../face/landmarks.ts";
import type { RgbaImage } from "../../media/codec.ts";
import {
  blurPlane,
  fromRgb,
  luminance,
  noisePlane,
  plane,
  smoothstep,
  toRgb,
  xdogInk,
} from "./ops.ts";
import type { Teacher } from "./teacher.ts";

export interface SketchOptions {
  /** Blur of the negative, pixels at 256: wider = broader pencil shading. */
  blur?: number;
  /** Darkening of the dodge result (gamma > 1 = heavier graphite). */
  gamma?: number;
  /** Graphite wash in the shadows, 0..1. */
  shading?: number;
  /** Paper colour (RGB 0..1). */
  paper?: [number, number, number];
}

export function sketch(crop: RgbaImage, _landmarks: Landmarks, o: SketchOptions = {}): RgbaImage {
  const { width: w, height: h } = crop;
  const k = w / 256;
  const gamma = o.gamma ?? 2.2, shading = o.shading ?? 0.3;
  const paper = o.paper ?? [0.97, 0.955, 0.92];
  const grey = blurPlane(luminance(toRgb(crop)), 0.6 * k);
  const neg = plane(w, h);
  for (let p = 0; p < w * h; p++) neg.data[p] = 1 - grey.data[p];
  const negBlur = blurPlane(neg, (o.blur ?? 7) * k);
  // Strokes: thin dark contours; a second, wider DoG gives softer construction lines.
  const fine = xdogInk(grey, { sigma: 0.9 * k, k: 1.6, tau: 0.99, phi: 80, epsilon: -0.004 });
  const broad = xdogInk(grey, { sigma: 2.2 * k, k: 1.6, tau: 0.985, phi: 40, epsilon: -0.01 });
  const tone = blurPlane(grey, 3 * k);
  const grain = noisePlane(w, h, 1.2 * k, 7, 2);
  const rgb = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      // Colour dodge: base / (1 − blend), blend = blurred negative.
      const dodge = Math.min(1, grey.data[p] / Math.max(1e-3, 1 - negBlur.data[p]));
      let v = dodge ** gamma;
      v *= 1 - 0.85 * fine.data[p];
      v *= 1 - 0.3 * broad.data[p];
      // Graphite wash: the darkest tones get a soft extra layer of graphite.
      v *= 1 - shading * smoothstep(0.55, 0.15, tone.data[p]);
      // Graphite is never pure black; paper grain shows through.
      v = 0.12 + 0.88 * v;
      v *= 0.94 + 0.06 * grain.data[p];
      for (let c = 0; c < 3; c++) rgb[3 * p + c] = v * paper[c] * (v < 0.9 ? 0.985 : 1);
    }
  }
  return fromRgb({ width: w, height: h, data: rgb });
}

export const sketchTeacher: Teacher = {
  id: "sketch",
  name: "Pencil sketch",
  description:
    "Graphite on paper: dodge-blended shading, contour strokes and a graphite wash in the shadows.",
  geometric: false,
  apply: (crop, landmarks) => sketch(crop, landmarks),
};
