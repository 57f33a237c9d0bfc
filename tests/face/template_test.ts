// Tests for the canonical template and the mesh topology: the template is a valid manifest
// template, symmetric and sensibly placed; the contour loops agree with MediaPipe's own connection
// lists; the mirror table is an involution that swaps left and right.

import assert from "node:assert/strict";
import { FaceLandmarker } from "@mediapipe/tasks-vision";
import { parseManifest } from "../../src/graph/manifest.ts";
import { CANONICAL_FACE, MIRROR } from "../../src/face/canonical.ts";
import { LANDMARK_COUNT } from "../../src/face/landmarks.ts";
import {
  FACE_OVAL,
  LEFT_BROW,
  LEFT_EYE,
  LEFT_IRIS,
  LIPS_INNER,
  LIPS_OUTER,
  RIGHT_BROW,
  RIGHT_EYE,
  RIGHT_IRIS,
} from "../../src/face/topology.ts";
import { FACE_TEMPLATE, templatePointsInCrop } from "../../src/face/template.ts";
import { canonicalInCrop } from "../fixtures/faces.ts";

Deno.test("FACE_TEMPLATE is a valid manifest template", () => {
  const m = parseManifest({
    id: "t",
    name: "t",
    version: "1.0.0",
    description: "",
    inputSize: 256,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    template: FACE_TEMPLATE,
    output: { mode: "residual_mask" },
    blend: { feather: 0.08 },
    smoothing: { minCutoff: 1, beta: 0.01, dCutoff: 1 },
    weights: { url: "/w", sha256: "0".repeat(64), bytes: 1, dtype: "int8" },
    provenance: { teacher: "t" },
  });
  assert.deepEqual(m.template, FACE_TEMPLATE);
  assert.ok(FACE_TEMPLATE.landmarks.length >= 10 && FACE_TEMPLATE.landmarks.length <= 20);
});

Deno.test("the template is left/right symmetric and agrees with the canonical face", () => {
  const byIndex = new Map(FACE_TEMPLATE.landmarks.map((p) => [p.index, p]));
  for (const p of FACE_TEMPLATE.landmarks) {
    const q = byIndex.get(MIRROR[p.index]);
    assert.ok(q, `template has ${p.index} but not its mirror ${MIRROR[p.index]}`);
    assert.ok(
      Math.abs(q.x - (1 - p.x)) < 1e-3 && Math.abs(q.y - p.y) < 1e-3,
      `${p.index} vs ${q.index}`,
    );
    assert.ok(Math.abs(CANONICAL_FACE[2 * p.index] - p.x) < 1e-3, `${p.index} x`);
    assert.ok(Math.abs(CANONICAL_FACE[2 * p.index + 1] - p.y) < 1e-3, `${p.index} y`);
  }
});

Deno.test("the crop holds the whole face with margin", () => {
  const size = 256;
  const lm = canonicalInCrop(size);
  const oval = FACE_OVAL.map((i) => [lm[2 * i], lm[2 * i + 1]]);
  const xs = oval.map((p) => p[0]), ys = oval.map((p) => p[1]);
  // At least 20% of the crop above the forehead point (hair) and 15% beside the face.
  assert.ok(Math.min(...ys) > 0.2 * size, `top ${Math.min(...ys)}`);
  assert.ok(Math.max(...ys) < 0.8 * size, `bottom ${Math.max(...ys)}`);
  assert.ok(Math.min(...xs) > 0.15 * size && Math.max(...xs) < 0.85 * size, "sides");
  for (const [x, y] of templatePointsInCrop(FACE_TEMPLATE, size)) {
    assert.ok(x > 0 && x < size && y > 0 && y < size);
  }
});

type Edge = readonly [number, number];
const key = ([a, b]: Edge) => (a < b ? `${a}-${b}` : `${b}-${a}`);
const loopEdges = (loop: readonly number[]) =>
  loop.map((v, i) => key([v, loop[(i + 1) % loop.length]]));
const mpEdges = (name: string) =>
  (FaceLandmarker as unknown as Record<string, { start: number; end: number }[]>)[name].map((c) =>
    key([c.start, c.end])
  );

Deno.test("contour loops agree with MediaPipe's connection lists", () => {
  const same = (ours: string[], theirs: string[], what: string) =>
    assert.deepEqual([...new Set(ours)].sort(), [...new Set(theirs)].sort(), what);
  same(loopEdges(FACE_OVAL), mpEdges("FACE_LANDMARKS_FACE_OVAL"), "face oval");
  same(
    [...loopEdges(LIPS_OUTER), ...loopEdges(LIPS_INNER)],
    mpEdges("FACE_LANDMARKS_LIPS"),
    "lips",
  );
  same(loopEdges(LEFT_EYE), mpEdges("FACE_LANDMARKS_LEFT_EYE"), "left eye");
  same(loopEdges(RIGHT_EYE), mpEdges("FACE_LANDMARKS_RIGHT_EYE"), "right eye");
  same(loopEdges(LEFT_IRIS), mpEdges("FACE_LANDMARKS_LEFT_IRIS"), "left iris");
  same(loopEdges(RIGHT_IRIS), mpEdges("FACE_LANDMARKS_RIGHT_IRIS"), "right iris");
  // MediaPipe draws a brow as two open strokes (lower and upper edge); our loop closes them.
  for (const [loop, name] of [[LEFT_BROW, "LEFT"], [RIGHT_BROW, "RIGHT"]] as const) {
    const ours = new Set(loopEdges(loop)), theirs = mpEdges(`FACE_LANDMARKS_${name}_EYEBROW`);
    for (const e of theirs) assert.ok(ours.has(e), `${name} brow edge ${e} missing`);
    assert.equal(ours.size - theirs.length, 2, `${name} brow: two closing edges`);
  }
});

Deno.test("loops run clockwise on the image (y down) and the mirror table swaps sides", () => {
  const lm = CANONICAL_FACE;
  const signedArea = (loop: readonly number[]) =>
    loop.reduce((s, i, k) => {
      const j = loop[(k + 1) % loop.length];
      return s + lm[2 * i] * lm[2 * j + 1] - lm[2 * j] * lm[2 * i + 1];
    }, 0);
  assert.ok(signedArea(FACE_OVAL) > 0, "face oval clockwise");
  assert.equal(MIRROR.length, LANDMARK_COUNT);
  MIRROR.forEach((j, i) => assert.equal(MIRROR[j], i, `MIRROR is not an involution at ${i}`));
  const mirrored = (loop: readonly number[]) => loop.map((i) => MIRROR[i]).sort().join();
  assert.equal(mirrored(LEFT_EYE), [...RIGHT_EYE].sort().join());
  assert.equal(mirrored(LEFT_BROW), [...RIGHT_BROW].sort().join());
  assert.equal(mirrored(LEFT_IRIS), [...RIGHT_IRIS].sort().join());
  assert.equal(mirrored(FACE_OVAL), [...FACE_OVAL].sort().join());
  assert.equal(mirrored(LIPS_OUTER), [...LIPS_OUTER].sort().join());
  for (const [a, b] of [[33, 263], [133, 362], [61, 291], [234, 454], [468, 473]]) {
    assert.equal(MIRROR[a], b);
  }
  // Mirrored pairs sit at mirrored positions of the (symmetrised) canonical face.
  MIRROR.forEach((j, i) => {
    assert.ok(
      Math.abs(lm[2 * i] - (1 - lm[2 * j])) < 2e-3 &&
        Math.abs(lm[2 * i + 1] - lm[2 * j + 1]) < 2e-3,
    );
  });
});
