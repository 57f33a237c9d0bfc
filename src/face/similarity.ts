// Similarity transforms (rotation + uniform scale + translation) for face alignment: the
// least-squares Umeyama fit, and 2×3 affines in the warp kernels' convention, composed with wgpu-matrix.
//
// An affine [a, b, c, d, e, f] maps (x, y) to (a·x + b·y + c, d·x + e·y + f), the convention of
// src/runtime/image.ts: for the crop warp it maps a crop pixel centre to a frame point.

import { mat3d } from "wgpu-matrix";
import type { Affine } from "../runtime/image.ts";
import { type FaceTemplate, templatePointsInCrop } from "./template.ts";
import { landmarkCount, landmarkPoint, type Landmarks, type Point } from "./landmarks.ts";

export type { Affine };

/** dst ≈ scale · R(angle) · src + (tx, ty); angle in radians, counter-clockwise in x-right/y-down. */
export interface Similarity {
  scale: number;
  angle: number;
  tx: number;
  ty: number;
}

export interface SimilarityFit extends Similarity {
  /** The transform as a 2×3 affine (src → dst). */
  forward: Affine;
  /** Its exact inverse (dst → src). */
  inverse: Affine;
  /** Root-mean-square distance between the mapped source points and the destination points. */
  rms: number;
}

/**
 * Least-squares similarity from `src` to `dst` (Umeyama 1991), optionally weighted per point.
 *
 * Umeyama: with centred point sets and covariance Σ = Σᵢ wᵢ dᵢ sᵢᵀ = U D Vᵀ, the rotation is
 * R = U S Vᵀ with S = diag(1, sign(det Σ)) — the reflection guard — and the scale is
 * tr(D S) / Σᵢ wᵢ |sᵢ|². For 2×2 matrices both have a closed form: split Σ into a conformal part
 * [[p, −q], [q, p]] and an anti-conformal part; the guarded optimum is the rotation by
 * atan2(q, p) and tr(D S) = 2·√(p² + q²) whether det Σ is positive or not. So no SVD is needed and
 * a mirrored point set can never produce a reflection: the best proper rotation is returned.
 */
export function fitSimilarity(
  src: readonly Point[] | Landmarks,
  dst: readonly Point[] | Landmarks,
  weights?: ArrayLike<number>,
): SimilarityFit {
  const a = asPoints(src), b = asPoints(dst);
  if (a.length !== b.length) {
    throw new Error(`${a.length} source points vs ${b.length} destination`);
  }
  if (a.length < 2) throw new Error(`a similarity fit needs at least 2 points, got ${a.length}`);
  const w = (i: number) => weights ? weights[i] : 1;
  let sw = 0, ax = 0, ay = 0, bx = 0, by = 0;
  for (let i = 0; i < a.length; i++) {
    const wi = w(i);
    if (!(wi >= 0) || !a[i].every(Number.isFinite) || !b[i].every(Number.isFinite)) {
      throw new Error(`point ${i}: non-finite coordinate or negative weight`);
    }
    sw += wi;
    ax += wi * a[i][0];
    ay += wi * a[i][1];
    bx += wi * b[i][0];
    by += wi * b[i][1];
  }
  if (!(sw > 0)) throw new Error("the weights sum to zero");
  ax /= sw, ay /= sw, bx /= sw, by /= sw;
  // Σ = Σ w · (dst − d̄)(src − s̄)ᵀ, and the source variance.
  let m11 = 0, m12 = 0, m21 = 0, m22 = 0, varA = 0;
  for (let i = 0; i < a.length; i++) {
    const wi = w(i);
    const sx = a[i][0] - ax, sy = a[i][1] - ay;
    const dx = b[i][0] - bx, dy = b[i][1] - by;
    m11 += wi * dx * sx;
    m12 += wi * dx * sy;
    m21 += wi * dy * sx;
    m22 += wi * dy * sy;
    varA += wi * (sx * sx + sy * sy);
  }
  if (!(varA > 1e-12 * sw)) throw new Error("the source points coincide: no similarity is defined");
  const p = (m11 + m22) / 2, q = (m21 - m12) / 2;
  const angle = Math.atan2(q, p);
  const scale = (2 * Math.hypot(p, q)) / varA;
  const cos = scale * Math.cos(angle), sin = scale * Math.sin(angle);
  const tx = bx - (cos * ax - sin * ay);
  const ty = by - (sin * ax + cos * ay);
  const forward: Affine = [cos, -sin, tx, sin, cos, ty];
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = applyAffine(forward, a[i][0], a[i][1]);
    err += w(i) * ((x - b[i][0]) ** 2 + (y - b[i][1]) ** 2);
  }
  return {
    scale,
    angle,
    tx,
    ty,
    forward,
    inverse: invertAffine(forward),
    rms: Math.sqrt(err / sw),
  };
}

