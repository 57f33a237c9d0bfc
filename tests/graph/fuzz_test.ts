// Fuzz tests: random and mutated weight files and manifests must either parse or throw our own
// error type (WeightsError / ManifestError), never anything else and never hang.

import assert from "node:assert/strict";
import { ManifestError, parseManifest } from "../../src/graph/manifest.ts";
import { dequantizeWeights, quantizeWeights } from "../../src/graph/quantize.ts";
import {
  parseSafetensors,
  type Tensor,
  WeightsError,
  writeSafetensors,
} from "../../src/graph/safetensors.ts";

const N = 3000;

function envSeed(): number | undefined {
  try {
    const s = Deno.env.get("FUZZ_SEED");
    return s === undefined ? undefined : Number(s) >>> 0;
  } catch {
    return undefined; // no env permission: fall back to a fresh seed
  }
}
const SEED = envSeed() ?? (Math.random() * 2 ** 32) >>> 0;
console.log(`fuzz seed ${SEED} (reproduce with FUZZ_SEED=${SEED})`);

/** mulberry32: tiny, fast, good enough to drive mutations reproducibly. */
function prng(seed: number) {
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

/** Run `fn`; anything thrown must be `Err`. Returns the value or undefined. */
function only<T>(Err: new (...a: never[]) => Error, label: string, fn: () => T): T | undefined {
  const t0 = performance.now();
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof Err)) {
      throw new Error(
        `${label} (FUZZ_SEED=${SEED}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`,
        { cause: e },
      );
    }
    return undefined;
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `${label} (FUZZ_SEED=${SEED}) took ${ms.toFixed(0)} ms`);
  }
}

// ---------------------------------------------------------------------------------------------
// Weights

function randomTensors(r: Rng): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (let k = r.int(4) + 1; k > 0; k--) {
    const shape = Array.from({ length: r.int(4) }, () => r.int(4));
    const n = shape.reduce((a, b) => a * b, 1);
    const dtype = r.pick(["F32", "F16", "I8"] as const);
    const name = r.pick(["w", "b", "conv.weight", "conv.weight.scale", "0", "é", "x".repeat(20)]) +
      k;
    out[name] = dtype === "I8"
      ? { dtype, shape, data: Int8Array.from({ length: n }, () => r.int(256) - 128) }
      : {
        dtype,
        shape,
        data: Float32Array.from({ length: n }, () => (r.next() - 0.5) * 10 ** r.int(6)),
      };
  }
  return out;
}

function randomFile(r: Rng): Uint8Array {
  if (r.next() < 0.3) {
    // A quantised weight set, so mutations also exercise the .scale pairing.
    const w = { "a.weight": { shape: [3, 2], data: Float32Array.from({ length: 6 }, r.next) } };
    return writeSafetensors(quantizeWeights(w, { scaleDtype: r.pick(["F32", "F16"] as const) }));
  }
  return writeSafetensors(
    randomTensors(r),
    r.next() < 0.5 ? { format: "pt", arch: "{}" } : undefined,
  );
}

/** Parse, then check what came back is self-consistent, then try dequantising it. */
function parseAndCheck(bytes: Uint8Array, label: string): void {
  const parsed = only(WeightsError, label, () => parseSafetensors(bytes));
  if (!parsed) return;
  for (const [name, t] of parsed.tensors) {
    assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), `${label}: ${name}`);
    if (t.dtype !== "I8") assert.ok(t.data.every(Number.isFinite), `${label}: ${name}`);
  }
  for (const v of Object.values(parsed.metadata)) assert.equal(typeof v, "string");
  // Whatever was accepted is coherent enough to write back and read again unchanged.
  const again = parseSafetensors(
    writeSafetensors(Object.fromEntries(parsed.tensors), parsed.metadata),
  );
  assert.deepEqual(again, parsed, label);
  only(WeightsError, `${label} dequantize`, () => dequantizeWeights(parsed.tensors));
}

function withHeaderLength(bytes: Uint8Array, n: bigint): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return out;
}

