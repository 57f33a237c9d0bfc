// `deno task distill` end to end on a few photos for a few steps (manifest, weights, sha256 name,
// curves), the clear errors for malformed pairs folders, the photo split, and the SSIM metric.

import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeImage, encodePng, type RgbaImage } from "../../src/media/codec.ts";
import { psnr, rgbUnit, ssim } from "../../src/media/metrics.ts";
import { parseManifest } from "../../src/graph/manifest.ts";
import { sha256Hex } from "../../src/graph/safetensors.ts";
import { decodeStudentWeights } from "../../src/graph/weights.ts";
import { cartoon } from "../../src/distill/teachers/cartoon.ts";
import { distill, loadPairSets, photoOf, resizeSquare } from "../../src/distill/distill.ts";
import { markPareto } from "../../src/distill/search.ts";
import { warpImage } from "../../src/distill/crop.ts";
import { needs, requireShared, requireWebGpu, sharedDir } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";

/** A smooth test image with edges: gradients plus a few rectangles, [0, 1] RGB. */
function pattern(w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const box = (x > 10 && x < 30 && y > 8 && y < 40) ? 0.4 : 0;
      const stripes = ((x >> 3) + (y >> 3)) % 2 ? 0.15 : 0;
      for (let c = 0; c < 3; c++) {
        out[(y * w + x) * 3 + c] = Math.min(
          1,
          0.2 + 0.3 * (x / w) + 0.1 * c * (y / h) + box + stripes,
        );
      }
    }
  }
  return out;
}

function noisy(img: Float32Array, amount: number, seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return img.map((v) => Math.max(0, Math.min(1, v + amount * (rand() - 0.5))));
}

function boxBlur(img: Float32Array, w: number, h: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0, n = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy)),
              xx = Math.min(w - 1, Math.max(0, x + dx));
            s += img[(yy * w + xx) * 3 + c];
            n++;
          }
        }
        out[(y * w + x) * 3 + c] = s / n;
      }
    }
  }
  return out;
}

Deno.test("ssim: identical images score 1, degradations score in order of severity", () => {
  const w = 48, h = 48, img = pattern(w, h);
  assert.equal(ssim(img, img, w, h), 1);
  const light = ssim(img, noisy(img, 0.05, 1), w, h);
  const heavy = ssim(img, noisy(img, 0.4, 1), w, h);
  const blurred = ssim(img, boxBlur(img, w, h), w, h);
  assert.ok(light < 1 && light > 0.8, `light noise ${light}`);
  assert.ok(heavy < light, `heavy ${heavy} vs light ${light}`);
  assert.ok(heavy < 0.6, `heavy noise ${heavy}`);
  assert.ok(blurred < 1 && blurred > heavy, `blur ${blurred}`);
  // A uniform brightness shift keeps structure: far better than heavy noise of similar PSNR.
  const shifted = img.map((v) => Math.min(1, v + 0.08));
  const noise = noisy(img, 0.3, 7);
  assert.ok(Math.abs(psnr(img, shifted) - psnr(img, noise)) < 6);
  assert.ok(ssim(img, shifted, w, h) > ssim(img, noise, w, h) + 0.2);
  // Symmetric, and an inverted image is anti-correlated.
  assert.ok(Math.abs(ssim(img, noise, w, h) - ssim(noise, img, w, h)) < 1e-12);
  assert.ok(ssim(img, img.map((v) => 1 - v), w, h) < 0);
  assert.throws(() => ssim(img, img, w, h, 3, { window: 65 }), /larger than/);
  assert.throws(() => ssim(img, img.subarray(3), w, h), /ssim needs/);
});

Deno.test("rgbUnit takes RGB of RGBA8 into [0, 1]; resizeSquare box-averages", () => {
  const img: RgbaImage = { width: 2, height: 2, data: new Uint8Array(16).fill(255) };
  img.data.set([0, 51, 102, 255], 0);
  assert.deepEqual([...rgbUnit(img).subarray(0, 3)].map((v) => Math.round(v * 10)), [0, 2, 4]);
  const small = resizeSquare(img, 1);
  assert.deepEqual([...small.data], [191, 204, 217, 255]);
  assert.equal(photoOf("people-call_0413d5c5-0.png"), "people-call_0413d5c5");
  assert.equal(photoOf("face1~3.png"), "face1~3");
});

