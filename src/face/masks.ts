// Region masks from landmarks: face oval, eyes, brows, lips, mouth and skin (oval minus the
// features), rasterised anti-aliased into Float32Arrays, optionally feathered and grown/shrunk.
//
// A mask value is the coverage of a pixel, from the signed distance d of its centre to the region's
// outline: 0.5 on the outline, ramping to 1 inside and 0 outside over `feather` pixels (1 pixel =
// plain anti-aliasing). `grow` moves the outline outwards (negative: inwards) by that many pixels.

import { landmarkPoint, type Landmarks, type Point } from "./landmarks.ts";
import {
  FACE_OVAL,
  LEFT_BROW,
  LEFT_EYE,
  LIPS_INNER,
  LIPS_OUTER,
  RIGHT_BROW,
  RIGHT_EYE,
} from "./topology.ts";

export type Region =
  | "face"
  | "leftEye"
  | "rightEye"
  | "eyes"
  | "leftBrow"
  | "rightBrow"
  | "brows"
  | "lips"
  | "mouth"
  | "skin";

export const REGIONS: readonly Region[] = [
  "face",
  "leftEye",
  "rightEye",
  "eyes",
  "leftBrow",
  "rightBrow",
  "brows",
  "lips",
  "mouth",
  "skin",
];

export interface MaskOptions {
  /** Width of the soft edge in pixels, centred on the outline; default 1 (anti-aliasing only). */
  feather?: number;
  /** Pixels to move the outline outwards (negative: inwards); default 0. */
  grow?: number;
}

/** A mask: `width` × `height` coverage values in [0, 1], row-major. */
export interface Mask {
  width: number;
  height: number;
  data: Float32Array;
}

const LOOPS: Record<Exclude<Region, "eyes" | "brows" | "skin">, readonly number[]> = {
  face: FACE_OVAL,
  leftEye: LEFT_EYE,
  rightEye: RIGHT_EYE,
  leftBrow: LEFT_BROW,
  rightBrow: RIGHT_BROW,
  lips: LIPS_OUTER,
  mouth: LIPS_INNER,
};

/** The closed outline(s) of a region, as points in the landmarks' pixel space. */
export function regionPolygons(landmarks: Landmarks, region: Region): Point[][] {
  const loop = (idx: readonly number[]) => idx.map((i) => landmarkPoint(landmarks, i));
  switch (region) {
    case "eyes":
      return [loop(LEFT_EYE), loop(RIGHT_EYE)];
    case "brows":
      return [loop(LEFT_BROW), loop(RIGHT_BROW)];
    case "skin":
      return [loop(FACE_OVAL)];
    default:
      return [loop(LOOPS[region])];
  }
}

/** Inter-ocular distance (outer eye corners), the natural length unit of a face. */
export function faceUnit(landmarks: Landmarks): number {
  const [ax, ay] = landmarkPoint(landmarks, 33), [bx, by] = landmarkPoint(landmarks, 263);
  return Math.hypot(bx - ax, by - ay);
}

/**
 * A region's mask. "skin" is the face oval minus the eyes, brows and lips, each of those grown by
 * a little (a fraction of the inter-ocular distance) so lashes and lip edges count as features.
 */
export function regionMask(
  landmarks: Landmarks,
  region: Region,
  width: number,
  height: number,
  options: MaskOptions = {},
): Mask {
  if (region !== "skin") {
    return polygonsMask(regionPolygons(landmarks, region), width, height, options);
  }
  const unit = faceUnit(landmarks);
  const feather = options.feather ?? 1;
  const face = polygonsMask(regionPolygons(landmarks, "face"), width, height, options);
  const cut = (r: Region, grow: number) =>
    subtract(face, polygonsMask(regionPolygons(landmarks, r), width, height, { feather, grow }));
  cut("eyes", 0.05 * unit);
  cut("brows", 0.03 * unit);
  cut("lips", 0.02 * unit);
  return face;
}

/** `a ← a · (1 − b)`, in place; returns a. */
export function subtract(a: Mask, b: Mask): Mask {
  for (let i = 0; i < a.data.length; i++) a.data[i] *= 1 - b.data[i];
  return a;
}

/** `a ← max(a, b)`, in place; returns a. */
export function union(a: Mask, b: Mask): Mask {
  for (let i = 0; i < a.data.length; i++) a.data[i] = Math.max(a.data[i], b.data[i]);
  return a;
}

