// The effect catalog: loads `<id>.json` manifests and their content-addressed `<sha256>.safetensors`
// from a weights directory, verifies hash, size, dtype and input size, and skips (and reports) broken ones.
// `exportEffect` writes one there (distillation, ONNX import).

import { join } from "node:path";
import { DEFAULT_SMOOTHING } from "../face/one_euro.ts";
import { FACE_TEMPLATE } from "../face/template.ts";
import { type EffectManifest, ManifestError, parseManifest } from "../graph/manifest.ts";
import { sha256Hex, WeightsError } from "../graph/safetensors.ts";
import { type Architecture, inputSizeOf } from "../graph/architecture.ts";
import { decodeStudentWeights } from "../graph/weights.ts";
import type { Weights } from "../runtime/executor.ts";

export interface Effect {
  id: string;
  manifest: EffectManifest;
  /** The manifest as served: canonical JSON of the validated object. */
  manifestJson: string;
  /** Strong ETag of manifestJson (quoted). */
  etag: string;
  architecture: Architecture;
  /** Dequantised f32 weights, ready for either executor. */
  weights: Weights;
  /** The verified weight file, served from memory at /weights/<sha256>.safetensors. */
  weightBytes: Uint8Array;
}

export interface BrokenEffect {
  /** The manifest file name (or weight file) that failed. */
  file: string;
  id?: string;
  reason: string;
}

export interface Catalog {
  effects: Map<string, Effect>;
  /** sha256 → weight bytes of the loaded effects (content-addressed serving). */
  weights: Map<string, Uint8Array>;
  broken: BrokenEffect[];
}

/** The content-addressed URL a manifest must name for weights we serve ourselves. */
export const weightsUrl = (sha256: string) => `/weights/${sha256}.safetensors`;

/** Files larger than this are not student weights (≤ 1 M parameters even at f32 is 4 MB). */
const MAX_WEIGHT_BYTES = 64 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Loads every effect in `dir`. A missing directory is an empty catalog (a fresh clone ships no
 * trained effects yet); each broken effect is logged via `warn` and listed, never thrown.
 */
export async function loadCatalog(
  dir: string,
  warn: (message: string) => void = console.warn,
): Promise<Catalog> {
  const catalog: Catalog = { effects: new Map(), weights: new Map(), broken: [] };
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      warn(`weights directory ${dir} does not exist: the catalog is empty`);
      return catalog;
    }
    throw e;
  }
  names.sort();
  for (const file of names) {
    try {
      const effect = await loadEffect(dir, file);
      if (catalog.effects.has(effect.id)) throw new Error(`duplicate effect id "${effect.id}"`);
      catalog.effects.set(effect.id, effect);
      catalog.weights.set(effect.manifest.weights.sha256, effect.weightBytes);
    } catch (e) {
      const reason = describe(e);
      catalog.broken.push({ file, id: file.slice(0, -".json".length), reason });
      warn(`effect ${file} skipped: ${reason}`);
    }
  }
  return catalog;
}