Deno.test("markPareto keeps the configurations no other beats on both quality and latency", () => {
  const r = (p: number, ms: number) => ({
    quality: { psnr: p, ssim: 0 },
    latencyMs: ms,
    pareto: false,
  });
  const out = markPareto([r(25, 10), r(26, 20), r(24, 15), r(27, 40), r(26, 30)]);
  assert.deepEqual(out.map((x) => x.pareto), [true, true, false, true, false]);
});

const tmp = () => Deno.makeTempDir({ prefix: "distill_test_" });

Deno.test("--pairs: malformed folders give clear errors, before any training", async () => {
  const dir = await tmp();
  try {
    await assert.rejects(
      () => distill({ effect: "x", pairs: join(dir, "nope"), size: 128, out: dir }),
      /pairs folder .*nope does not exist/,
    );
    await Deno.mkdir(join(dir, "a", "input"), { recursive: true });
    await assert.rejects(
      () => loadPairSets({ pairs: join(dir, "a"), size: 128 }),
      /has no target\/ folder/,
    );
    const img = encodePng({ width: 128, height: 128, data: new Uint8Array(128 * 128 * 4) });
    await Deno.mkdir(join(dir, "a", "target"));
    await assert.rejects(
      () => loadPairSets({ pairs: join(dir, "a"), size: 128 }),
      /has no image pairs/,
    );
    await Deno.writeFile(join(dir, "a", "input", "one.png"), img);
    await Deno.writeFile(join(dir, "a", "input", "two.png"), img);
    await Deno.writeFile(join(dir, "a", "target", "one.png"), img);
    await assert.rejects(
      () => loadPairSets({ pairs: join(dir, "a"), size: 128 }),
      /input\/two\.png has no target\/two\.png/,
    );
    await Deno.writeFile(join(dir, "a", "target", "two.png"), new TextEncoder().encode("nope"));
    await assert.rejects(
      () => loadPairSets({ pairs: join(dir, "a"), size: 128 }),
      /unreadable image .*two\.png/,
    );
    await assert.rejects(
      () => distill({ effect: "Bad Id", pairs: join(dir, "a"), size: 128, out: dir }),
      /must be a slug/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const webGpu = await requireWebGpu();
const faces = requireShared("data/faces/face1.jpg", "data/faces/face2.jpg");

/** A pairs folder from the shared photos: centre crops (and their mirror images) → cartoon. */
async function photoPairs(dir: string, size: number): Promise<void> {
  await Deno.mkdir(join(dir, "input"), { recursive: true });
  await Deno.mkdir(join(dir, "target"), { recursive: true });
  for (const name of ["face1.jpg", "face2.jpg", "portrait.png"]) {
    const photo = decodeImage(await Deno.readFile(join(sharedDir, "data", "faces", name)));
    const side = Math.min(photo.width, photo.height), s = side / size;
    const x0 = (photo.width - side) / 2, y0 = (photo.height - side) / 2;
    for (const flip of [0, 1]) {
      const warp = flip ? [-s, 0, x0 + side, 0, s, y0] as const : [s, 0, x0, 0, s, y0] as const;
      const crop = warpImage(photo, warp, size);
      const file = `${name.replace(/\.\w+$/, "")}-${flip}.png`;
      await Deno.writeFile(join(dir, "input", file), encodePng(crop));
      await Deno.writeFile(join(dir, "target", file), encodePng(cartoon(crop, [])));
    }
  }
}

Deno.test(needs([webGpu, faces], {
  name: "distill end to end: pairs → a few steps → a manifest and int8 weights the server accepts",
  fn: async () => {
    const dir = await tmp();
    try {
      await photoPairs(join(dir, "pairs"), 128);
      const lines: string[] = [];
      const result = await distill({
        effect: "tiny-test",
        pairs: join(dir, "pairs"),
        size: 128,
        width: 0.25,
        blocks: [1, 1, 1, 1],
        batch: 2,
        steps: 8,
        out: join(dir, "weights"),
        workDir: join(dir, "work"),
        gpu: await testGpu(),
        progress: false,
        log: (s) => lines.push(s),
      });
      const manifest = parseManifest(await Deno.readTextFile(result.manifestPath));
      assert.equal(manifest.id, "tiny-test");
      assert.equal(manifest.inputSize, 128);
      assert.equal(manifest.weights.dtype, "int8");
      assert.equal(manifest.weights.url, `/weights/${manifest.weights.sha256}.safetensors`);
      const bytes = await Deno.readFile(result.weightsPath);
      assert.equal(
        result.weightsPath,
        join(dir, "weights", `${manifest.weights.sha256}.safetensors`),
      );
      assert.equal(await sha256Hex(bytes), manifest.weights.sha256);
      assert.equal(bytes.length, manifest.weights.bytes);
      const decoded = decodeStudentWeights(bytes);
      assert.equal(decoded.dtype, "int8");
      assert.equal(decoded.architecture.kind, "student");
      if (decoded.architecture.kind === "student") {
        assert.deepEqual(decoded.architecture.config.encoder.map((s) => s.blocks), [1, 1, 1, 1]);
      }
      // Quality is measured (int8, on the held-out photo) and stated as measured.
      assert.ok(manifest.quality && manifest.quality.psnr > 10 && manifest.quality.ssim > 0.3);
      assert.equal(manifest.quality.psnr, Math.round(result.quality.int8.psnr * 100) / 100);
      assert.match(manifest.provenance.note ?? "", /8 steps of batch 2/);
      assert.equal(result.steps, 8);
      for (const f of ["checkpoint.safetensors", "loss.png", "validation.png", "quality.json"]) {
        assert.ok((await Deno.stat(join(dir, "work", f))).size > 0, f);
      }
      // The photo split: both mirror crops of the held-out photo are validation, none training.
      const sets = await loadPairSets({ pairs: join(dir, "pairs"), size: 128 });
      const valPhotos = new Set(sets.val.map((p) => photoOf(p.name)));
      assert.ok(sets.val.length >= 2 && sets.train.length >= 2);
      assert.ok(sets.train.every((p) => !valPhotos.has(photoOf(p.name))));

      // A time budget stops cleanly at a loss readback; --resume finishes the same run.
      const again = {
        effect: "tiny-budget",
        pairs: join(dir, "pairs"),
        size: 128,
        width: 0.25,
        blocks: [1, 1, 1, 1],
        batch: 2,
        steps: 50,
        minutes: 1e-6,
        out: join(dir, "weights"),
        workDir: join(dir, "work2"),
        gpu: await testGpu(),
        progress: false as const,
        log: (s: string) => lines.push(s),
      };
      const stopped = await distill(again);
      assert.equal(stopped.stoppedEarly, true);
      assert.equal(stopped.steps, 25);
      const resumed = await distill({
        ...again,
        steps: undefined,
        minutes: undefined,
        resume: true,
      });
      assert.equal(resumed.stoppedEarly, false);
      assert.equal(resumed.steps, 50);
      assert.match(resumed.manifest.provenance.note ?? "", /50 steps of batch 2/);
      // --minutes without --steps: one short calibration sizes the schedule to the budget.
      const sized = await distill({
        ...again,
        effect: "tiny-sized",
        workDir: join(dir, "work3"),
        steps: undefined,
        minutes: 0.04,
      });
      const planned = sized.config.steps;
      assert.ok(planned >= 50 && planned % 25 === 0, `${planned} steps`);
      assert.ok(sized.steps <= planned);
      assert.ok(lines.some((l) => /calibration: \d+ ms\/step → \d+ steps/.test(l)));
      // The first export's weights were replaced, not left behind.
      const files = [...Deno.readDirSync(join(dir, "weights"))].map((e) => e.name).sort();
      const named = new Set(
        [result, resumed, sized].map((r) => `${r.manifest.weights.sha256}.safetensors`),
      );
      assert.deepEqual(files.filter((f) => f.endsWith(".safetensors")), [...named].sort());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));
