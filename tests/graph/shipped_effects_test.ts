// The effects in weights/: each loads (manifest, sha256, int8 weights), records the quality the
// distillation issue asks for (student vs teacher PSNR ≥ 28 dB, SSIM ≥ 0.90, landmark drift
// measured), and its student, run on a real face crop, edits the face rather than copying it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCatalog } from "../../src/server/effects.ts";
import { plan } from "../../src/graph/planner.ts";
import { buildStudent } from "../../src/graph/student.ts";
import { decodeImage } from "../../src/media/codec.ts";
import { GpuExecutor } from "../../src/runtime/executor.ts";
import { rgbaToTensorReference } from "../../src/runtime/image.ts";
import { FACE_TEMPLATE } from "../../src/face/template.ts";
import { cropFace } from "../../src/distill/crop.ts";
import { face1Landmarks } from "../fixtures/faces.ts";
import { needs, repoRoot, requireShared, requireWebGpu, sharedDir } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";

const SHIPPED = ["cartoon", "sketch", "zombie"];

Deno.test("the shipped effects load and record their quality against the teacher", async () => {
  const warnings: string[] = [];
  const catalog = await loadCatalog(join(repoRoot, "weights"), (w) => warnings.push(w));
  assert.deepEqual(catalog.broken, []);
  assert.deepEqual([...catalog.effects.keys()].sort(), SHIPPED);
  for (const { id, manifest } of catalog.effects.values()) {
    assert.equal(manifest.weights.dtype, "int8", id);
    const q = manifest.quality;
    assert.ok(q && q.psnr >= 28 && q.ssim >= 0.9, `${id}: quality ${JSON.stringify(q)}`);
    const drift = q.landmarkDrift;
    assert.ok(drift && drift.faces > 0 && drift.tintReference, `${id}: no drift record`);
    assert.match(manifest.provenance.teacher, new RegExp(`^${id} \\(procedural teacher`));
  }
});

Deno.test(needs([await requireWebGpu(), requireShared("data/faces/face1.jpg")], {
  name: "each shipped student edits a real face: the output moves off the input, stays an image",
  async fn() {
    const catalog = await loadCatalog(join(repoRoot, "weights"));
    const photo = decodeImage(await Deno.readFile(join(sharedDir, "data/faces/face1.jpg")));
    const gpu = await testGpu();
    for (const effect of catalog.effects.values()) {
      const size = effect.manifest.inputSize;
      const { crop } = cropFace(photo, face1Landmarks(), size, FACE_TEMPLATE);
      const input = rgbaToTensorReference(
        crop.data,
        crop,
        [{ transform: [1, 0, 0, 0, 1, 0] }],
        { width: size, height: size },
        { normalization: effect.manifest.normalization },
      );
      const executor = await GpuExecutor.create(
        gpu,
        plan(buildStudent(effect.config)).program,
        effect.weights,
      );
      const [output] = await executor.run([input]);
      executor.dispose();
      let moved = 0;
      for (let i = 0; i < output.data.length; i++) {
        assert.ok(Number.isFinite(output.data[i]), `${effect.id}: not finite at ${i}`);
        moved += Math.abs(output.data[i] - input.data[i]);
      }
      // Normalised units (2 = black to white): a look, not a copy, and not noise either.
      const mean = moved / output.data.length;
      console.log(`  ${effect.id}: mean |output − input| ${mean.toFixed(3)}`);
      assert.ok(mean > 0.02 && mean < 1, `${effect.id}: mean change ${mean}`);
    }
  },
}));
