// Tests for the effect manifest validator: a valid manifest passes unchanged, and every kind of
// mistake is reported as a ManifestError naming its JSON path.

import assert from "node:assert/strict";
import { type EffectManifest, ManifestError, parseManifest } from "../../src/graph/manifest.ts";

function validManifest(): EffectManifest {
  return {
    id: "toon-face",
    name: "Toon face",
    version: "1.2.0",
    description: "Cartoon shading distilled from a diffusion teacher.",
    inputSize: 256,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    template: {
      landmarks: [
        { index: 33, x: 0.3, y: 0.4 },
        { index: 263, x: 0.7, y: 0.4 },
        { index: 1, x: 0.5, y: 0.55 },
        { index: 61, x: 0.38, y: 0.72 },
        { index: 291, x: 0.62, y: 0.72 },
      ],
      cropScale: 1.6,
    },
    output: { mode: "residual_mask" },
    blend: { feather: 0.08 },
    smoothing: { minCutoff: 1.0, beta: 0.007, dCutoff: 1.0 },
    weights: {
      url: "/weights/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.safetensors",
      sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      bytes: 1234567,
      dtype: "int8",
    },
    provenance: { teacher: "sdxl-turbo img2img, strength 0.45", note: "2k FFHQ crops" },
    quality: { psnr: 31.2, ssim: 0.93 },
  };
}

// Mutations poke at arbitrary nested fields, so the edited manifest is loosely typed.
// deno-lint-ignore no-explicit-any
type Loose = Record<string, any>;

function issuesOf(input: unknown): ManifestError {
  try {
    parseManifest(input);
  } catch (e) {
    assert.ok(e instanceof ManifestError, `expected ManifestError, got ${e}`);
    return e;
  }
  assert.fail("expected a ManifestError");
}

/** Apply `edit` to a fresh valid manifest and expect exactly one problem at `path`. */
function expectIssue(edit: (m: Loose) => void, path: string, message?: RegExp): void {
  const m = validManifest() as unknown as Loose;
  edit(m);
  const err = issuesOf(m);
  assert.deepEqual(err.issues.map((i) => i.path), [path], err.message);
  assert.ok(err.message.includes(`\n  ${path}: `), err.message);
  if (message) assert.match(err.issues[0].message, message);
}

Deno.test("a valid manifest parses (object or JSON text); optional fields may be left out", () => {
  const m = validManifest();
  assert.deepEqual(parseManifest(m), m);
  assert.deepEqual(parseManifest(JSON.stringify(m)), m);
  const { quality: _q, ...rest } = m;
  delete rest.provenance.note;
  assert.deepEqual(parseManifest(rest), rest);
  assert.equal(
    parseManifest({ ...m, version: "0.1.0-beta.2+build.7" }).version,
    "0.1.0-beta.2+build.7",
  );
  assert.equal(parseManifest({ ...m, id: "a" }).id, "a");
  assert.equal(parseManifest({ ...m, inputSize: 512 }).inputSize, 512);
});

