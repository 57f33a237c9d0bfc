// Landmark drift: the measure itself (IOD, displacement, face matching) on constructed landmarks,
// and the whole measurement in headless Chromium, where an effect that edits nothing must show
// exactly zero drift while the landmarker's noise floor is measurably above zero.

import assert from "node:assert/strict";
import { join } from "node:path";
import { displacement, interOcular, matchFaces, measureDrift } from "../../src/distill/drift.ts";
import { buildTintEffect } from "../client/fixture.ts";
import { tempDir } from "../server/fixture.ts";
import { needs, requireChromium, requireShared, sharedDir } from "../support/env.ts";

/** 478 landmarks (x, y, z flat) of a schematic face: eye corners set, the rest on a grid. */
function schematicFace(cx: number, cy: number, iod: number): number[] {
  const face = Array.from({ length: 478 * 3 }, (_, k) => {
    const i = Math.floor(k / 3);
    return k % 3 === 0 ? cx + (i % 20) - 10 : k % 3 === 1 ? cy + Math.floor(i / 20) - 12 : 0;
  });
  const set = (i: number, x: number, y: number) => [face[3 * i], face[3 * i + 1]] = [x, y];
  // Right eye corners 33/133 around cx − iod/2, left eye 362/263 around cx + iod/2.
  set(33, cx - iod / 2 - 5, cy), set(133, cx - iod / 2 + 5, cy);
  set(362, cx + iod / 2 - 5, cy), set(263, cx + iod / 2 + 5, cy);
  return face;
}

const shift = (face: number[], dx: number, dy: number) =>
  face.map((v, k) => k % 3 === 0 ? v + dx : k % 3 === 1 ? v + dy : v);

Deno.test("drift is mean landmark displacement in inter-ocular distances", () => {
  const face = schematicFace(100, 80, 50);
  assert.equal(interOcular(face), 50);
  // Every landmark 1 px right: 2 % of a 50 px IOD, mean and max alike.
  const d = displacement(face, shift(face, 1, 0), 50);
  assert.ok(Math.abs(d.mean - 0.02) < 1e-12 && Math.abs(d.max - 0.02) < 1e-12);
  // One landmark moved 10 px: the mean is diluted over 478, the max is not.
  const one = [...face];
  one[3 * 7 + 1] += 10;
  const e = displacement(face, one, 50);
  assert.ok(Math.abs(e.mean - 10 / 478 / 50) < 1e-12 && Math.abs(e.max - 0.2) < 1e-12);
  assert.throws(() => displacement(face, face.slice(3), 50), /differ/);
});

Deno.test("faces are matched by nearest centroid; a face gone afterwards is reported lost", () => {
  const a = schematicFace(100, 80, 50), b = schematicFace(300, 90, 40);
  // After the effect: the faces listed in the other order, b moved a little, a third face new.
  const after = [shift(b, 3, -2), schematicFace(500, 50, 30), shift(a, -1, 1)];
  assert.deepEqual(matchFaces([a, b], after), [2, 0]);
  // Only a far-off face afterwards (further than half the IOD): nothing matches.
  assert.deepEqual(matchFaces([a], [shift(a, 40, 0)]), [undefined]);
});

const FACES = ["faces/face1.jpg", "faces/portrait.png"];

Deno.test(
  needs([
    requireChromium(),
    requireShared("models/face_landmarker.task", ...FACES.map((f) => `data/${f}`)),
  ], {
    name: "an effect that changes nothing has zero drift; the landmarker's noise floor does not",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const effect = await buildTintEffect("still", undefined, [0, 0, 0]);
      const report = await measureDrift({
        effect: effect.id,
        photos: FACES,
        dataDir: join(sharedDir, "data"),
        weightsDir: effect.dir,
        modelPath: join(sharedDir, "models/face_landmarker.task"),
        workDir: join(await tempDir(), "drift"),
        log: () => {},
      });
      assert.equal(report.faces.length, 2);
      assert.equal(report.lost, 0);
      assert.deepEqual(report.large, { mean: 0, faces: 2 });
      for (const f of report.faces) {
        assert.ok(f.iod > 60, `${f.photo}: IOD ${f.iod}`);
        assert.equal(f.mean, 0, `${f.photo}: an unchanged face moved by ${f.mean} IOD`);
        // ±1 level of noise moves the landmarks, but by far less than the 2 % bound.
        assert.ok(f.floor! > 0 && f.floor! < 0.01, `${f.photo}: noise floor ${f.floor}`);
      }
    },
  }),
);
