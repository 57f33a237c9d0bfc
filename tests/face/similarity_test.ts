// Tests for the similarity fit and affine helpers: known transforms are recovered, mirrored point
// sets give a proper rotation, inverses round-trip, and face alignment warps an image and back.

import assert from "node:assert/strict";
import { rng } from "../../src/graph/random.ts";
import {
  type Affine,
  alignFace,
  alignmentFromSimilarity,
  applyAffine,
  composeAffine,
  fitSimilarity,
  invertAffine,
  similarityAffine,
} from "../../src/face/similarity.ts";
import { FACE_TEMPLATE, templatePointsInCrop } from "../../src/face/template.ts";
import { warpImage } from "../../src/distill/crop.ts";
import { canonicalInFrame, smoothImage } from "../fixtures/faces.ts";

const close = (a: number, b: number, tol: number, what = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

function randomPoints(n: number, seed: number): [number, number][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => [r() * 200 - 50, r() * 160 + 10]);
}

Deno.test("fitSimilarity recovers rotation, scale and translation exactly", () => {
  const cases = [
    { scale: 1, angle: 0, tx: 0, ty: 0 },
    { scale: 2.5, angle: 0.3, tx: 10, ty: -4 },
    { scale: 0.4, angle: -2.9, tx: -300, ty: 120 },
    { scale: 1.1, angle: Math.PI / 2, tx: 5, ty: 5 },
  ];
  cases.forEach((s, k) => {
    const src = randomPoints(12, k + 1);
    const t = similarityAffine(s);
    const dst = src.map(([x, y]) => applyAffine(t, x, y));
    const fit = fitSimilarity(src, dst);
    close(fit.scale, s.scale, 1e-9, "scale");
    close(Math.cos(fit.angle), Math.cos(s.angle), 1e-9, "cos");
    close(Math.sin(fit.angle), Math.sin(s.angle), 1e-9, "sin");
    close(fit.tx, s.tx, 1e-7, "tx");
    close(fit.ty, s.ty, 1e-7, "ty");
    assert.ok(fit.rms < 1e-7, `rms ${fit.rms}`);
  });
});

Deno.test("fitSimilarity is the least-squares fit under noise (recovers the truth closely)", () => {
  const r = rng(7);
  const src = randomPoints(200, 3);
  const truth = similarityAffine({ scale: 1.7, angle: 0.4, tx: 30, ty: -12 });
  const dst = src.map(([x, y]) => {
    const [u, v] = applyAffine(truth, x, y);
    return [u + (r() - 0.5), v + (r() - 0.5)] as [number, number];
  });
  const fit = fitSimilarity(src, dst);
  close(fit.scale, 1.7, 2e-3, "scale");
  close(fit.angle, 0.4, 2e-3, "angle");
  // Least squares: perturbing the answer can only make the error worse.
  const err = (t: Affine) =>
    src.reduce((s, [x, y], i) => {
      const [u, v] = applyAffine(t, x, y);
      return s + (u - dst[i][0]) ** 2 + (v - dst[i][1]) ** 2;
    }, 0);
  const best = err(fit.forward);
  for (
    const d of [{ angle: 1e-3 }, { angle: -1e-3 }, { scale: 1e-3 }, { tx: 0.05 }, { ty: -0.05 }]
  ) {
    const s = { scale: fit.scale, angle: fit.angle, tx: fit.tx, ty: fit.ty };
    for (const [k, v] of Object.entries(d)) s[k as keyof typeof s] += v;
    assert.ok(
      err(similarityAffine(s)) > best,
      `perturbation ${JSON.stringify(d)} improved the fit`,
    );
  }
});

Deno.test("reflection guard: a mirrored point set yields a proper rotation, never a reflection", () => {
  const src = randomPoints(20, 11);
  const mirrored = src.map(([x, y]) => [-x, y] as [number, number]);
  const fit = fitSimilarity(src, mirrored);
  const [a, b, , d, e] = fit.forward;
  assert.ok(a * e - b * d > 0, `determinant ${a * e - b * d} must be positive`);
  close(a, e, 1e-12, "a = e");
  close(b, -d, 1e-12, "b = −d");
  assert.ok(fit.rms > 1, "a mirror cannot be matched by a rotation");
  // Mirror + rotation: still no reflection, and a fit no better than the mirror allows.
  const rot = similarityAffine({ scale: 2, angle: 1, tx: 3, ty: 4 });
  const fit2 = fitSimilarity(src, mirrored.map(([x, y]) => applyAffine(rot, x, y)));
  assert.ok(fit2.forward[0] * fit2.forward[4] - fit2.forward[1] * fit2.forward[3] > 0);
});