Deno.test("fuzz: random byte strings", () => {
  const r = prng(SEED);
  for (let i = 0; i < N; i++) {
    const bytes = Uint8Array.from({ length: r.int(300) }, () => r.int(256));
    if (bytes.length >= 9 && r.next() < 0.6) {
      // Make the header length plausible and start it with '{' to get past the first checks.
      new DataView(bytes.buffer).setBigUint64(0, BigInt(r.int(bytes.length - 7)), true);
      bytes[8] = 0x7b;
    }
    parseAndCheck(bytes, `random bytes #${i}`);
  }
});

Deno.test("fuzz: valid files with bit flips, truncations and header-length lies", () => {
  const r = prng(SEED + 1);
  for (let i = 0; i < N; i++) {
    let bytes = randomFile(r);
    const n = BigInt(new DataView(bytes.buffer).getBigUint64(0, true));
    switch (r.int(4)) {
      case 0: // bit flips, mostly in the header where they matter
        for (let k = r.int(4) + 1; k > 0; k--) {
          const at = r.next() < 0.8 ? r.int(Number(n) + 8) : r.int(bytes.length);
          bytes[at] ^= 1 << r.int(8);
        }
        break;
      case 1:
        bytes = bytes.subarray(0, r.int(bytes.length));
        break;
      case 2: {
        const lies = [
          0n,
          1n,
          n - 1n,
          n + 1n,
          n + 8n,
          BigInt(bytes.length),
          2n ** 32n,
          2n ** 63n,
          -1n,
        ];
        bytes = withHeaderLength(bytes, r.next() < 0.7 ? r.pick(lies) : BigInt(r.int(2 ** 31)));
        break;
      }
      default: { // junk appended or spliced in
        const junk = Uint8Array.from({ length: r.int(16) + 1 }, () => r.int(256));
        const at = r.int(bytes.length + 1);
        bytes = new Uint8Array([...bytes.subarray(0, at), ...junk, ...bytes.subarray(at)]);
      }
    }
    parseAndCheck(bytes, `mutated file #${i}`);
  }
});

/** A random JSON-ish value, occasionally pathological (huge, deep, wrong-typed). */
function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 9 : 12)) {
    case 0:
      return r.int(100) - 50;
    case 1:
      return r.pick([0, -0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 2, 2 ** 64, 1e-320, 255, 478, 65504]);
    case 2:
      return r.pick(["", "F32", "F16", "I8", "BF16", "x", "é", "\u0000", "__proto__"]);
    case 3:
      return "s".repeat(r.int(10000));
    case 4:
      return null;
    case 5:
      return r.next() < 0.5;
    case 6:
      return r.pick([NaN, Infinity, -Infinity]); // only reachable through objects, not JSON text
    case 7: { // deep nesting
      let v: unknown = 1;
      for (let d = r.int(5000); d > 0; d--) v = r.next() < 0.5 ? [v] : { a: v };
      return v;
    }
    case 8:
      return [];
    case 9:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 10:
      return Object.fromEntries(
        Array.from(
          { length: r.int(4) },
          () => [r.pick(["a", "dtype", "x", "__proto__", "index"]), randomValue(r, depth + 1)],
        ),
      );
    default:
      return {};
  }
}

/** Replace, delete or add at a random spot inside a JSON tree (mutates in place). */
function mutate(r: Rng, root: Record<string, unknown>): void {
  let node: unknown = root;
  for (;;) {
    const keys = node && typeof node === "object" ? Object.keys(node) : [];
    if (!keys.length) return;
    const key = r.pick(keys);
    const obj = node as Record<string, unknown>;
    const child = obj[key];
    if (child && typeof child === "object" && r.next() < 0.6) {
      node = child;
      continue;
    }
    const op = r.int(4);
    if (op === 0 && !Array.isArray(obj)) delete obj[key];
    else if (op === 1 && !Array.isArray(obj)) {
      obj[r.pick(["extra", "__proto__", "constructor", "z"])] = randomValue(r);
    } else obj[key] = randomValue(r);
    return;
  }
}

