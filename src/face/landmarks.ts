// Landmark arrays as the face code accepts them: MediaPipe's 478 points either as a flat typed
// array (interleaved x, y or x, y, z) or as a list of [x, y(, z)] points, in some pixel space.

/** 468 face-mesh points + 10 iris points (468..477). */
export const LANDMARK_COUNT = 478;
/** Face-mesh points without the iris refinement. */
export const MESH_COUNT = 468;

/**
 * A face's landmarks. Flat arrays are interleaved (x, y) pairs, or (x, y, z) triples when the
 * length is 3 × 478 or 3 × 468 (the tracker's output); lists hold one [x, y, …] per point.
 */
export type Landmarks = Float32Array | Float64Array | readonly (readonly number[])[];

export type Point = readonly [number, number];

/** Values per point in a flat array. */
export function landmarkStride(lm: Float32Array | Float64Array): 2 | 3 {
  return lm.length === 3 * LANDMARK_COUNT || lm.length === 3 * MESH_COUNT ? 3 : 2;
}

export function landmarkCount(lm: Landmarks): number {
  return ArrayBuffer.isView(lm) ? lm.length / landmarkStride(lm) : lm.length;
}

/** Point i as [x, y]; throws on an index the array doesn't have. */
export function landmarkPoint(lm: Landmarks, i: number): Point {
  if (ArrayBuffer.isView(lm)) {
    const s = landmarkStride(lm);
    if (i < 0 || (i + 1) * s > lm.length) {
      throw new RangeError(`landmark ${i} is out of range (${lm.length / s} points)`);
    }
    return [lm[i * s], lm[i * s + 1]];
  }
  const p = lm[i];
  if (!p) throw new RangeError(`landmark ${i} is out of range (${lm.length} points)`);
  return [p[0], p[1]];
}

/** All points as [x, y] pairs. */
export function toPoints(lm: Landmarks): [number, number][] {
  const n = landmarkCount(lm);
  return Array.from({ length: n }, (_, i) => [...landmarkPoint(lm, i)] as [number, number]);
}

/** Interleaved (x, y) pairs. */
export function toFlatXY(lm: Landmarks): Float32Array {
  const n = landmarkCount(lm);
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const [x, y] = landmarkPoint(lm, i);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}
