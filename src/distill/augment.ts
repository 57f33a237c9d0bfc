// Seeded training augmentation for face crops: alignment jitter (a small random similarity on top
// of the face's warp), light/colour jitter, horizontal flip with landmark re-indexing, and
// synthetic occluders drawn into the crop (glasses, sunglasses, a hand). Same seed → same result.

import { rng } from "../graph/random.ts";
import { MIRROR } from "../face/canonical.ts";
import { landmarkCount, landmarkPoint, type Landmarks, type Point } from "../face/landmarks.ts";
import { faceUnit, type Mask, polygonsMask, polylineMask, regionMask } from "../face/masks.ts";
import {
  type Affine,
  composeAffine,
  invertAffine,
  similarityAffine,
  transformLandmarks,
} from "../face/similarity.ts";
import { LEFT_EYE, RIGHT_EYE } from "../face/topology.ts";
import type { RgbaImage } from "../media/codec.ts";
import { IDENTITY } from "../runtime/image.ts";
import { warpImage } from "./crop.ts";

export type Random = () => number;

/** A seeded uniform [0, 1) generator (the project's PRNG). */
export const seeded = (seed: number): Random => rng(seed);

const uniform = (r: Random, lo: number, hi: number) => lo + (hi - lo) * r();

// ---- Alignment jitter ----

export interface JitterOptions {
  /** Max shift, fraction of the crop side; default 0.03. */
  shift?: number;
  /** Max relative scale change; default 0.06. */
  scale?: number;
  /** Max rotation, degrees; default 6. */
  rotate?: number;
}

/**
 * A random crop → crop similarity about the crop centre (uniform in the given ranges), i.e. the
 * jitter J such that `composeAffine(warp, J)` is the perturbed crop warp.
 */
export function randomJitter(size: number, random: Random, o: JitterOptions = {}): Affine {
  const shift = (o.shift ?? 0.03) * size,
    ds = o.scale ?? 0.06,
    rot = ((o.rotate ?? 6) * Math.PI) / 180;
  const s = 1 + uniform(random, -ds, ds), a = uniform(random, -rot, rot);
  const tx = uniform(random, -shift, shift), ty = uniform(random, -shift, shift);
  const c = size / 2;
  // u ↦ c + s·R(a)·(u − c) + t
  const cos = s * Math.cos(a), sin = s * Math.sin(a);
  return similarityAffine({
    scale: s,
    angle: a,
    tx: c - (cos * c - sin * c) + tx,
    ty: c - (sin * c + cos * c) + ty,
  });
}

/** The crop warp perturbed by a random jitter (see randomJitter). */
export function jitterWarp(
  warp: Affine,
  size: number,
  random: Random,
  o: JitterOptions = {},
): Affine {
  return composeAffine(warp, randomJitter(size, random, o));
}

// ---- Light and colour ----

export interface ColorOptions {
  /** Max brightness change (multiplicative); default 0.2. */
  brightness?: number;
  /** Max contrast change; default 0.2. */
  contrast?: number;
  /** Max saturation change; default 0.25. */
  saturation?: number;
  /** Max hue rotation in turns; default 0.03. */
  hue?: number;
  /** Max |log| gamma change; default 0.2. */
  gamma?: number;
  /** Max per-channel gain change (white balance); default 0.06. */
  tint?: number;
}

