// The effects in weights/: each loads (manifest, sha256, int8 weights), records the quality the
// distillation issue asks for (student vs teacher PSNR ≥ 28 dB, SSIM ≥ 0.90, landmark drift
// measured), its student, run on a real face crop, edits the face rather than copying it, and its
// f16 kernels stay close to f32.

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCatalog } from "../../src/server/effects.ts";
import { plan } from "../../src/graph/planner.ts";
import { buildNetwork } from "../../src/graph/architecture.ts";
import { decodeImage } from "../../src/media/codec.ts";
import { GpuExecutor, resolveStep } from "../../src/runtime/executor.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { applicableVariants, stepKey, type Tuning } from "../../src/runtime/tuning.ts";
import { rgbaToTensorReference } from "../../src/runtime/image.ts";
import { FACE_TEMPLATE } from "../../src/face/template.ts";
import { cropFace } from "../../src/distill/crop.ts";
import { face1Landmarks } from "../fixtures/faces.ts";
import { needs, repoRoot, requireShared, requireWebGpu, sharedDir } from "../support/env.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";

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
        plan(buildNetwork(effect.architecture)).program,
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

gpuTest(
  "the shipped effects computed with f16 kernels stay within 2/255 of f32, where shader-f16 exists",
  async (t) => {
    const gpu = await testGpu();
    if (!gpu.device.features.has("shader-f16")) {
      console.log("skipped: this adapter has no shader-f16");
      return;
    }
    const catalog = await loadCatalog(join(repoRoot, "weights"));
    assert.ok(catalog.effects.size > 0, "no shipped effects");
    for (const effect of catalog.effects.values()) {
      await t.step(effect.id, async () => {
        const { program } = plan(buildNetwork(effect.architecture));
        // Every step that has an f16 kernel runs it: the worst case a tuning table can pick.
        const choices: Tuning["choices"] = {};
        let f16Steps = 0;
        for (const step of program.steps.filter((s) => !s.elided)) {
          const { op, ctx } = resolveStep(program, step, effect.weights);
          const f16 = applicableVariants(op, ctx, gpu.device.features)
            .find((v) => v.precision === "f16");
          if (!f16) continue;
          choices[stepKey(op, ctx)] = f16.name;
          f16Steps++;
        }
        // The fused depthwise_project steps have no f16 kernel (yet): a third of the steps.
        assert.ok(f16Steps >= program.steps.length / 3, `only ${f16Steps} steps have f16 kernels`);
        // A smooth image in the model's [-1, 1] range: gradients and a bright disc.
        const s = effect.manifest.inputSize;
        const x = hostTensor([1, s, s, 3]);
        for (let i = 0; i < s * s; i++) {
          const u = (i % s) / s, v = Math.floor(i / s) / s;
          const disc = Math.hypot(u - 0.5, v - 0.45) < 0.3 ? 0.6 : 0;
          x.data.set([u - 0.5 + disc, v - 0.5 + disc, 0.3 - u * v + disc], i * 3);
        }
        const run = async (tuning?: Tuning) => {
          const executor = await GpuExecutor.create(gpu, program, effect.weights, { tuning });
          const [y] = await executor.run([x]);
          executor.dispose();
          return y;
        };
        const f32 = await run({ adapter: gpu.key, choices: {} });
        const f16 = await run({ adapter: gpu.key, choices });
        // The output is an image in [-1, 1] (std 0.5): 2/255 of the displayed range is 4/255 here.
        const diff = maxAbsDiff(f16, f32);
        console.log(
          `${effect.id}: ${f16Steps} f16 steps, max |f16 - f32| = ${diff.toExponential(2)}`,
        );
        assert.ok(diff <= 4 / 255, `max |f16 - f32| = ${diff}`);
      });
    }
  },
);
