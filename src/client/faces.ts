// From raw landmarks per frame to stable aligned faces: faces are matched to tracks across frames,
// each track's landmarks are One-Euro filtered (the manifest's parameters, in crop pixels), and the
// smoothed landmarks give the similarity to the template and the face outline in crop pixels.
//
// Smoothing happens in crop-pixel units: a track fixes its scale (crop px per frame px) when it
// starts and filters landmarks × that scale, so `beta` means the same for a near and a far face.
// One-Euro still lets a little sensor noise through at rest (more at low frame rates), so a track
// keeps its crop until the smoothed fit moves it by more than `hold` crop pixels: a still face
// gives a crop that does not move at all.

import {
  alignFace,
  applyAffine,
  FACE_OVAL,
  type FaceAlignment,
  type FaceTemplate,
  faceUnit,
  landmarkCount,
  landmarkPoint,
  type Landmarks,
  OneEuroFilter,
  type OneEuroParams,
  transformLandmarks,
} from "../face/mod.ts";

export interface AlignedFace {
  /** Stable id of the track this face belongs to (new face → new id). */
  id: number;
  /** Smoothed landmarks, frame pixels, interleaved x, y. */
  landmarks: Float32Array;
  /** The tracker's landmarks for this frame, before smoothing (interleaved x, y). */
  raw: Float32Array;
  alignment: FaceAlignment;
  /** The face oval in crop pixels, interleaved x, y: the composite's region. */
  outline: Float32Array;
}

interface Track {
  id: number;
  filter: OneEuroFilter;
  scale: number;
  centre: [number, number];
  unit: number;
  /** The alignment and outline last published (held while the face is still). */
  held?: { alignment: FaceAlignment; outline: Float32Array; landmarks: Float32Array };
}

export interface AlignerOptions {
  template: FaceTemplate;
  /** Crop side (the effect's input size). */
  size: number;
  smoothing: OneEuroParams;
  /** Landmark indices of the blended region's outline; default the face oval. */
  outline?: readonly number[];
  /** Crop pixels the face must move in its crop before a new crop replaces the held one (0.25). */
  hold?: number;
}

/**
 * How far the face moves from crop `a` to crop `b`: the largest displacement, in crop pixels, of
 * `points` (crop-`a` coordinates, interleaved x, y; e.g. its outline) when seen in crop `b`.
 */
export function cropMotion(a: FaceAlignment, b: FaceAlignment, points: ArrayLike<number>): number {
  let worst = 0;
  for (let k = 0; k + 1 < points.length; k += 2) {
    const u = points[k], v = points[k + 1];
    const [x, y] = applyAffine(a.warp, u, v);
    const [p, q] = applyAffine(b.inverse, x, y);
    worst = Math.max(worst, Math.hypot(p - u, q - v));
  }
  return worst;
}

function centroid(lm: Landmarks): [number, number] {
  const n = landmarkCount(lm);
  let x = 0, y = 0;
  for (let i = 0; i < n; i++) {
    const [px, py] = landmarkPoint(lm, i);
    x += px, y += py;
  }
  return [x / n, y / n];
}

function flatXY(lm: Landmarks): Float64Array {
  const n = landmarkCount(lm);
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = landmarkPoint(lm, i);
    out[2 * i] = x, out[2 * i + 1] = y;
  }
  return out;
}

export class FaceAligner {
  #tracks: Track[] = [];
  #nextId = 1;
  readonly options: Required<AlignerOptions>;

  constructor(options: AlignerOptions) {
    this.options = {
      ...options,
      outline: options.outline ?? FACE_OVAL,
      hold: options.hold ?? 0.25,
    };
  }

  /** Number of faces tracked after the last update. */
  get tracks(): number {
    return this.#tracks.length;
  }

  /**
   * One frame's raw landmarks (frame pixels) → aligned faces, in track order (oldest first, so a
   * face keeps its batch slot). `timestampMs` must increase for smoothing to act; IMAGE-mode callers
   * pass `smooth: false`.
   */
  update(faces: readonly Landmarks[], timestampMs: number, smooth = true): AlignedFace[] {
    const { template, size, smoothing, outline } = this.options;
    const raw = faces.map((lm) => ({ lm, centre: centroid(lm), unit: faceUnit(lm) }));
    // Greedy nearest matching: a face continues the closest track within 60% of its eye span.
    const pairs: { track: Track; face: number; d: number }[] = [];
    for (const track of this.#tracks) {
      raw.forEach((f, i) => {
        const d = Math.hypot(f.centre[0] - track.centre[0], f.centre[1] - track.centre[1]);
        if (d < 0.6 * Math.max(track.unit, f.unit)) pairs.push({ track, face: i, d });
      });
    }
    pairs.sort((a, b) => a.d - b.d);
    const matched = new Map<number, Track>();
    const used = new Set<Track>();
    for (const p of pairs) {
      if (matched.has(p.face) || used.has(p.track)) continue;
      matched.set(p.face, p.track);
      used.add(p.track);
    }
    const next: Track[] = [];
    const out: { track: Track; face: AlignedFace }[] = [];
    raw.forEach((f, i) => {
      let track = matched.get(i);
      if (!track || !smooth) {
        const scale = alignFace(f.lm, template, size).scale;
        track = {
          id: track?.id ?? this.#nextId++,
          filter: new OneEuroFilter(smoothing),
          scale,
          centre: f.centre,
          unit: f.unit,
        };
      }
      const xy = flatXY(f.lm);
      for (let k = 0; k < xy.length; k++) xy[k] *= track.scale;
      const filtered = smooth ? track.filter.filter(xy, timestampMs) : xy;
      const landmarks = new Float32Array(filtered.length);
      for (let k = 0; k < filtered.length; k++) landmarks[k] = filtered[k] / track.scale;
      track.centre = f.centre;
      track.unit = f.unit;
      let alignment = alignFace(landmarks, template, size);
      let published: Float32Array = landmarks;
      let ring: Float32Array;
      const held = track.held;
      const still = held && cropMotion(held.alignment, alignment, held.outline) < this.options.hold;
      if (smooth && held && still) {
        ({ alignment, outline: ring, landmarks: published } = held);
      } else {
        const inCrop = transformLandmarks(alignment.inverse, landmarks);
        ring = Float32Array.from(outline.flatMap((j) => [inCrop[2 * j], inCrop[2 * j + 1]]));
        track.held = { alignment, outline: ring, landmarks };
      }
      const raw = Float32Array.from(flatXY(f.lm));
      next.push(track);
      out.push({
        track,
        face: { id: track.id, landmarks: published, raw, alignment, outline: ring },
      });
    });
    out.sort((a, b) => a.track.id - b.track.id);
    this.#tracks = next;
    return out.map((o) => o.face);
  }

  /** Forgets every track (a new source, or after a seek). */
  reset(): void {
    this.#tracks = [];
  }
}
