// Smile teacher (geometric): a smooth landmark-driven warp that lifts and widens the mouth corners
// and raises the cheeks a little. Forward displacement = a sum of Gaussian bumps at the handles;
// the output is resampled through its inverse, found by fixed-point iteration.

import { landmarkPoint, type Landmarks } from "../../face/landmarks.ts";
import { faceUnit } from "../../face/masks.ts";
import { POINTS } from "../../face/topology.ts";
import type { RgbaImage } from "../../media/codec.ts";
import { fromRgb, sample3, toRgb } from "./ops.ts";
import type { Teacher } from "./teacher.ts";

interface Handle {
  x: number;
  y: number;
  dx: number;
  dy: number;
  /** 1 / (2σ²) */
  k: number;
}

export interface SmileOptions {
  /** Lift of the mouth corners in inter-ocular distances; default 0.11. */
  amount?: number;
}

/** The warp's handles for a face: where each bump sits and how far it pushes. */
export function smileHandles(landmarks: Landmarks, o: SmileOptions = {}): Handle[] {
  const amount = o.amount ?? 0.11;
  const unit = faceUnit(landmarks);
  const pt = (i: number) => landmarkPoint(landmarks, i);
  // Face axes from the landmarks, so tilted faces smile along their own "up".
  const [tx, ty] = pt(POINTS.foreheadTop), [cx, cy] = pt(POINTS.chin);
  const ul = Math.hypot(tx - cx, ty - cy);
  const up = [(tx - cx) / ul, (ty - cy) / ul];
  const [ax, ay] = pt(POINTS.mouthRight), [bx, by] = pt(POINTS.mouthLeft);
  const mx = (ax + bx) / 2, my = (ay + by) / 2;
  const handles: Handle[] = [];
  const bump = (x: number, y: number, dx: number, dy: number, sigma: number) =>
    handles.push({ x, y, dx, dy, k: 1 / (2 * sigma * sigma) });
  for (const [x, y] of [[ax, ay], [bx, by]]) {
    const ol = Math.hypot(x - mx, y - my) || 1;
    const out = [(x - mx) / ol, (y - my) / ol];
    const lift = amount * unit, widen = 0.3 * amount * unit;
    bump(x, y, up[0] * lift + out[0] * widen, up[1] * lift + out[1] * widen, 0.17 * unit);
  }
  // Cheeks (apples) rise with a smile: landmarks 50 and 280 sit on them.
  for (const i of [50, 280]) {
    const [x, y] = pt(i);
    bump(x, y, up[0] * 0.35 * amount * unit, up[1] * 0.35 * amount * unit, 0.3 * unit);
  }
  return handles;
}

function displacement(handles: Handle[], x: number, y: number): [number, number] {
  let dx = 0, dy = 0;
  for (const h of handles) {
    const g = Math.exp(-((x - h.x) ** 2 + (y - h.y) ** 2) * h.k);
    dx += g * h.dx;
    dy += g * h.dy;
  }
  return [dx, dy];
}

/** Where a point moves under the smile warp (for landmarks of the output). */
export function smileForward(handles: Handle[], x: number, y: number): [number, number] {
  const [dx, dy] = displacement(handles, x, y);
  return [x + dx, y + dy];
}

export function smile(crop: RgbaImage, landmarks: Landmarks, o: SmileOptions = {}): RgbaImage {
  const { width: w, height: h } = crop;
  const src = toRgb(crop);
  const handles = smileHandles(landmarks, o);
  const out = new Float32Array(w * h * 3);
  const px = [0, 0, 0];
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const x = i + 0.5, y = j + 0.5;
      // Solve s + D(s) = (x, y): the displacement is small and smooth, so this converges fast.
      let sx = x, sy = y;
      for (let it = 0; it < 6; it++) {
        const [dx, dy] = displacement(handles, sx, sy);
        sx = x - dx;
        sy = y - dy;
      }
      sample3(src, sx, sy, px);
      const at = (j * w + i) * 3;
      out[at] = px[0], out[at + 1] = px[1], out[at + 2] = px[2];
    }
  }
  return fromRgb({ width: w, height: h, data: out });
}

export const smileTeacher: Teacher = {
  id: "smile",
  name: "Smile",
  description: "Lifts the mouth corners and cheeks with a smooth landmark-driven warp.",
  geometric: true,
  apply: (crop, landmarks) => smile(crop, landmarks),
};
