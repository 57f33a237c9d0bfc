// The effect catalog: a good effect loads with dequantised weights; every kind of broken effect
// (manifest, hash, size, dtype, input size, names) is reported with its reason and skipped.

import assert from "node:assert/strict";
import { loadCatalog } from "../../src/server/effects.ts";
import { buildTestEffect, tempDir, TEST_STUDENT } from "./fixture.ts";

Deno.test("a good effect loads: manifest, ETag, dequantised weights, bytes by hash", async () => {
  const fx = await buildTestEffect({ id: "good" });
  const catalog = await loadCatalog(fx.dir, () => {});
  assert.deepEqual(catalog.broken, []);
  const effect = catalog.effects.get("good")!;
  assert.deepEqual(effect.manifest, fx.manifest);
  assert.deepEqual(effect.architecture, { kind: "student", config: TEST_STUDENT });
  assert.match(effect.etag, /^"[0-9a-f]{32}"$/);
  assert.deepEqual(catalog.weights.get(fx.sha256), fx.bytes);
  // int8 → f32 within half a quantisation step of the original.
  for (const [name, p] of fx.weights) {
    const q = effect.weights.get(name)!;
    assert.deepEqual([...q.shape], [...p.shape], name);
    const max = p.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const step = p.shape.length > 1 ? max / 127 : 0;
    for (let i = 0; i < p.data.length; i++) {
      assert.ok(Math.abs(q.data[i] - p.data[i]) <= step / 2 + 1e-6, `${name}[${i}]`);
    }
  }
});

Deno.test("f16 and f32 effects load as well", async () => {
  const dir = await tempDir();
  await buildTestEffect({ dir, id: "half", dtype: "f16" });
  await buildTestEffect({ dir, id: "full", dtype: "f32", seed: 2 });
  const catalog = await loadCatalog(dir, () => {});
  assert.deepEqual([...catalog.effects.keys()].sort(), ["full", "half"]);
  assert.equal(catalog.weights.size, 2);
});

Deno.test("each broken effect is skipped with its reason; the good ones still load", async () => {
  const dir = await tempDir();
  const good = await buildTestEffect({ dir, id: "good" });
  const write = (name: string, value: unknown) =>
    Deno.writeTextFile(`${dir}/${name}`, typeof value === "string" ? value : JSON.stringify(value));
  const m = good.manifest;
  const otherSha = "0".repeat(64);

  // Weights that exist under another name than their hash.
  await Deno.writeFile(`${dir}/${"1".repeat(64)}.safetensors`, good.bytes);
  // Weights whose bytes were corrupted after hashing.
  const corrupted = good.bytes.slice();
  corrupted[corrupted.length - 1] ^= 0xff;
  await Deno.writeFile(`${dir}/${"2".repeat(64)}.safetensors`, corrupted);

  const cases: [string, unknown, RegExp][] = [
    ["not-json.json", "{ nope", /invalid JSON/],
    ["schema.json", { ...m, id: "schema", version: "one" }, /version: expected a semver/],
    [
      "other-name.json",
      { ...m },
      /manifest id "good" does not match its file name "other-name.json"/,
    ],
    [
      "bad-url.json",
      { ...m, id: "bad-url", weights: { ...m.weights, url: "https://cdn/x.bin" } },
      /weights\.url must be/,
    ],
    ["missing.json", {
      ...m,
      id: "missing",
      weights: { ...m.weights, sha256: otherSha, url: `/weights/${otherSha}.safetensors` },
    }, /missing file|No such file/],
    ["wrong-bytes.json", {
      ...m,
      id: "wrong-bytes",
      weights: { ...m.weights, bytes: m.weights.bytes + 1 },
    }, /has \d+ bytes, the manifest says/],
    ["wrong-hash.json", {
      ...m,
      id: "wrong-hash",
      weights: {
        ...m.weights,
        sha256: "1".repeat(64),
        url: `/weights/${"1".repeat(64)}.safetensors`,
      },
    }, /sha256 is [0-9a-f]{64}, the manifest says 1{64}/],
    ["corrupt.json", {
      ...m,
      id: "corrupt",
      weights: {
        ...m.weights,
        sha256: "2".repeat(64),
        url: `/weights/${"2".repeat(64)}.safetensors`,
      },
    }, /sha256 is/],
    [
      "wrong-dtype.json",
      { ...m, id: "wrong-dtype", weights: { ...m.weights, dtype: "f16" } },
      /stores int8, the manifest says f16/,
    ],
    ["wrong-size.json", { ...m, id: "wrong-size", inputSize: 192 }, /inputSize 192 differs/],
  ];
  for (const [file, value] of cases) await write(file, value);
  // A non-safetensors file under a valid hash name: the hash matches, the parse does not.
  const junk = new TextEncoder().encode("definitely not safetensors");
  const junkSha = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", junk)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeFile(`${dir}/${junkSha}.safetensors`, junk);
  await write("junk.json", {
    ...m,
    id: "junk",
    weights: {
      ...m.weights,
      sha256: junkSha,
      bytes: junk.length,
      url: `/weights/${junkSha}.safetensors`,
    },
  });
  cases.push(["junk.json", null, /weights (truncated|header_length|header_json)/]);

  const warnings: string[] = [];
  const catalog = await loadCatalog(dir, (w) => warnings.push(w));
  assert.deepEqual([...catalog.effects.keys()], ["good"]);
  assert.deepEqual([...catalog.weights.keys()], [good.sha256]);
  assert.equal(catalog.broken.length, cases.length);
  for (const [file, , reason] of cases) {
    const broken = catalog.broken.find((b) => b.file === file);
    assert.ok(broken, `${file} should be reported`);
    assert.match(broken.reason, reason, file);
    assert.ok(warnings.some((w) => w.includes(file)), `${file} should be logged`);
  }
});

Deno.test("a missing weights directory is an empty catalog with a warning", async () => {
  const warnings: string[] = [];
  const catalog = await loadCatalog("/nonexistent/facefx-weights", (w) => warnings.push(w));
  assert.equal(catalog.effects.size, 0);
  assert.equal(catalog.broken.length, 0);
  assert.match(warnings[0], /does not exist/);
});
