// Tests for data preparation: the deterministic split, crops cut with the client's alignment math,
// and (in headless Chromium) the whole pipeline on ../shared/data/faces with its landmark cache.

import assert from "node:assert/strict";
import { join } from "node:path";
import { cropFace } from "../../src/distill/crop.ts";
import { type CropRecord, listPhotos, prepare, splitOf } from "../../src/distill/prepare.ts";
import { applyAffine } from "../../src/face/similarity.ts";
import { FACE_TEMPLATE, templatePointsInCrop } from "../../src/face/template.ts";
import { decodeImage } from "../../src/media/codec.ts";
import { FACE1, face1Image, face1Landmarks } from "../fixtures/faces.ts";
import { needs, requireChromium, requireShared, sharedDir } from "../support/env.ts";

Deno.test("split by photo is deterministic and close to the requested fraction", () => {
  const names = Array.from({ length: 2000 }, (_, i) => `people/photo_${i}.jpg`);
  const val = names.filter((n) => splitOf(n, 0.2) === "val").length / names.length;
  assert.ok(val > 0.17 && val < 0.23, `val fraction ${val}`);
  assert.equal(splitOf("faces/face1.jpg", 0.2), splitOf("faces/face1.jpg", 0.2));
  assert.ok(names.every((n) => splitOf(n, 0) === "train"));
  assert.ok(names.every((n) => splitOf(n, 1) === "val"));
});

Deno.test("listPhotos lists images of the given sets, sorted, and names a missing folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "a"));
    for (const f of ["z.jpg", "b.PNG", "notes.txt"]) {
      await Deno.writeTextFile(join(dir, "a", f), "");
    }
    assert.deepEqual(await listPhotos(dir, ["a"]), ["a/b.PNG", "a/z.jpg"]);
    await assert.rejects(listPhotos(dir, ["missing"]), /cannot read photo folder .*missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(needs(requireShared(FACE1), {
  name: "cropFace puts the template points on the template and samples the frame there",
  fn() {
    const frame = face1Image(), lm = face1Landmarks();
    const { crop, alignment, landmarks } = cropFace(frame, lm, 256);
    assert.equal(crop.width, 256);
    const want = templatePointsInCrop(FACE_TEMPLATE, 256);
    let sq = 0;
    FACE_TEMPLATE.landmarks.forEach((p, k) => {
      sq += (landmarks[2 * p.index] - want[k][0]) ** 2 +
        (landmarks[2 * p.index + 1] - want[k][1]) ** 2;
    });
    const rms = Math.sqrt(sq / want.length);
    assert.ok(rms < 4, `template misfit ${rms} px`);
    assert.ok(Math.abs(rms - alignment.rms) < 1e-3);
    // The crop pixel at the nose tip shows the frame pixel at the nose tip.
    const [u, v] = [landmarks[2], landmarks[3]];
    const [x, y] = applyAffine(alignment.warp, u, v);
    assert.ok(Math.hypot(x - lm[3], y - lm[4]) < 1e-3);
    const c = (Math.floor(v) * 256 + Math.floor(u)) * 4,
      f = (Math.floor(y) * frame.width + Math.floor(x)) * 4;
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(crop.data[c + k] - frame.data[f + k]) < 40);
  },
}));

Deno.test(needs([requireChromium(), requireShared("models/face_landmarker.task", "data/faces")], {
  name: "prepare: landmarks in Chromium, cached, then aligned crops with sidecars",
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "prepare-test-" });
    try {
      const lines: string[] = [];
      const opts = {
        dataDir: `${sharedDir}/data`,
        modelPath: `${sharedDir}/models/face_landmarker.task`,
        sets: ["faces"],
        outDir: out,
        size: 128,
        valFraction: 0.5,
        log: (l: string) => lines.push(l),
      };
      const summary = await prepare(opts);
      assert.equal(summary.photos, 3);
      assert.equal(summary.faces, 3);
      assert.equal(summary.crops.train + summary.crops.val, 3);
      assert.ok(
        lines.some((l) => /\[landmarks 3\/3\] faces\/portrait\.png: 1 face/.test(l)),
        lines.join("\n"),
      );
      const index = JSON.parse(await Deno.readTextFile(join(out, "crops", "index.json")));
      assert.deepEqual(index.template, FACE_TEMPLATE);
      for (const { file, split } of index.crops) {
        const img = decodeImage(await Deno.readFile(join(out, "crops", file)));
        assert.equal(img.width, 128);
        const rec = JSON.parse(
          await Deno.readTextFile(join(out, "crops", file.replace(".png", ".json"))),
        ) as CropRecord;
        assert.equal(rec.split, split);
        assert.equal(rec.landmarks.length, 478 * 2);
        assert.ok(rec.rms < 3, `${file}: rms ${rec.rms}`);
      }
      // Second run: every photo comes from the landmark cache, no browser needed.
      lines.length = 0;
      await prepare(opts);
      assert.ok(lines.some((l) => /3 photo\(s\) cached/.test(l)), lines.join("\n"));
      assert.ok(!lines.some((l) => l.startsWith("[landmarks")));
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
}));