/** Random light/colour change of a whole image (new image). */
export function colorJitter(img: RgbaImage, random: Random, o: ColorOptions = {}): RgbaImage {
  const b = 1 + uniform(random, -1, 1) * (o.brightness ?? 0.2);
  const c = 1 + uniform(random, -1, 1) * (o.contrast ?? 0.2);
  const s = 1 + uniform(random, -1, 1) * (o.saturation ?? 0.25);
  const hue = uniform(random, -1, 1) * (o.hue ?? 0.03) * 2 * Math.PI;
  const g = Math.exp(uniform(random, -1, 1) * (o.gamma ?? 0.2));
  const t = o.tint ?? 0.06;
  const gains = [
    1 + uniform(random, -t, t),
    1 + uniform(random, -t, t),
    1 + uniform(random, -t, t),
  ];
  const n = img.width * img.height;
  let mean = 0;
  for (let p = 0; p < n; p++) {
    mean += (0.299 * img.data[4 * p] + 0.587 * img.data[4 * p + 1] + 0.114 * img.data[4 * p + 2]) /
      255;
  }
  mean /= n;
  // Hue rotation about the grey axis in YIQ.
  const ch = Math.cos(hue), sh = Math.sin(hue);
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < n; p++) {
    let r = img.data[4 * p] / 255, gg = img.data[4 * p + 1] / 255, bb = img.data[4 * p + 2] / 255;
    const y = 0.299 * r + 0.587 * gg + 0.114 * bb;
    let i = 0.596 * r - 0.274 * gg - 0.322 * bb, q = 0.211 * r - 0.523 * gg + 0.312 * bb;
    [i, q] = [(ch * i - sh * q) * s, (sh * i + ch * q) * s];
    r = y + 0.956 * i + 0.621 * q;
    gg = y - 0.272 * i - 0.647 * q;
    bb = y - 1.106 * i + 1.703 * q;
    const rgb = [r, gg, bb];
    for (let k = 0; k < 3; k++) {
      let v = (rgb[k] - mean) * c + mean;
      v = Math.max(0, v * b * gains[k]);
      out[4 * p + k] = Math.round(255 * Math.min(1, v ** g));
    }
    out[4 * p + 3] = img.data[4 * p + 3];
  }
  return { width: img.width, height: img.height, data: out };
}

// ---- Flip ----

/**
 * Mirrors an image left ↔ right and its landmarks with it: point i of the result is the mirror
 * image of point MIRROR[i] (the subject's left eye becomes the right eye, and so on).
 * Landmarks in, interleaved (x, y) pixels out.
 */
export function flipHorizontal(img: RgbaImage, landmarks: Landmarks): {
  image: RgbaImage;
  landmarks: Float32Array;
} {
  const { width: w, height: h } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + (w - 1 - x)) * 4, to = (y * w + x) * 4;
      data[to] = img.data[from];
      data[to + 1] = img.data[from + 1];
      data[to + 2] = img.data[from + 2];
      data[to + 3] = img.data[from + 3];
    }
  }
  const n = landmarkCount(landmarks);
  if (n !== MIRROR.length) throw new Error(`flip needs all ${MIRROR.length} landmarks, got ${n}`);
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const [x, y] = landmarkPoint(landmarks, MIRROR[i]);
    out[2 * i] = w - x;
    out[2 * i + 1] = y;
  }
  return { image: { width: w, height: h, data }, landmarks: out };
}

// ---- Occluders ----

export type OccluderKind = "glasses" | "sunglasses" | "hand";
export const OCCLUDERS: readonly OccluderKind[] = ["glasses", "sunglasses", "hand"];

/** Paints `colour` over `img` with per-pixel opacity `alpha · mask`, in place. */
function paint(
  img: RgbaImage,
  mask: Mask,
  colour: (p: number) => readonly [number, number, number],
  alpha = 1,
): void {
  for (let p = 0; p < mask.data.length; p++) {
    const a = alpha * mask.data[p];
    if (a <= 0) continue;
    const c = colour(p);
    for (let k = 0; k < 3; k++) {
      img.data[4 * p + k] = Math.round(img.data[4 * p + k] * (1 - a) + c[k] * a);
    }
  }
}

function centroid(lm: Landmarks, loop: readonly number[]): Point {
  let x = 0, y = 0;
  for (const i of loop) {
    const [px, py] = landmarkPoint(lm, i);
    x += px / loop.length;
    y += py / loop.length;
  }
  return [x, y];
}