function asPoints(p: readonly Point[] | Landmarks): Point[] {
  if (ArrayBuffer.isView(p)) {
    return Array.from({ length: landmarkCount(p) }, (_, i) => landmarkPoint(p, i));
  }
  return p.map((q) => [q[0], q[1]] as const);
}

/** The similarity as an affine. */
export function similarityAffine(s: Similarity): Affine {
  const c = s.scale * Math.cos(s.angle), n = s.scale * Math.sin(s.angle);
  return [c, -n, s.tx, n, c, s.ty];
}

// ---- 2×3 affines via wgpu-matrix's 3×3 (column-major, f64) ----

/** The affine as a homogeneous 3×3 wgpu-matrix `mat3d`. */
export function affineToMat3(t: Affine): Float64Array {
  const [a, b, c, d, e, f] = t;
  return mat3d.create(a, d, 0, b, e, 0, c, f, 1);
}

/** The top two rows of a homogeneous 3×3 as an affine. */
export function mat3ToAffine(m: ArrayLike<number>): Affine {
  return [m[0], m[4], m[8], m[1], m[5], m[9]];
}

export function invertAffine(t: Affine): Affine {
  const m = affineToMat3(t);
  if (Math.abs(mat3d.determinant(m)) < 1e-300) throw new Error(`affine [${t}] is singular`);
  return mat3ToAffine(mat3d.inverse(m));
}

/** `outer ∘ inner`: apply `inner` first, then `outer`. */
export function composeAffine(outer: Affine, inner: Affine): Affine {
  return mat3ToAffine(mat3d.multiply(affineToMat3(outer), affineToMat3(inner)));
}

export function applyAffine(t: Affine, x: number, y: number): [number, number] {
  return [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]];
}

/** Maps every landmark through `t`; returns interleaved (x, y) pairs. */
export function transformLandmarks(t: Affine, lm: Landmarks): Float32Array {
  const n = landmarkCount(lm);
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const [x, y] = landmarkPoint(lm, i);
    const [u, v] = applyAffine(t, x, y);
    out[2 * i] = u;
    out[2 * i + 1] = v;
  }
  return out;
}

/** How a face maps between the frame and its aligned square crop. */
export interface FaceAlignment {
  /** Crop pixel → frame pixel: the per-item warp of rgbaToTensor / texture_to_tensor. */
  warp: Affine;
  /** Frame pixel → crop pixel: for paste-back and for landmarks in crop coordinates. */
  inverse: Affine;
  /** Crop pixels per frame pixel. */
  scale: number;
  /** Rotation from frame to crop, radians. */
  angle: number;
  /** RMS template misfit in crop pixels (large = unusual pose or bad landmarks). */
  rms: number;
  /** Crop side in pixels. */
  size: number;
}

/**
 * Aligns a face: fits the similarity that maps the template's landmarks (frame pixels) onto the
 * template positions in a `size`×`size` crop (least squares in crop pixels), and returns the
 * crop → frame warp with its inverse.
 */
export function alignFace(
  landmarks: Landmarks,
  template: FaceTemplate,
  size: number,
): FaceAlignment {
  const dst = templatePointsInCrop(template, size);
  const src = template.landmarks.map((t) => landmarkPoint(landmarks, t.index));
  const fit = fitSimilarity(src, dst);
  return {
    warp: fit.inverse,
    inverse: fit.forward,
    scale: fit.scale,
    angle: fit.angle,
    rms: fit.rms,
    size,
  };
}

/** The alignment for a given frame → crop similarity (e.g. a smoothed one). */
export function alignmentFromSimilarity(s: Similarity, size: number): FaceAlignment {
  const inverse = similarityAffine(s);
  return { warp: invertAffine(inverse), inverse, scale: s.scale, angle: s.angle, rms: 0, size };
}
