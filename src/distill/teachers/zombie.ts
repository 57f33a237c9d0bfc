// Zombie teacher, driven by landmark masks: greenish-grey, mottled, veined skin; sunken dark eye
// sockets; yellowed bloodshot eyes with milky irises; pale cracked lips. Only colour and texture
// change (the photo's lightness detail is kept), so the person stays recognisable.

import { landmarkPoint, type Landmarks, type Point } from "../../face/landmarks.ts";
import {
  faceUnit,
  type Mask,
  polygonMask,
  polygonsMask,
  regionMask,
  subtract,
} from "../../face/masks.ts";
import { LEFT_IRIS, LEFT_IRIS_CENTER, RIGHT_IRIS, RIGHT_IRIS_CENTER } from "../../face/topology.ts";
import type { RgbaImage } from "../../media/codec.ts";
import {
  blurPlane,
  clamp01,
  fractalNoise,
  fromRgb,
  labToRgb,
  mix,
  noisePlane,
  type Plane,
  plane,
  rgbToLab,
  smoothstep,
  toRgb,
} from "./ops.ts";
import type { Teacher } from "./teacher.ts";

/** Thin bright lines where a noise field crosses its midpoint: a branching, vein-like network. */
function ridges(n: Plane, width: number): Plane {
  const out = { ...n, data: new Float32Array(n.data.length) };
  for (let i = 0; i < n.data.length; i++) {
    out.data[i] = 1 - smoothstep(0, width, Math.abs(n.data[i] - 0.5));
  }
  return out;
}