function ellipse(cx: number, cy: number, rx: number, ry: number, angle: number, n = 40): Point[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  return Array.from({ length: n }, (_, k) => {
    const t = (2 * Math.PI * k) / n;
    const x = rx * Math.cos(t), y = ry * Math.sin(t);
    return [cx + c * x - s * y, cy + s * x + c * y];
  });
}

/** Rounded-rectangle-ish lens: a superellipse, |x/rx|^e + |y/ry|^e = 1. */
function lens(cx: number, cy: number, rx: number, ry: number, angle: number, e: number): Point[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  return Array.from({ length: 48 }, (_, k) => {
    const t = (2 * Math.PI * k) / 48;
    const ct = Math.cos(t), st = Math.sin(t);
    const x = rx * Math.sign(ct) * Math.abs(ct) ** (2 / e),
      y = ry * Math.sign(st) * Math.abs(st) ** (2 / e);
    return [cx + c * x - s * y, cy + s * x + c * y];
  });
}

function drawGlasses(img: RgbaImage, lm: Landmarks, random: Random, dark: boolean): void {
  const { width: w, height: h } = img;
  const unit = faceUnit(lm);
  const r = centroid(lm, RIGHT_EYE), l = centroid(lm, LEFT_EYE);
  const angle = Math.atan2(l[1] - r[1], l[0] - r[0]);
  const rx = unit * uniform(random, 0.24, 0.3), ry = rx * uniform(random, 0.62, 0.85);
  const e = uniform(random, 2.2, 4.5); // roundness: 2 = ellipse, larger = boxier
  const drop = unit * uniform(random, 0.0, 0.06); // lenses sit a little below the eye centres
  const [dx, dy] = [-Math.sin(angle) * drop, Math.cos(angle) * drop];
  const lenses = [r, l].map(([x, y]) => lens(x + dx, y + dy, rx, ry, angle, e));
  const frameWidth = unit * (dark ? uniform(random, 0.035, 0.06) : uniform(random, 0.02, 0.05));
  const tones: [number, number, number][] = [[20, 20, 22], [60, 38, 25], [90, 90, 95], [
    140,
    110,
    60,
  ]];
  const frameColour = tones[Math.floor(random() * tones.length)];
  const glassMask = polygonsMask(lenses, w, h, { feather: 1 });
  if (dark) {
    const tint = [uniform(random, 5, 40), uniform(random, 5, 35), uniform(random, 5, 30)];
    const [cx, cy] = [(r[0] + l[0]) / 2, (r[1] + l[1]) / 2];
    paint(img, glassMask, (p) => {
      // Darker at the top, like a gradient lens, with a faint sheen.
      const y = Math.floor(p / w) + 0.5, x = (p % w) + 0.5;
      const v = ((y - cy) * Math.cos(angle) - (x - cx) * Math.sin(angle)) / ry;
      const k = 0.8 + 0.35 * Math.max(-1, Math.min(1, v));
      return [tint[0] * k, tint[1] * k, tint[2] * k];
    }, uniform(random, 0.86, 0.96));
  } else {
    paint(img, glassMask, () => [200, 215, 225], uniform(random, 0.06, 0.14));
  }
  // Highlights: a short bright arc in the upper part of each lens.
  for (const [x, y] of [r, l]) {
    const arc: Point[] = Array.from({ length: 6 }, (_, k) => {
      const t = Math.PI * (1.15 + 0.25 * (k / 5));
      return [x + dx + 0.6 * rx * Math.cos(t + angle), y + dy + 0.5 * ry * Math.sin(t)];
    });
    paint(img, polylineMask(arc, unit * 0.02, w, h, { feather: 1.5 }), () => [255, 255, 255], 0.35);
  }
  // Frame: lens rims, bridge, temples to the sides of the face.
  const rims = lenses.map((pts) => polylineMask(pts, frameWidth, w, h, { closed: true }));
  const inner = (pts: Point[], toward: Point) =>
    pts.reduce((
      a,
      b,
    ) => (Math.hypot(b[0] - toward[0], b[1] - toward[1]) <
        Math.hypot(a[0] - toward[0], a[1] - toward[1])
      ? b
      : a)
    );
  const bridge = polylineMask([inner(lenses[0], l), inner(lenses[1], r)], frameWidth, w, h, {});
  const sides = [234, 454].map((i) => landmarkPoint(lm, i));
  const temples = [0, 1].map((k) =>
    polylineMask(
      [inner(lenses[k], sides[k]), [sides[k][0], sides[k][1] - 0.05 * unit]],
      frameWidth * 0.8,
      w,
      h,
      {},
    )
  );
  for (const m of [...rims, bridge, ...temples]) paint(img, m, () => frameColour);
}