Deno.test("fitSimilarity rejects degenerate input", () => {
  assert.throws(
    () => fitSimilarity([[1, 1], [1, 1], [1, 1]], [[0, 0], [1, 0], [0, 1]]),
    /coincide/,
  );
  assert.throws(() => fitSimilarity([[0, 0]], [[1, 1]]), /at least 2/);
  assert.throws(() => fitSimilarity([[0, 0], [1, 0]], [[0, 0]]), /2 source points vs 1/);
  assert.throws(() => fitSimilarity([[0, 0], [NaN, 0]], [[0, 0], [1, 0]]), /non-finite/);
});

Deno.test("affine inverse and composition round-trip (wgpu-matrix)", () => {
  const t: Affine = [1.3, -0.4, 12, 0.5, 0.9, -7];
  const inv = invertAffine(t);
  for (const [x, y] of randomPoints(10, 5)) {
    const [u, v] = applyAffine(t, x, y);
    const [x2, y2] = applyAffine(inv, u, v);
    close(x2, x, 1e-9), close(y2, y, 1e-9);
  }
  const id = composeAffine(t, inv);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => close(id[i], v, 1e-12, `identity[${i}]`));
  // composeAffine(outer, inner) applies inner first.
  const shift: Affine = [1, 0, 5, 0, 1, 0], double: Affine = [2, 0, 0, 0, 2, 0];
  assert.deepEqual(applyAffine(composeAffine(double, shift), 1, 1), [12, 2]);
  assert.throws(() => invertAffine([1, 2, 0, 2, 4, 0]), /singular/);
});

Deno.test("alignFace maps the template landmarks onto the template and inverts exactly", () => {
  const size = 256;
  // A synthetic face: the canonical face placed in a frame by a known crop → frame similarity.
  const truth = similarityAffine({ scale: 1.9, angle: 0.35, tx: 210, ty: 80 });
  const landmarks = canonicalInFrame(truth, size);
  const a = alignFace(landmarks, FACE_TEMPLATE, size);
  a.warp.forEach((v, i) =>
    close(v, truth[i], 2e-3 * Math.max(1, Math.abs(truth[i])), `warp[${i}]`)
  );
  close(a.scale, 1 / 1.9, 1e-4, "scale");
  // The template points land where the template says.
  const dst = templatePointsInCrop(FACE_TEMPLATE, size);
  FACE_TEMPLATE.landmarks.forEach((p, k) => {
    const [u, v] = applyAffine(a.inverse, landmarks[2 * p.index], landmarks[2 * p.index + 1]);
    close(u, dst[k][0], 0.05, `template ${p.index} x`),
      close(v, dst[k][1], 0.05, `template ${p.index} y`);
  });
  const id = composeAffine(a.warp, a.inverse);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => close(id[i], v, 1e-9));
  const b = alignmentFromSimilarity({
    scale: a.scale,
    angle: a.angle,
    tx: a.inverse[2],
    ty: a.inverse[5],
  }, size);
  b.warp.forEach((v, i) => close(v, a.warp[i], 1e-9));
});

Deno.test("warp to the crop and back reproduces the image inside the crop", () => {
  const frame = smoothImage(400, 300);
  const size = 256;
  const truth = similarityAffine({ scale: 0.6, angle: -0.25, tx: 110, ty: 90 });
  const a = alignFace(canonicalInFrame(truth, size), FACE_TEMPLATE, size);
  const crop = warpImage(frame, a.warp, size);
  const back = warpImage(crop, a.inverse, { width: frame.width, height: frame.height });
  // Compare where the frame pixel maps well inside the crop (away from its border).
  let n = 0, err = 0, worst = 0;
  for (let y = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++) {
      const [u, v] = applyAffine(a.inverse, x + 0.5, y + 0.5);
      if (u < 2 || v < 2 || u > size - 2 || v > size - 2) continue;
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(
          back.data[(y * frame.width + x) * 4 + c] - frame.data[(y * frame.width + x) * 4 + c],
        );
        err += d, worst = Math.max(worst, d), n++;
      }
    }
  }
  assert.ok(n > 3 * 20_000, `only ${n / 3} pixels compared`);
  assert.ok(err / n < 1.0, `mean error ${err / n}`);
  assert.ok(worst <= 6, `worst error ${worst}`);
});