Deno.test("each invalid field is reported at its path", () => {
  expectIssue(
    (m) => (m.weights.sha256 = m.weights.sha256.toUpperCase()),
    "weights.sha256",
    /^expected 64 lowercase hex chars$/,
  );
  expectIssue((m) => (m.weights.sha256 = "abc"), "weights.sha256", /64 lowercase hex/);
  expectIssue((m) => (m.id = "-toon"), "id", /slug/);
  expectIssue((m) => (m.id = "Toon"), "id", /slug/);
  expectIssue((m) => (m.id = "a".repeat(65)), "id");
  expectIssue((m) => (m.name = ""), "name", /empty/);
  expectIssue((m) => (m.version = "1.0"), "version", /semver/);
  expectIssue((m) => (m.version = "01.0.0"), "version", /semver/);
  expectIssue((m) => (m.inputSize = 250), "inputSize", /multiple of 16/);
  expectIssue((m) => (m.inputSize = 112), "inputSize");
  expectIssue((m) => (m.inputSize = 528), "inputSize");
  expectIssue((m) => (m.inputSize = 256.5), "inputSize");
  expectIssue((m) => (m.normalization.std[1] = 0), "normalization.std[1]", /> 0/);
  expectIssue((m) => m.normalization.mean.pop(), "normalization.mean");
  expectIssue(
    (m) => (m.template.landmarks = m.template.landmarks.slice(0, 2)),
    "template.landmarks",
    /at least 3/,
  );
  expectIssue((m) => (m.template.landmarks[2].index = 478), "template.landmarks[2].index");
  expectIssue((m) => (m.template.landmarks[1].x = 1.5), "template.landmarks[1].x");
  expectIssue(
    (m) => (m.template.landmarks[4].index = 33),
    "template.landmarks[4].index",
    /duplicate/,
  );
  expectIssue((m) => (m.template.cropScale = 0), "template.cropScale", /> 0/);
  expectIssue((m) => (m.output.mode = "rgb"), "output.mode");
  expectIssue((m) => (m.blend.feather = 0.6), "blend.feather");
  expectIssue((m) => (m.smoothing.minCutoff = 0), "smoothing.minCutoff");
  expectIssue((m) => (m.smoothing.beta = -1), "smoothing.beta");
  expectIssue((m) => (m.smoothing.dCutoff = -1), "smoothing.dCutoff");
  expectIssue((m) => (m.weights.bytes = 0), "weights.bytes", /positive integer/);
  expectIssue((m) => (m.weights.bytes = 1.5), "weights.bytes");
  expectIssue((m) => (m.weights.dtype = "bf16"), "weights.dtype");
  expectIssue((m) => (m.weights.url = ""), "weights.url");
  expectIssue((m) => (m.provenance.teacher = 7), "provenance.teacher", /string/);
  expectIssue((m) => (m.quality.ssim = 2), "quality.ssim");
  expectIssue((m) => (m.blend.feather = Infinity), "blend.feather");
  expectIssue((m) => (m.smoothing.beta = NaN), "smoothing.beta");
});

Deno.test("missing and unknown fields are named", () => {
  expectIssue((m) => delete m.weights, "weights", /required object is missing/);
  expectIssue((m) => delete m.smoothing.beta, "smoothing.beta", /required number is missing/);
  expectIssue((m) => (m.extra = 1), "extra", /unknown field/);
  expectIssue((m) => (m.weights.mirror = "x"), "weights.mirror", /unknown field/);
  expectIssue((m) => (m.template.landmarks[0].z = 0), "template.landmarks[0].z", /unknown field/);
  expectIssue((m) => (m["weird key"] = 0), '["weird key"]', /unknown field/);
});

Deno.test("every problem is listed at once", () => {
  const m = validManifest() as unknown as Loose;
  m.id = "BAD";
  m.weights.sha256 = "nope";
  delete m.blend;
  m.bonus = true;
  const err = issuesOf(m);
  assert.deepEqual(err.issues.map((i) => i.path).sort(), [
    "blend",
    "bonus",
    "id",
    "weights.sha256",
  ]);
  assert.match(err.message, /^invalid effect manifest \(4 problems\):/);
  for (const p of ["id", "weights.sha256", "blend", "bonus"]) {
    assert.ok(err.message.includes(`  ${p}: `));
  }
});

Deno.test("non-objects and bad JSON text are ManifestErrors at (root)", () => {
  for (const input of [null, undefined, 42, "42", [], "[]", true, "", "{", '{"id": }']) {
    const err = issuesOf(input);
    assert.ok(err.issues.length >= 1);
    assert.equal(err.issues[0].path, "(root)", `${JSON.stringify(input)}: ${err.message}`);
  }
  assert.match(issuesOf("{").message, /\(root\): invalid JSON/);
  const hostile = new Proxy({}, {
    get() {
      throw new Error("boom");
    },
  });
  assert.match(issuesOf(hostile).message, /boom/);
});
