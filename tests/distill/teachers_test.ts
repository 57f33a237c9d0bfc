// Tests for the teachers on a real aligned face (face1.jpg with its recorded landmarks): each one
// changes the face, is deterministic, and the non-geometric ones keep every edge where it was.

import assert from "node:assert/strict";
import { cropFace } from "../../src/distill/crop.ts";
import {
  blurPlane,
  luminance,
  type Plane,
  rgbToLab,
  sobel,
  toRgb,
} from "../../src/distill/teachers/ops.ts";
import { smileForward, smileHandles } from "../../src/distill/teachers/smile.ts";
import { teacherById, TEACHERS } from "../../src/distill/teachers/mod.ts";
import { faceUnit, regionMask } from "../../src/face/masks.ts";
import type { RgbaImage } from "../../src/media/codec.ts";
import { FACE1, face1Image, face1Landmarks } from "../fixtures/faces.ts";
import { needs, requireShared } from "../support/env.ts";

const SIZE = 256;
let cached:
  | { crop: RgbaImage; landmarks: Float32Array; outputs: Map<string, RgbaImage> }
  | undefined;
function setup() {
  if (!cached) {
    const { crop, landmarks } = cropFace(face1Image(), face1Landmarks(), SIZE);
    const outputs = new Map(TEACHERS.map((t) => [t.id, t.apply(crop, landmarks)]));
    cached = { crop, landmarks, outputs };
  }
  return cached;
}

function edges(img: RgbaImage): Plane {
  return sobel(blurPlane(luminance(toRgb(img)), 1)).magnitude;
}

/** Normalised cross-correlation of a and b shifted by (dx, dy), over `where` > 0.5. */
function ncc(a: Plane, b: Plane, dx: number, dy: number, where: Float32Array): number {
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = 0;
  for (let y = 8; y < a.height - 8; y++) {
    for (let x = 8; x < a.width - 8; x++) {
      if (where[y * a.width + x] < 0.5) continue;
      const u = a.data[y * a.width + x], v = b.data[(y + dy) * b.width + x + dx];
      sa += u, sb += v, saa += u * u, sbb += v * v, sab += u * v, n++;
    }
  }
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

const gate = requireShared(FACE1);

Deno.test(needs(gate, {
  name: "every teacher changes the face and is deterministic",
  fn() {
    const { crop, landmarks, outputs } = setup();
    const face = regionMask(landmarks, "face", SIZE, SIZE);
    for (const t of TEACHERS) {
      const out = outputs.get(t.id)!;
      assert.equal(out.width, SIZE);
      assert.equal(out.height, SIZE);
      let diff = 0, n = 0;
      for (let p = 0; p < SIZE * SIZE; p++) {
        if (face.data[p] < 0.5) continue;
        for (let c = 0; c < 3; c++) diff += Math.abs(out.data[4 * p + c] - crop.data[4 * p + c]);
        n += 3;
      }
      const floor = t.geometric ? 1 : 8;
      assert.ok(diff / n > floor, `${t.id}: mean change in the face only ${(diff / n).toFixed(2)}`);
      assert.deepEqual(t.apply(crop, landmarks).data, out.data, `${t.id} is not deterministic`);
    }
    assert.throws(() => teacherById("nope"), /unknown teacher "nope"/);
  },
}));

Deno.test(needs(gate, {
  name: "non-geometric teachers keep edges aligned (edge maps correlate best unshifted)",
  fn() {
    const { crop, landmarks, outputs } = setup();
    const face = regionMask(landmarks, "face", SIZE, SIZE, { grow: 10 });
    const before = edges(crop);
    for (const t of TEACHERS.filter((t) => !t.geometric)) {
      const after = edges(outputs.get(t.id)!);
      const zero = ncc(before, after, 0, 0, face.data);
      assert.ok(zero > 0.4, `${t.id}: edge correlation ${zero.toFixed(3)}`);
      for (
        const [dx, dy] of [[2, 0], [-2, 0], [0, 2], [0, -2], [3, 3], [-3, -3], [3, -3], [-3, 3]]
      ) {
        const shifted = ncc(before, after, dx, dy, face.data);
        assert.ok(
          shifted < zero - 0.05,
          `${t.id}: shift (${dx}, ${dy}) correlates ${shifted.toFixed(3)} vs ${zero.toFixed(3)}`,
        );
      }
    }
  },
}));

Deno.test(needs(gate, {
  name:
    "each teacher has its look: sketch is grey, zombie skin is green-grey, smile lifts the corners",
  fn() {
    const { crop, landmarks, outputs } = setup();
    // Sketch: graphite on paper, so the colour spread per pixel stays small.
    const sk = outputs.get("sketch")!;
    let spread = 0;
    for (let p = 0; p < SIZE * SIZE; p++) {
      const [r, g, b] = sk.data.subarray(4 * p, 4 * p + 3);
      spread = Math.max(spread, Math.max(r, g, b) - Math.min(r, g, b));
    }
    assert.ok(spread <= 16, `sketch colour spread ${spread}`);
    // Zombie: the skin's red–green axis (a*) goes from warm to green, the background stays.
    const skin = regionMask(landmarks, "skin", SIZE, SIZE, { grow: -5 });
    const meanA = (img: RgbaImage) => {
      const lab = rgbToLab(toRgb(img));
      let s = 0, n = 0;
      for (let p = 0; p < SIZE * SIZE; p++) if (skin.data[p] > 0.9) (s += lab.data[3 * p + 1]), n++;
      return s / n;
    };
    const zb = outputs.get("zombie")!;
    assert.ok(meanA(crop) > 5, `face1 skin a* ${meanA(crop)}`);
    assert.ok(meanA(zb) < 0, `zombie skin a* ${meanA(zb)}`);
    for (let p = 0; p < 8 * SIZE; p++) {
      assert.equal(zb.data[p], crop.data[p], "zombie changed the top rows");
    }
    // Smile: the corners go up by about 0.11 inter-ocular distances; the top of the crop is untouched.
    const handles = smileHandles(landmarks);
    const [x, y] = [landmarks[2 * 61], landmarks[2 * 61 + 1]];
    const lift = y - smileForward(handles, x, y)[1];
    const unit = faceUnit(landmarks);
    assert.ok(lift > 0.08 * unit && lift < 0.14 * unit, `corner lift ${lift} px of ${unit}`);
    const sm = outputs.get("smile")!;
    for (let p = 0; p < 40 * SIZE * 4; p++) {
      assert.equal(sm.data[p], crop.data[p], "smile changed the top");
    }
  },
}));