/** Median colour of the face's skin (cheeks, forehead) in a crop. */
function skinColour(img: RgbaImage, lm: Landmarks): [number, number, number] {
  const m = regionMask(lm, "skin", img.width, img.height, { grow: -0.08 * faceUnit(lm) });
  const ch: number[][] = [[], [], []];
  for (let p = 0; p < m.data.length; p++) {
    if (m.data[p] > 0.9) { for (let k = 0; k < 3; k++) ch[k].push(img.data[4 * p + k]); }
  }
  return ch.map((v) => (v.sort((a, b) => a - b), v.length ? v[v.length >> 1] : 180)) as [
    number,
    number,
    number,
  ];
}

function drawHand(img: RgbaImage, lm: Landmarks, random: Random): void {
  const { width: w, height: h } = img;
  const unit = faceUnit(lm);
  // Somewhere over the lower face: a cheek, the mouth or the chin, from either side.
  const anchors = [61, 291, 152, 205, 425, 17].map((i) => landmarkPoint(lm, i));
  const [ax, ay] = anchors[Math.floor(random() * anchors.length)];
  const cx = ax + unit * uniform(random, -0.25, 0.25), cy = ay + unit * uniform(random, 0.1, 0.45);
  const angle = uniform(random, -0.9, 0.9) + (random() < 0.5 ? 0 : Math.PI / 8);
  const size = unit * uniform(random, 0.85, 1.15);
  const up = [Math.sin(angle), -Math.cos(angle)], side = [Math.cos(angle), Math.sin(angle)];
  const palmR = [0.42 * size, 0.5 * size];
  const parts: Point[][] = [ellipse(cx, cy, palmR[0], palmR[1], angle)];
  const fingerW = 0.17 * size;
  const spread = uniform(random, 0.0, 0.12);
  const strokes: Point[][] = [];
  for (let f = 0; f < 4; f++) {
    const off = (f - 1.5) * 0.2 * size;
    const bx = cx + side[0] * off + up[0] * 0.35 * size,
      by = cy + side[1] * off + up[1] * 0.35 * size;
    const len = size * [0.55, 0.68, 0.64, 0.5][f] * uniform(random, 0.4, 1.0); // bent fingers are shorter
    const tilt = (f - 1.5) * spread;
    const dirx = up[0] * Math.cos(tilt) + side[0] * Math.sin(tilt);
    const diry = up[1] * Math.cos(tilt) + side[1] * Math.sin(tilt);
    strokes.push([[bx, by], [bx + dirx * len, by + diry * len]]);
  }
  const thumbSide = random() < 0.5 ? -1 : 1;
  const tb: Point = [
    cx + side[0] * thumbSide * 0.35 * size,
    cy + side[1] * thumbSide * 0.35 * size,
  ];
  const tdir = [side[0] * thumbSide * 0.7 + up[0] * 0.7, side[1] * thumbSide * 0.7 + up[1] * 0.7];
  strokes.push([tb, [tb[0] + tdir[0] * 0.45 * size, tb[1] + tdir[1] * 0.45 * size]]);
  const mask = polygonsMask(parts, w, h, { feather: 1.2 });
  for (const s of strokes) {
    const m = polylineMask(s, fingerW, w, h, { feather: 1.2 });
    for (let p = 0; p < mask.data.length; p++) mask.data[p] = Math.max(mask.data[p], m.data[p]);
  }
  // Colour: the face's own skin tone, slightly varied, shaded darker towards the silhouette and
  // along the finger gaps (the finger strokes overlap the palm: darken where a finger edge is).
  const base = skinColour(img, lm);
  const k = uniform(random, 0.9, 1.08), warm = uniform(random, -8, 10);
  const tone: [number, number, number] = [base[0] * k + warm, base[1] * k, base[2] * k - warm / 2];
  const edges = strokes.map((s) => polylineMask(s, fingerW, w, h, { feather: 0.08 * size }));
  const light = [-up[0] * 0.3 + side[0] * 0.5, -up[1] * 0.3 + side[1] * 0.5];
  paint(img, mask, (p) => {
    const x = (p % w) + 0.5, y = Math.floor(p / w) + 0.5;
    let groove = 0;
    for (const e of edges) groove = Math.max(groove, 1 - Math.abs(2 * e.data[p] - 1));
    const lit = 0.9 + 0.12 * (((x - cx) * light[0] + (y - cy) * light[1]) / size);
    const shade = lit * (1 - 0.18 * groove * (mask.data[p] > 0.99 ? 1 : 0));
    return [tone[0] * shade, tone[1] * shade, tone[2] * shade];
  });
}

