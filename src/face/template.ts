// The canonical face template: which landmarks the alignment fits and where they belong, so every
// face lands in the crop at the same place, size and angle. Shape = the manifest's `template`.
//
// Coordinates: the template frame is a unit square whose side is the height of the face oval (from
// the top of the forehead, landmark 10, to the chin, 152), centred on the oval. The crop is that
// square scaled by `cropScale` about its centre, so a template point (x, y) lands at crop pixel
//   size · (0.5 + (x − 0.5) / cropScale, 0.5 + (y − 0.5) / cropScale).

import type { Point } from "./landmarks.ts";

export interface TemplatePoint {
  /** MediaPipe face-mesh index. */
  index: number;
  /** Position in the template frame, [0, 1]. */
  x: number;
  y: number;
}

/** The manifest's `template` shape. */
export interface FaceTemplate {
  landmarks: readonly TemplatePoint[];
  /** Crop side relative to the template frame; > 1 keeps context around the face. */
  cropScale: number;
}

/**
 * 16 rigid-ish points: forehead top, nose bridge (2), nose tip and base, alae, the four eye
 * corners, mouth corners, cheeks at ear level and the chin.
 *
 * How the numbers were made (src/distill/derive_template.ts, reproducible): `deno task prepare` ran
 * MediaPipe FaceLandmarker on ../shared/data/{faces,people}; of the 24 faces found, the 18
 * near-frontal ones (nose tip within 6% of the inter-ocular distance from the eyes' midpoint,
 * cheek depths within 20%) were aligned by generalised Procrustes on all 468 mesh points
 * (similarity fits to the running mean, 20 rounds), averaged, and the mean made exactly symmetric
 * by averaging it with its mirror image. The positions below are that mean shape in the template
 * frame, rounded to 4 decimals. Misfit of a face to these points: 0.03–0.08 inter-ocular distances
 * for frontal faces (0.125 for a ~30° yaw).
 *
 * cropScale 1.8: the face oval fills 1/1.8 = 56% of the crop height, leaving 0.4 oval heights
 * above the forehead point (the hair and the top of the head) and below the chin (the neck);
 * the inter-ocular distance is 29% of the crop side (74 px in a 256 crop).
 */
export const FACE_TEMPLATE: FaceTemplate = {
  landmarks: [
    { index: 10, x: 0.5, y: 0 },
    { index: 168, x: 0.5, y: 0.2914 },
    { index: 6, x: 0.5, y: 0.3377 },
    { index: 1, x: 0.5, y: 0.5374 },
    { index: 2, x: 0.5, y: 0.5818 },
    { index: 33, x: 0.2369, y: 0.3171 },
    { index: 133, x: 0.3978, y: 0.3259 },
    { index: 362, x: 0.6022, y: 0.3259 },
    { index: 263, x: 0.7631, y: 0.3171 },
    { index: 98, x: 0.4034, y: 0.5714 },
    { index: 327, x: 0.5966, y: 0.5714 },
    { index: 61, x: 0.3512, y: 0.7163 },
    { index: 291, x: 0.6488, y: 0.7163 },
    { index: 234, x: 0.0821, y: 0.4284 },
    { index: 454, x: 0.9179, y: 0.4284 },
    { index: 152, x: 0.5, y: 1 },
  ],
  cropScale: 1.8,
};

/** Default crop side in pixels (the student's input size). */
export const DEFAULT_CROP_SIZE = 256;

/** Template frame point → crop pixel, for a `size`×`size` crop. */
export function templateToCrop(t: FaceTemplate, size: number, x: number, y: number): Point {
  return [size * (0.5 + (x - 0.5) / t.cropScale), size * (0.5 + (y - 0.5) / t.cropScale)];
}

/** The template landmarks' positions in a `size`×`size` crop, pixels. */
export function templatePointsInCrop(t: FaceTemplate, size: number): Point[] {
  return t.landmarks.map((p) => templateToCrop(t, size, p.x, p.y));
}

/**
 * A landmark array in the template frame (e.g. CANONICAL_FACE, interleaved x, y) → crop pixels,
 * interleaved x, y.
 */
export function frameToCrop(t: FaceTemplate, size: number, xy: ArrayLike<number>): Float32Array {
  const out = new Float32Array(xy.length);
  for (let i = 0; i < xy.length; i += 2) {
    const [u, v] = templateToCrop(t, size, xy[i], xy[i + 1]);
    out[i] = u;
    out[i + 1] = v;
  }
  return out;
}
