// Tests for training augmentation: deterministic with a seed, jitter bounded and landmark-consistent,
// flip re-indexes landmarks (and twice is the identity), occluders land where they should.

import assert from "node:assert/strict";
import {
  augment,
  colorJitter,
  drawOccluder,
  flipHorizontal,
  jitterWarp,
  seeded,
} from "../../src/distill/augment.ts";
import { regionMask } from "../../src/face/masks.ts";
import { applyAffine } from "../../src/face/similarity.ts";
import { IDENTITY } from "../../src/runtime/image.ts";
import { canonicalInCrop, smoothImage } from "../fixtures/faces.ts";

const SIZE = 128;
const crop = smoothImage(SIZE, SIZE);
const lm = canonicalInCrop(SIZE);

Deno.test("augment is deterministic in its seed", () => {
  const a = augment(crop, lm, 1234, { occluder: 1, flip: 0.5 });
  const b = augment(crop, lm, 1234, { occluder: 1, flip: 0.5 });
  assert.deepEqual(a.crop.data, b.crop.data);
  assert.deepEqual(a.landmarks, b.landmarks);
  assert.deepEqual([a.warp, a.flipped, a.occluder], [b.warp, b.flipped, b.occluder]);
  const c = augment(crop, lm, 1235, { occluder: 1, flip: 0.5 });
  assert.notDeepEqual(c.crop.data, a.crop.data);
  // Over many seeds every option shows up.
  const runs = Array.from(
    { length: 40 },
    (_, s) => augment(crop, lm, s, { occluder: 0.5, color: false }),
  );
  assert.ok(runs.some((r) => r.flipped) && runs.some((r) => !r.flipped));
  for (const kind of ["glasses", "sunglasses", "hand"]) {
    assert.ok(runs.some((r) => r.occluder === kind), kind);
  }
});

Deno.test("alignment jitter stays within its bounds and the landmarks follow the pixels", () => {
  for (let s = 0; s < 20; s++) {
    const warp = jitterWarp(IDENTITY, SIZE, seeded(s), { shift: 0.03, scale: 0.06, rotate: 6 });
    const scale = Math.hypot(warp[0], warp[3]);
    assert.ok(Math.abs(scale - 1) <= 0.06 + 1e-9, `scale ${scale}`);
    assert.ok(Math.abs(Math.atan2(warp[3], warp[0])) <= (6 * Math.PI) / 180 + 1e-9);
    // The centre moves by at most the shift.
    const [cx, cy] = applyAffine(warp, SIZE / 2, SIZE / 2);
    assert.ok(
      Math.abs(cx - SIZE / 2) <= 0.03 * SIZE + 1e-9 &&
        Math.abs(cy - SIZE / 2) <= 0.03 * SIZE + 1e-9,
    );
  }
  // A bright dot at a landmark is found at that landmark's new position.
  const dotted = { ...crop, data: crop.data.slice() };
  const [x, y] = [Math.floor(lm[2 * 1]), Math.floor(lm[2 * 1 + 1])]; // nose tip
  for (let j = -1; j <= 1; j++) {
    for (let i = -1; i <= 1; i++) dotted.data.set([255, 255, 255], ((y + j) * SIZE + x + i) * 4);
  }
  const moved = lm.slice();
  moved[2] = x + 0.5, moved[3] = y + 0.5;
  const a = augment(dotted, moved, 99, { color: false, flip: 0, occluder: 0 });
  const [u, v] = [a.landmarks[2], a.landmarks[3]];
  const at = (Math.floor(v) * SIZE + Math.floor(u)) * 4;
  assert.ok(a.crop.data[at] > 200 && a.crop.data[at + 1] > 200, `dot not at (${u}, ${v})`);
});

Deno.test("flip mirrors pixels and re-indexes landmarks; flipping twice is the identity", () => {
  const f = flipHorizontal(crop, lm);
  assert.deepEqual(
    Array.from(f.image.data.subarray(0, 4)),
    Array.from(crop.data.subarray((SIZE - 1) * 4, SIZE * 4)),
  );
  // The subject's right eye corner (33) of the flipped face is the mirror of the left one (263).
  assert.ok(Math.abs(f.landmarks[2 * 33] - (SIZE - lm[2 * 263])) < 1e-4);
  assert.ok(Math.abs(f.landmarks[2 * 33 + 1] - lm[2 * 263 + 1]) < 1e-4);
  // The canonical face is symmetric: its flip is itself.
  for (let i = 0; i < lm.length; i++) {
    assert.ok(Math.abs(f.landmarks[i] - lm[i]) < 0.3, `coordinate ${i}`);
  }
  const g = flipHorizontal(f.image, f.landmarks);
  assert.deepEqual(g.image.data, crop.data);
  for (let i = 0; i < lm.length; i++) assert.ok(Math.abs(g.landmarks[i] - lm[i]) < 1e-4);
});

Deno.test("occluders are drawn where they belong, and colour jitter keeps the geometry", () => {
  const eyes = regionMask(lm, "eyes", SIZE, SIZE);
  const lips = regionMask(lm, "lips", SIZE, SIZE, { grow: 4 });
  const changed = (img: typeof crop, where?: Float32Array) => {
    let n = 0;
    for (let p = 0; p < SIZE * SIZE; p++) {
      if (where && where[p] < 0.5) continue;
      if (
        img.data.subarray(4 * p, 4 * p + 3).some((v, c) => Math.abs(v - crop.data[4 * p + c]) > 8)
      ) n++;
    }
    return n;
  };
  const eyeArea = eyes.data.reduce((s, v) => s + (v >= 0.5 ? 1 : 0), 0);
  const sun = drawOccluder(crop, lm, "sunglasses", seeded(3));
  assert.ok(changed(sun, eyes.data) > 0.9 * eyeArea, "sunglasses cover the eyes");
  assert.equal(changed(sun, lips.data), 0, "sunglasses leave the mouth alone");
  const glasses = drawOccluder(crop, lm, "glasses", seeded(3));
  assert.ok(
    changed(glasses) > 100 && changed(glasses) < changed(sun),
    "glasses: a frame, clear lenses",
  );
  const hand = drawOccluder(crop, lm, "hand", seeded(5));
  assert.ok(changed(hand) > 0.03 * SIZE * SIZE, "a hand covers a good patch");
  assert.deepEqual(drawOccluder(crop, lm, "hand", seeded(5)).data, hand.data);
  // Colour jitter changes values, not positions: a bright dot stays where it was.
  const dotted = { ...crop, data: crop.data.slice() };
  dotted.data.set([255, 255, 255], (64 * SIZE + 64) * 4);
  const cj = colorJitter(dotted, seeded(8));
  assert.notDeepEqual(cj.data, dotted.data);
  const lum = (p: number) => cj.data[4 * p] + cj.data[4 * p + 1] + cj.data[4 * p + 2];
  const p = 64 * SIZE + 64;
  assert.ok(lum(p) > lum(p - 1) + 60 && lum(p) > lum(p + 1) + 60);
});