async function loadEffect(dir: string, file: string): Promise<Effect> {
  const stem = file.slice(0, -".json".length);
  const manifestBytes = await readCapped(`${dir}/${file}`, MAX_MANIFEST_BYTES);
  const manifest = parseManifest(new TextDecoder().decode(manifestBytes));
  if (manifest.id !== stem) {
    throw new Error(`manifest id "${manifest.id}" does not match its file name "${file}"`);
  }
  const { sha256, bytes, dtype } = manifest.weights;
  if (manifest.weights.url !== weightsUrl(sha256)) {
    throw new Error(`weights.url must be "${weightsUrl(sha256)}", got "${manifest.weights.url}"`);
  }
  // The sha256 is validated as 64 hex chars by the schema, so this path cannot leave `dir`.
  const weightBytes = await readCapped(`${dir}/${sha256}.safetensors`, MAX_WEIGHT_BYTES);
  if (weightBytes.length !== bytes) {
    throw new Error(`weight file has ${weightBytes.length} bytes, the manifest says ${bytes}`);
  }
  const actual = await sha256Hex(weightBytes);
  if (actual !== sha256) {
    throw new Error(`weight file sha256 is ${actual}, the manifest says ${sha256}`);
  }
  const decoded = decodeStudentWeights(weightBytes);
  if (decoded.dtype !== dtype) {
    throw new Error(`weight file stores ${decoded.dtype}, the manifest says ${dtype}`);
  }
  const inputSize = inputSizeOf(decoded.architecture);
  if (inputSize !== manifest.inputSize) {
    throw new Error(
      `manifest inputSize ${manifest.inputSize} differs from the weights' ${inputSize}`,
    );
  }
  const manifestJson = JSON.stringify(manifest);
  const etag = `"${(await sha256Hex(new TextEncoder().encode(manifestJson))).slice(0, 32)}"`;
  return {
    id: manifest.id,
    manifest,
    manifestJson,
    etag,
    architecture: decoded.architecture,
    weights: decoded.weights,
    weightBytes,
  };
}

async function readCapped(path: string, max: number): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new Error(`${path} is not a file`);
  if (info.size > max) throw new Error(`${path} is ${info.size} bytes, more than ${max}`);
  return await Deno.readFile(path);
}

function describe(e: unknown): string {
  if (e instanceof ManifestError) return e.message.replace(/\n\s*/g, " ");
  if (e instanceof WeightsError) return `weights ${e.code}: ${e.message}`;
  if (e instanceof Deno.errors.NotFound) return `missing file: ${(e as Error).message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * How a new effect meets the face, unless its author says otherwise: our canonical template (the
 * crops it was trained on), a residual + mask output, a soft seam and the default smoothing.
 */
export function effectDefaults(): Pick<
  EffectManifest,
  "template" | "output" | "blend" | "smoothing"
> {
  return {
    template: {
      landmarks: FACE_TEMPLATE.landmarks.map((p) => ({ index: p.index, x: p.x, y: p.y })),
      cropScale: FACE_TEMPLATE.cropScale,
    },
    output: { mode: "residual_mask" },
    blend: { feather: 0.06 },
    smoothing: { ...DEFAULT_SMOOTHING },
  };
}

/** Writes `<id>.json` and `<sha256>.safetensors` into `out`, removing this effect's old weights. */
export async function exportEffect(
  out: string,
  manifest: EffectManifest,
  bytes: Uint8Array,
): Promise<{ manifestPath: string; weightsPath: string }> {
  const checked = parseManifest(manifest);
  await Deno.mkdir(out, { recursive: true });
  const manifestPath = join(out, `${checked.id}.json`);
  let previous: string | undefined;
  try {
    previous = JSON.parse(await Deno.readTextFile(manifestPath))?.weights?.sha256;
  } catch {
    // no previous export
  }
  const weightsPath = join(out, `${checked.weights.sha256}.safetensors`);
  await Deno.writeFile(`${weightsPath}.tmp`, bytes);
  await Deno.rename(`${weightsPath}.tmp`, weightsPath);
  await Deno.writeTextFile(`${manifestPath}.tmp`, JSON.stringify(checked, null, 2) + "\n");
  await Deno.rename(`${manifestPath}.tmp`, manifestPath);
  if (previous && previous !== checked.weights.sha256 && /^[0-9a-f]{64}$/.test(previous)) {
    // Only if no other manifest still points at it.
    let used = false;
    for await (const e of Deno.readDir(out)) {
      if (!e.isFile || !e.name.endsWith(".json") || e.name === `${checked.id}.json`) continue;
      if ((await Deno.readTextFile(join(out, e.name))).includes(previous)) used = true;
    }
    if (!used) await Deno.remove(join(out, `${previous}.safetensors`)).catch(() => {});
  }
  return { manifestPath, weightsPath };
}