/** Sum of the coverage, in pixels. */
export function maskArea(m: Mask): number {
  let s = 0;
  for (const v of m.data) s += v;
  return s;
}

/** Mask value at pixel (x, y) (integer column/row); 0 outside the mask. */
export function maskAt(m: Mask, x: number, y: number): number {
  const i = Math.floor(x), j = Math.floor(y);
  return i < 0 || j < 0 || i >= m.width || j >= m.height ? 0 : m.data[j * m.width + i];
}

/** One polygon's mask (see the module header for the edge model). */
export function polygonMask(
  polygon: readonly Point[],
  width: number,
  height: number,
  options: MaskOptions = {},
): Mask {
  return polygonsMask([polygon], width, height, options);
}

/** Union of several polygons, each rasterised as in polygonMask. */
export function polygonsMask(
  polygons: readonly (readonly Point[])[],
  width: number,
  height: number,
  options: MaskOptions = {},
): Mask {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`mask size ${width}×${height} must be positive integers`);
  }
  const feather = Math.max(options.feather ?? 1, 1e-3);
  const grow = options.grow ?? 0;
  const data = new Float32Array(width * height);
  const soft = feather > 1;
  for (const poly of polygons) {
    if (poly.length < 3) continue;
    // Only pixels within reach of the polygon's box can be non-zero.
    const reach = Math.max(0, grow) + feather / 2 + 1;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of poly) {
      x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
    }
    const i0 = Math.max(0, Math.floor(x0 - reach)), i1 = Math.min(width - 1, Math.ceil(x1 + reach));
    const j0 = Math.max(0, Math.floor(y0 - reach)),
      j1 = Math.min(height - 1, Math.ceil(y1 + reach));
    const n = poly.length;
    const xs = new Float64Array(n), ys = new Float64Array(n);
    poly.forEach(([x, y], k) => (xs[k] = x, ys[k] = y));
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      for (let i = i0; i <= i1; i++) {
        const px = i + 0.5;
        let d2 = Infinity, inside = false;
        for (let k = 0, l = n - 1; k < n; l = k++) {
          const ax = xs[l], ay = ys[l], bx = xs[k], by = ys[k];
          // Even–odd crossing test of a ray to +x.
          if ((ay > py) !== (by > py) && px < ax + ((py - ay) * (bx - ax)) / (by - ay)) {
            inside = !inside;
          }
          const ex = bx - ax, ey = by - ay;
          const len2 = ex * ex + ey * ey;
          const t = len2 > 0
            ? Math.min(1, Math.max(0, ((px - ax) * ex + (py - ay) * ey) / len2))
            : 0;
          const dx = px - ax - t * ex, dy = py - ay - t * ey;
          d2 = Math.min(d2, dx * dx + dy * dy);
        }
        const d = (inside ? -Math.sqrt(d2) : Math.sqrt(d2)) - grow;
        let v = Math.min(1, Math.max(0, 0.5 - d / feather));
        if (soft) v = v * v * (3 - 2 * v);
        const at = j * width + i;
        if (v > data[at]) data[at] = v;
      }
    }
  }
  return { width, height, data };
}

/**
 * A stroked polyline: pixels within `width / 2` of the segments (closed: the loop), with the same
 * anti-aliased / feathered edge as the polygons.
 */
export function polylineMask(
  points: readonly Point[],
  strokeWidth: number,
  width: number,
  height: number,
  options: MaskOptions & { closed?: boolean } = {},
): Mask {
  const feather = Math.max(options.feather ?? 1, 1e-3);
  const half = strokeWidth / 2 + (options.grow ?? 0);
  const data = new Float32Array(width * height);
  const segs = points.length - (options.closed ? 0 : 1);
  const reach = half + feather / 2 + 1;
  for (let s = 0; s < segs; s++) {
    const [ax, ay] = points[s], [bx, by] = points[(s + 1) % points.length];
    const i0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
    const i1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + reach));
    const j0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
    const j1 = Math.min(height - 1, Math.ceil(Math.max(ay, by) + reach));
    const ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const px = i + 0.5, py = j + 0.5;
        const t = len2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * ex + (py - ay) * ey) / len2)) : 0;
        const d = Math.hypot(px - ax - t * ex, py - ay - t * ey) - half;
        let v = Math.min(1, Math.max(0, 0.5 - d / feather));
        if (feather > 1) v = v * v * (3 - 2 * v);
        const at = j * width + i;
        if (v > data[at]) data[at] = v;
      }
    }
  }
  return { width, height, data };
}