Deno.test("fuzz: structurally mutated safetensors headers", () => {
  const r = prng(SEED + 2);
  const enc = new TextEncoder();
  for (let i = 0; i < N; i++) {
    const valid = randomFile(r);
    const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + n)));
    for (let k = r.int(3) + 1; k > 0; k--) mutate(r, header);
    const json = enc.encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + valid.length - 8 - n);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    bytes.set(valid.subarray(8 + n), 8 + json.length);
    parseAndCheck(bytes, `mutated header #${i}`);
  }
});

Deno.test("fuzz: random tensor sets round trip exactly (F16 to half precision)", () => {
  const r = prng(SEED + 3);
  for (let i = 0; i < N / 3; i++) {
    const tensors = randomTensors(r);
    const back = parseSafetensors(writeSafetensors(tensors)).tensors;
    assert.equal(back.size, Object.keys(tensors).length);
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.get(name)!;
      assert.equal(b.dtype, t.dtype);
      assert.deepEqual(b.shape, t.shape);
      const want = t.dtype === "F16" ? Float32Array.from(t.data, Math.f16round) : t.data;
      assert.deepEqual(b.data, want, `#${i} ${name} (FUZZ_SEED=${SEED})`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Manifests

const manifest = () => ({
  id: "toon-face",
  name: "Toon face",
  version: "1.2.0",
  description: "Cartoon shading.",
  inputSize: 256,
  normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  template: {
    landmarks: [{ index: 33, x: 0.3, y: 0.4 }, { index: 263, x: 0.7, y: 0.4 }, {
      index: 1,
      x: 0.5,
      y: 0.6,
    }],
    cropScale: 1.6,
  },
  output: { mode: "residual_mask" },
  blend: { feather: 0.08 },
  smoothing: { minCutoff: 1, beta: 0.007, dCutoff: 1 },
  weights: { url: "/weights/a.safetensors", sha256: "ab".repeat(32), bytes: 1000, dtype: "int8" },
  provenance: { teacher: "teacher" },
  quality: { psnr: 30, ssim: 0.9 },
});

/** True when accepted; whatever passes must pass again unchanged (no hidden state). */
function checkManifest(input: unknown, label: string): boolean {
  const m = only(ManifestError, label, () => parseManifest(input));
  if (m) assert.deepEqual(parseManifest(structuredClone(m)), m, label);
  return m !== undefined;
}

Deno.test("fuzz: structurally mutated manifests (objects and their JSON text)", () => {
  const r = prng(SEED + 4);
  let accepted = 0;
  for (let i = 0; i < N; i++) {
    const m = manifest();
    for (let k = r.int(3) + (r.next() < 0.1 ? 0 : 1); k > 0; k--) mutate(r, m);
    if (checkManifest(m, `mutated manifest #${i}`)) accepted++;
    let text: string | undefined;
    try {
      text = JSON.stringify(m);
    } catch {
      text = undefined; // too deep for stringify: nothing to feed as text
    }
    if (text !== undefined) checkManifest(text, `mutated manifest text #${i}`);
  }
  assert.ok(accepted > 0 && accepted < N, `accepted ${accepted} of ${N}`);
});

Deno.test("fuzz: manifest JSON text with character edits, and random values", () => {
  const r = prng(SEED + 5);
  const base = JSON.stringify(manifest());
  const chars = '{}[]":,0123456789.-eE abcnulltrue\\\u00e9';
  for (let i = 0; i < N; i++) {
    const s = [...base];
    for (let k = r.int(4) + 1; k > 0; k--) {
      const at = r.int(s.length);
      const op = r.int(3);
      if (op === 0) s.splice(at, 1);
      else if (op === 1) s.splice(at, 0, r.pick([...chars]));
      else s[at] = r.pick([...chars]);
    }
    checkManifest(s.join(""), `edited manifest text #${i}`);
    checkManifest(randomValue(r), `random value #${i}`);
  }
});
