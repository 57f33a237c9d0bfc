// A small test effect built into a temp dir: a 128² student of tiny width with seeded weights, int8
// safetensors, and a manifest with the real sha256 and size. Also used by `deno task loadtest`.

import type { EffectManifest } from "../../src/graph/manifest.ts";
import { sha256Hex } from "../../src/graph/safetensors.ts";
import { buildStudent, DEFAULT_STUDENT, type StudentConfig } from "../../src/graph/student.ts";
import { encodeStudentWeights, initWeights, type WeightDtype } from "../../src/graph/weights.ts";
import type { Weights } from "../../src/runtime/executor.ts";
import type { HostTensor } from "../../src/runtime/tensor.ts";
import type { Backend } from "../../src/server/backend.ts";
import type { Effect } from "../../src/server/effects.ts";

/** The structure of the shipped student at its smallest: 128², a quarter of the channels. */
export const TEST_STUDENT: StudentConfig = { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 };

export interface TestEffect {
  dir: string;
  id: string;
  manifest: EffectManifest;
  sha256: string;
  bytes: Uint8Array;
  config: StudentConfig;
  /** The f32 weights before quantisation (the "teacher-side" truth). */
  weights: Weights;
}

export interface TestEffectOptions {
  id?: string;
  config?: StudentConfig;
  seed?: number;
  dtype?: WeightDtype;
  /** Overrides merged into the manifest (after sha256/bytes are filled in). */
  manifest?: Partial<EffectManifest>;
  /** Write into this directory instead of a fresh temp dir. */
  dir?: string;
}

export function testManifest(
  id: string,
  inputSize: number,
  weights: { sha256: string; bytes: number; dtype: WeightDtype },
): EffectManifest {
  return {
    id,
    name: `Test effect ${id}`,
    version: "0.1.0",
    description: "Seeded untrained student for the edge server tests (near identity).",
    inputSize,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    template: {
      // MediaPipe face mesh: eye outer corners, nose tip, mouth corners.
      landmarks: [
        { index: 33, x: 0.3, y: 0.4 },
        { index: 263, x: 0.7, y: 0.4 },
        { index: 1, x: 0.5, y: 0.58 },
        { index: 61, x: 0.37, y: 0.74 },
        { index: 291, x: 0.63, y: 0.74 },
      ],
      cropScale: 1.6,
    },
    output: { mode: "residual_mask" },
    blend: { feather: 0.1 },
    smoothing: { minCutoff: 1, beta: 0.01, dCutoff: 1 },
    weights: {
      url: `/weights/${weights.sha256}.safetensors`,
      sha256: weights.sha256,
      bytes: weights.bytes,
      dtype: weights.dtype,
    },
    provenance: { teacher: "none (tests)", note: "initWeights, seeded" },
  };
}

/** A temp dir removed when the process exits (test files and the load test leave nothing behind). */
export async function tempDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "facefx-effects-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  });
  return dir;
}

export async function buildTestEffect(options: TestEffectOptions = {}): Promise<TestEffect> {
  const id = options.id ?? "test-effect";
  const config = options.config ?? TEST_STUDENT;
  const dtype = options.dtype ?? "int8";
  const weights = initWeights(buildStudent(config), options.seed ?? 1);
  const bytes = encodeStudentWeights({ kind: "student", config }, weights, dtype);
  const sha256 = await sha256Hex(bytes);
  const manifest = {
    ...testManifest(id, config.inputSize, { sha256, bytes: bytes.length, dtype }),
    ...options.manifest,
  };
  const dir = options.dir ?? await tempDir();
  await Deno.writeFile(`${dir}/${sha256}.safetensors`, bytes);
  await Deno.writeTextFile(`${dir}/${id}.json`, JSON.stringify(manifest, null, 2));
  return { dir, id, manifest, sha256, bytes, config, weights };
}

/** A deterministic, face-ish test crop: smooth gradients plus a disc, alpha 255. */
export function testCrop(size: number, seed = 0): Uint8Array<ArrayBuffer> {
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 4;
      const d = Math.hypot(x - size / 2, y - size / 2) / size;
      rgba[p] = (x * 2 + seed * 17) & 255;
      rgba[p + 1] = (y * 2 + seed * 31) & 255;
      rgba[p + 2] = d < 0.3 ? 200 : 40;
      rgba[p + 3] = 255;
    }
  }
  return rgba;
}

/**
 * A backend that needs no device: output = input (or `transform`), after `delayMs`; it records the
 * batch sizes it ran and can be told to fail. Route and batching tests use it for speed.
 */
export class StubBackend implements Backend {
  readonly name = "cpu" as const;
  readonly batches: number[] = [];
  fail: Error | undefined;
  running = 0;
  maxConcurrent = 0;

  constructor(
    public delayMs = 0,
    private readonly transform: (x: number) => number = (x) => x,
  ) {}

  async run(_effect: Effect, input: HostTensor): Promise<HostTensor> {
    this.running++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      this.batches.push(input.shape[0]);
      if (this.fail) throw this.fail;
      return { shape: input.shape, data: input.data.map(this.transform) };
    } finally {
      this.running--;
    }
  }

  warm(): Promise<void> {
    return Promise.resolve();
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

/** A byte array typed for fetch bodies and Blob parts (TS 6 wants an ArrayBuffer-backed view). */
export const bodyOf = (bytes: Uint8Array): Uint8Array<ArrayBuffer> =>
  bytes as Uint8Array<ArrayBuffer>;

/** Headers of a raw RGBA crop request. */
export const rawHeaders = (size: number, channels = 4): Record<string, string> => ({
  "content-type": "application/octet-stream",
  "x-image-width": String(size),
  "x-image-height": String(size),
  "x-image-channels": String(channels),
});
