// The client's alignment glue (FaceAligner): tracks keep their identity and batch slot, a still
// face gives a still crop even under landmark noise, motion is followed, smoothing works in crop
// pixels whatever the face size, and the outline lands where the template says.

import assert from "node:assert/strict";
import { cropMotion, FaceAligner } from "../../src/client/faces.ts";
import {
  type Affine,
  alignFace,
  applyAffine,
  DEFAULT_SMOOTHING,
  FACE_OVAL,
  FACE_TEMPLATE,
} from "../../src/face/mod.ts";
import { rng } from "../../src/graph/random.ts";
import { canonicalInFrame } from "../fixtures/faces.ts";

const SIZE = 128;

/** A canonical face whose crop → frame warp is a similarity: `scale` frame px per crop px. */
function faceAt(x: number, y: number, scale: number, angle = 0): Float32Array {
  const c = scale * Math.cos(angle), s = scale * Math.sin(angle);
  const half = SIZE / 2;
  const t: Affine = [c, -s, x - c * half + s * half, s, c, y - s * half - c * half];
  return canonicalInFrame(t, SIZE);
}

function jitter(lm: Float32Array, amount: number, random: () => number): Float32Array {
  return lm.map((v) => v + (random() * 2 - 1) * amount);
}

const aligner = (hold?: number) =>
  new FaceAligner({ template: FACE_TEMPLATE, size: SIZE, smoothing: DEFAULT_SMOOTHING, hold });

Deno.test("tracks keep their id and order when faces swap places in the tracker's list", () => {
  const a = aligner();
  const left = faceAt(150, 200, 2), right = faceAt(450, 210, 2);
  const first = a.update([left, right], 0);
  assert.deepEqual(first.map((f) => f.id), [1, 2]);
  const swapped = a.update([right, left], 33);
  assert.deepEqual(swapped.map((f) => f.id), [1, 2], "batch slots follow the tracks");
  assert.ok(Math.abs(swapped[0].alignment.warp[2] - first[0].alignment.warp[2]) < 1e-6);
  // One leaves and a new one arrives: the newcomer gets a new id, after the survivor.
  const next = a.update([faceAt(300, 400, 1.5), right], 66);
  assert.deepEqual(next.map((f) => f.id), [2, 3]);
  assert.equal(a.tracks, 2);
  a.reset();
  assert.deepEqual(a.update([left], 100).map((f) => f.id), [4]);
});

Deno.test("the alignment fits the template and the outline is the face oval in crop pixels", () => {
  const lm = faceAt(320, 240, 2.5, 0.3);
  const [face] = aligner().update([lm], 0, false);
  const direct = alignFace(lm, FACE_TEMPLATE, SIZE);
  for (let k = 0; k < 6; k++) assert.ok(Math.abs(face.alignment.warp[k] - direct.warp[k]) < 1e-4);
  assert.equal(face.outline.length, FACE_OVAL.length * 2);
  FACE_OVAL.forEach((i, k) => {
    const [u, v] = applyAffine(face.alignment.warp, face.outline[2 * k], face.outline[2 * k + 1]);
    assert.ok(Math.hypot(u - lm[2 * i], v - lm[2 * i + 1]) < 1e-3, `oval point ${k}`);
  });
  // The oval sits inside the crop with margin (the template's crop scale keeps context).
  for (const v of face.outline) assert.ok(v > 0 && v < SIZE, `outline coordinate ${v}`);
});

Deno.test("a still face under landmark noise gives a crop that does not move", () => {
  const random = rng(3);
  const truth = faceAt(320, 240, 3);
  const a = aligner();
  let previous: Affine | undefined;
  let moves = 0, rawMotion = 0;
  let lastRaw: Float32Array | undefined;
  for (let i = 0; i < 90; i++) {
    const noisy = jitter(truth, 0.6, random);
    const [face] = a.update([noisy], i * 33);
    if (i >= 30 && previous) {
      if (face.alignment.warp.some((v, k) => v !== previous![k])) moves++;
      rawMotion = Math.max(
        rawMotion,
        alignFace(noisy, FACE_TEMPLATE, SIZE).warp[2] -
          alignFace(lastRaw!, FACE_TEMPLATE, SIZE).warp[2],
      );
    }
    previous = face.alignment.warp;
    lastRaw = noisy;
  }
  assert.ok(rawMotion > 0.05, `the unsmoothed crop moves ${rawMotion} px: the test has no noise`);
  assert.ok(moves <= 3, `the crop moved on ${moves} of 60 still frames`);
  // Without the hold, One-Euro alone lets some of the noise through.
  const b = aligner(0);
  let loose = 0;
  previous = undefined;
  for (let i = 0; i < 60; i++) {
    const [face] = b.update([jitter(truth, 0.6, random)], i * 33);
    if (i >= 30 && previous && face.alignment.warp.some((v, k) => v !== previous![k])) loose++;
    previous = face.alignment.warp;
  }
  assert.ok(loose > 20, `without the hold the crop moved on only ${loose} frames`);
});

Deno.test("a moving face is followed: lag bounded, and it settles exactly where it stops", () => {
  const a = aligner();
  let face;
  // 300 px/s to the right for 1 s at 30 fps, then still.
  for (let i = 0; i <= 30; i++) [face] = a.update([faceAt(200 + 10 * i, 240, 2)], i * 33.3);
  const truth = alignFace(faceAt(500, 240, 2), FACE_TEMPLATE, SIZE);
  const lag = cropMotion(face!.alignment, truth, face!.outline);
  assert.ok(lag < 12, `lag ${lag} crop px while moving at 150 crop px/s`);
  for (let i = 31; i <= 90; i++) [face] = a.update([faceAt(500, 240, 2)], i * 33.3);
  const rest = cropMotion(face!.alignment, truth, face!.outline);
  assert.ok(rest < 0.25, `${rest} crop px from the face 2 s after it stopped`);
});

Deno.test("smoothing is in crop pixels: a far face is smoothed like a near one", () => {
  const run = (scale: number) => {
    const a = aligner(0);
    let face;
    for (let i = 0; i <= 10; i++) {
      [face] = a.update([faceAt(300 + 4 * scale * i, 240, scale)], i * 33.3);
    }
    const truth = alignFace(faceAt(300 + 40 * scale, 240, scale), FACE_TEMPLATE, SIZE);
    return cropMotion(face!.alignment, truth, face!.outline);
  };
  const near = run(4), far = run(1);
  assert.ok(Math.abs(near - far) < 0.05 * near, `lag ${near} vs ${far} crop px`);
});