function ellipse(cx: number, cy: number, rx: number, ry: number): Point[] {
  return Array.from({ length: 32 }, (_, k) => {
    const a = (2 * Math.PI * k) / 32;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}

function irisMask(
  lm: Landmarks,
  center: number,
  rim: readonly number[],
  w: number,
  h: number,
  scale: number,
): Mask {
  const [cx, cy] = landmarkPoint(lm, center);
  const r = rim.reduce((s, i) => {
    const [x, y] = landmarkPoint(lm, i);
    return s + Math.hypot(x - cx, y - cy);
  }, 0) / rim.length * scale;
  return polygonMask(ellipse(cx, cy, r, r), w, h, { feather: 1.5 });
}

/** Median Lab colour of the pixels where `mask` > 0.5 (the face's own skin tone). */
function medianLab(lab: Float32Array, mask: Mask): [number, number, number] {
  const chans: number[][] = [[], [], []];
  for (let p = 0; p < mask.data.length; p++) {
    if (mask.data[p] > 0.5) { for (let c = 0; c < 3; c++) chans[c].push(lab[3 * p + c]); }
  }
  return chans.map((v) => {
    v.sort((a, b) => a - b);
    return v.length ? v[v.length >> 1] : 0;
  }) as [number, number, number];
}

export interface ZombieOptions {
  /** Share of the look's lightness changes (pallor, sockets, hollows, veins) applied, 0..1. */
  shading?: number;
  /** How far the eyes go towards yellowed whites and milky irises, 0..1. */
  eyes?: number;
}

export function zombie(crop: RgbaImage, landmarks: Landmarks, o: ZombieOptions = {}): RgbaImage {
  // Colour in full, light and shade and the eyes at half: on the three large-face crops the face
  // landmarker moves by 1.25 % of the inter-ocular distance between a crop and this look of it,
  // against 2.4 % with everything in full. The landmarker reads shading as shape, and a look it
  // misreads is a face whose paste drifts.
  const shading = o.shading ?? 0.5, eyeStrength = o.eyes ?? 0.5;
  const { width: w, height: h } = crop;
  const unit = faceUnit(landmarks); // inter-ocular distance in pixels
  const lab = rgbToLab(toRgb(crop));

  // Regions. The face reaches a little past the oval (jaw, hairline) with a soft edge.
  const face = regionMask(landmarks, "face", w, h, { grow: 0.02 * unit, feather: 0.18 * unit });
  const skinCore = regionMask(landmarks, "skin", w, h, { grow: -0.1 * unit, feather: 2 });
  const lipsOuter = regionMask(landmarks, "lips", w, h, { feather: 0.04 * unit });
  const mouth = regionMask(landmarks, "mouth", w, h, { feather: 0.03 * unit });
  const lips = subtract({ ...lipsOuter, data: lipsOuter.data.slice() }, mouth);
  const eyes = regionMask(landmarks, "eyes", w, h, { feather: 1.5 });
  const sockets = regionMask(landmarks, "eyes", w, h, { grow: 0.17 * unit, feather: 0.34 * unit });
  const innerSockets = regionMask(landmarks, "eyes", w, h, {
    grow: 0.05 * unit,
    feather: 0.12 * unit,
  });
  const irisR = irisMask(landmarks, RIGHT_IRIS_CENTER, RIGHT_IRIS, w, h, 1);
  const irisL = irisMask(landmarks, LEFT_IRIS_CENTER, LEFT_IRIS, w, h, 1);
  const pupilR = irisMask(landmarks, RIGHT_IRIS_CENTER, RIGHT_IRIS, w, h, 0.4);
  const pupilL = irisMask(landmarks, LEFT_IRIS_CENTER, LEFT_IRIS, w, h, 0.4);
  // Hollow cheeks: a soft shadow under each cheekbone, between the eye corner, the mouth corner
  // and the side of the face.
  const hollows = [[33, 61, 234], [263, 291, 454]].map(([eye, mouthCorner, side]) => {
    const [ex, ey] = landmarkPoint(landmarks, eye),
      [mx, my] = landmarkPoint(landmarks, mouthCorner);
    const [sx, sy] = landmarkPoint(landmarks, side);
    const x = 0.25 * ex + 0.4 * mx + 0.35 * sx, y = 0.25 * ey + 0.4 * my + 0.35 * sy;
    return ellipse(x, y, 0.2 * unit, 0.3 * unit);
  });
  const hollow = blurPlane(polygonsMask(hollows, w, h, { feather: 0.1 * unit }), 0.12 * unit);

  // Skin beyond the oval (neck, ears, hands) gets the same treatment where its colour matches
  // the face's own skin tone, fading with distance from the face.
  const [sL, sA, sB] = medianLab(lab.data, skinCore);
  // Hair shares skin tones (red, blond): nothing above the top of the forehead is extended.
  const [cx, cy] = landmarkPoint(landmarks, 1);
  const [tx, ty] = landmarkPoint(landmarks, 10), [bx, by] = landmarkPoint(landmarks, 152);
  const ul = Math.hypot(tx - bx, ty - by), ux = (tx - bx) / ul, uy = (ty - by) / ul;
  const topLevel = (tx - cx) * ux + (ty - cy) * uy;
  const skinLike = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) {
    const dA = lab.data[3 * p + 1] - sA, dB = lab.data[3 * p + 2] - sB, dL = lab.data[3 * p] - sL;
    const colour = Math.exp(-(dA * dA + dB * dB) / (2 * 7 * 7) - (dL * dL) / (2 * 25 * 25));
    const x = (p % w) + 0.5 - cx, y = Math.floor(p / w) + 0.5 - cy;
    const far = Math.hypot(x, y * 0.7) / unit;
    const height = x * ux + y * uy;
    skinLike[p] = colour * (1 - smoothstep(1.6, 2.6, far)) *
      (1 - smoothstep(topLevel, topLevel + 0.4 * unit, height));
  }
  const skinArea = blurPlane({ width: w, height: h, data: skinLike }, 1.2);

  // Textures, sized relative to the face so every crop gets the same look.
  const blotch = noisePlane(w, h, 0.35 * unit, 11, 5);
  const bruise = noisePlane(w, h, 0.7 * unit, 23, 3);
  const veinField = noisePlane(w, h, 0.6 * unit, 37, 5);
  const veinWhere = noisePlane(w, h, 0.8 * unit, 41, 2);
  const veins = blurPlane(ridges(veinField, 0.014), 0.7);
  const blood = noisePlane(w, h, 0.05 * unit, 67, 2);
  // Lip cracks run up and down: ridges of noise stretched vertically.
  const crackField = plane(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      crackField.data[y * w + x] = fractalNoise(x / (0.035 * unit), y / (0.25 * unit), 53, 2);
    }
  }
  const cracks = ridges(crackField, 0.035);

  const out = new Float32Array(lab.data.length);
  for (let p = 0; p < w * h; p++) {
    let L = lab.data[3 * p], A = lab.data[3 * p + 1], B = lab.data[3 * p + 2];
    const f = Math.max(face.data[p], skinArea.data[p]);
    if (f > 0.002) {
      // Skin: the living colour drained to a cold grey-green, lightness pulled towards a pallid
      // middle grey (keeping the photo's detail), mottled, with bruises and veins.
      const m = blotch.data[p] - 0.5;
      let zl = 0.72 * L + 0.28 * 60 + 22 * m;
      let zA = 0.1 * (A - sA) - 5 + 8 * m;
      let zB = 0.2 * (B - sB) + 7 - 6 * m;
      const br = smoothstep(0.6, 0.75, bruise.data[p]);
      zl -= 10 * br;
      zA += 6 * br;
      zB -= 9 * br;
      zl -= 22 * hollow.data[p];
      const vein = veins.data[p] * smoothstep(0.45, 0.58, veinWhere.data[p]);
      zl -= 20 * vein;
      zA += 12 * vein;
      zB -= 24 * vein;
      // Sunken sockets: dark, purple-brown, darkest near the lids.
      const s = Math.max(sockets.data[p] * 0.6, innerSockets.data[p] * 0.85);
      zl *= 1 - 0.7 * s;
      zA = mix(zA, 10, 0.6 * s);
      zB = mix(zB, -8, 0.6 * s);
      // Lips: bloodless blue-grey, with dark cracks and a few dried-blood specks.
      const lp = lips.data[p];
      if (lp > 0) {
        const speck = smoothstep(0.7, 0.8, blood.data[p]);
        const lipL = 0.5 * L + 22 - 28 * cracks.data[p] - 14 * speck;
        zl = mix(zl, lipL, lp);
        zA = mix(zA, mix(4, 30, speck), lp);
        zB = mix(zB, mix(-10, 12, speck), lp);
      }
      // Teeth and the mouth's inside: stained yellow-brown and darker.
      const mo = mouth.data[p];
      if (mo > 0) {
        zl = mix(zl, 0.62 * L, mo);
        zA = mix(zA, 3, mo);
        zB = mix(zB, 15, mo);
      }
      // Eyes: yellowed, bloodshot whites; milky grey irises with a faint pupil.
      const e = eyeStrength * eyes.data[p];
      if (e > 0) {
        const iris = Math.max(irisL.data[p], irisR.data[p]);
        const pupil = Math.max(pupilL.data[p], pupilR.data[p]);
        const shot = smoothstep(0.62, 0.74, blood.data[p]);
        const scL = 0.75 * L + 8, scA = 2 + 26 * shot, scB = 26 - 10 * shot;
        const irL = 66 + 0.1 * L - 14 * pupil, irA = -1, irB = -4 + 2 * pupil;
        zl = mix(zl, mix(scL, irL, iris), e);
        zA = mix(zA, mix(scA, irA, iris), e);
        zB = mix(zB, mix(scB, irB, iris), e);
      }
      L = mix(L, zl, shading * f);
      A = mix(A, zA, f);
      B = mix(B, zB, f);
    }
    out[3 * p] = L;
    out[3 * p + 1] = A;
    out[3 * p + 2] = B;
  }
  const rgb = labToRgb({ width: w, height: h, data: out });
  for (let i = 0; i < rgb.data.length; i++) rgb.data[i] = clamp01(rgb.data[i]);
  return fromRgb(rgb);
}

export const zombieTeacher: Teacher = {
  id: "zombie",
  name: "Zombie",
  description:
    "Grey-green mottled skin with veins, sunken sockets, milky eyes and cracked lips; same face.",
  geometric: false,
  apply: (crop, landmarks) => zombie(crop, landmarks),
};