/** Draws one occluder into a copy of the crop (landmarks in crop pixels). */
export function drawOccluder(
  img: RgbaImage,
  landmarks: Landmarks,
  kind: OccluderKind,
  random: Random,
): RgbaImage {
  const out = { width: img.width, height: img.height, data: img.data.slice() };
  if (kind === "hand") drawHand(out, landmarks, random);
  else drawGlasses(out, landmarks, random, kind === "sunglasses");
  return out;
}

// ---- All together ----

export interface AugmentOptions {
  jitter?: JitterOptions | false;
  color?: ColorOptions | false;
  /** Probability of a horizontal flip; default 0.5. */
  flip?: number;
  /** Probability of an occluder; default 0.3. */
  occluder?: number;
  occluders?: readonly OccluderKind[];
}

export interface Augmented {
  crop: RgbaImage;
  /** Interleaved (x, y) crop pixels, re-indexed after a flip. */
  landmarks: Float32Array;
  /** The crop → source warp actually used (before the flip). */
  warp: Affine;
  flipped: boolean;
  occluder?: OccluderKind;
}

/**
 * One augmented training crop, deterministic in `seed`: cuts `source` through the jittered `warp`
 * (pass the frame and the face's warp to avoid resampling twice, or a crop and IDENTITY), then
 * colour, flip and occluder. `landmarks` are in source pixels.
 */
export function augment(
  source: RgbaImage,
  landmarks: Landmarks,
  seed: number,
  options: AugmentOptions & { warp?: Affine; size?: number } = {},
): Augmented {
  const random = rng(seed);
  const size = options.size ?? source.width;
  const warp = options.jitter === false
    ? options.warp ?? IDENTITY
    : jitterWarp(options.warp ?? IDENTITY, size, random, options.jitter);
  let crop = warpImage(source, warp, size);
  let lm = transformLandmarks(invertAffine(warp), landmarks);
  if (options.color !== false) crop = colorJitter(crop, random, options.color || {});
  const flipped = random() < (options.flip ?? 0.5);
  if (flipped) ({ image: crop, landmarks: lm } = flipHorizontal(crop, lm));
  let occluder: OccluderKind | undefined;
  if (random() < (options.occluder ?? 0.3)) {
    const kinds = options.occluders ?? OCCLUDERS;
    occluder = kinds[Math.floor(random() * kinds.length)];
    crop = drawOccluder(crop, lm, occluder, random);
  }
  return { crop, landmarks: lm, warp, flipped, occluder };
}
