// Landmark drift of an effect: the face landmarker on each photo before and after the effect (the
// client's whole pipeline, through `deno task apply`), each face's mean landmark displacement in
// units of its inter-ocular distance. A style effect should move paint, not the face: for the
// non-geometric effects the bar is 2 % of the inter-ocular distance.
//
// The landmarker is not exact either. An invisible change (±1 level of noise) moves its landmarks a
// little: that noise floor is measured beside the drift on every face. And on a face a few dozen
// pixels wide it reads colour as shape: a uniform tint of the face, which moves nothing, drifts its
// landmarks by several % of the IOD there but by ~1 % on large faces. So the report also gives the
// drift over the large faces (IOD ≥ LARGE_FACE_IOD px), where the landmarker is a fair judge.
//
// `deno task drift --effect ID [--photos val|all]` measures it and records it in the manifest.

import { parseArgs } from "node:util";
import { extname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { applyEffect } from "../cli/apply.ts";
import { decodeImage, encodePng } from "../media/codec.ts";
import { parseManifest } from "../graph/manifest.ts";
import { sha256Hex } from "../graph/safetensors.ts";
import { buildStudent, DEFAULT_STUDENT, type StudentConfig } from "../graph/student.ts";
import { decodeStudentWeights, encodeStudentWeights } from "../graph/weights.ts";
import type { Weights } from "../runtime/executor.ts";
import { rng } from "../graph/random.ts";
import { DEFAULT_DATA_DIR, DEFAULT_MODEL, DEFAULT_OUT_DIR, extractLandmarks } from "./prepare.ts";

/** Inter-ocular distance (frame px) from which a face counts as large. */
export const LARGE_FACE_IOD = 60;

/** Eye corners (outer, inner) of each eye in MediaPipe's mesh: their midpoints are the eye centres. */
const RIGHT_EYE = [33, 133], LEFT_EYE = [362, 263];

export interface FaceDrift {
  photo: string;
  /** Inter-ocular distance in the input, frame pixels. */
  iod: number;
  /** Mean landmark displacement / IOD (0.01 = 1 %); null when the face is not found afterwards. */
  mean: number | null;
  /** Largest single landmark's displacement / IOD. */
  max: number | null;
  /** The landmarker's own noise: mean displacement / IOD after ±1 level of noise; null if lost. */
  floor: number | null;
}

export interface DriftReport {
  effect: string;
  faces: FaceDrift[];
  /** Faces found before but not after the effect. */
  lost: number;
  /** Mean and worst of the per-face means, in IOD units, over the faces found on both sides. */
  mean: number;
  worst: number;
  /** Mean of the per-face noise floors over the same faces. */
  floor: number;
  /** Mean drift over the large faces found on both sides, and how many there are. */
  large: { mean: number; faces: number };
}

export interface DriftOptions {
  effect: string;
  /** Photo paths relative to `dataDir`. */
  photos: readonly string[];
  dataDir?: string;
  weightsDir?: string;
  modelPath?: string;
  /** Where the stylised photos and their landmarks go (kept for inspection). */
  workDir: string;
  log?: (line: string) => void;
}

type Point = [number, number];

function point(face: readonly number[], i: number): Point {
  return [face[3 * i], face[3 * i + 1]];
}

function eyeCentre(face: readonly number[], [a, b]: number[]): Point {
  const [p, q] = [point(face, a), point(face, b)];
  return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
}

/** Distance between the eye centres, frame pixels. */
export function interOcular(face: readonly number[]): number {
  const [r, l] = [eyeCentre(face, RIGHT_EYE), eyeCentre(face, LEFT_EYE)];
  return Math.hypot(r[0] - l[0], r[1] - l[1]);
}

/** Mean and largest displacement between two landmark sets (x, y, z flat), in units of `scale`. */
export function displacement(
  a: readonly number[],
  b: readonly number[],
  scale: number,
): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`landmark sets differ: ${a.length} vs ${b.length}`);
  const n = a.length / 3;
  let sum = 0, max = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.hypot(a[3 * i] - b[3 * i], a[3 * i + 1] - b[3 * i + 1]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / n / scale, max: max / scale };
}

/**
 * Pairs each face before with the face after whose landmark centroid is nearest, when that is
 * within half the face's IOD (further means the face was not found again).
 */
export function matchFaces(
  before: readonly (readonly number[])[],
  after: readonly (readonly number[])[],
): (number | undefined)[] {
  const centroid = (f: readonly number[]): Point => {
    let x = 0, y = 0;
    for (let i = 0; i < f.length; i += 3) [x, y] = [x + f[i], y + f[i + 1]];
    return [x / (f.length / 3), y / (f.length / 3)];
  };
  const afterCentres = after.map(centroid);
  return before.map((f) => {
    const c = centroid(f);
    let best: number | undefined, bestD = interOcular(f) / 2;
    afterCentres.forEach((a, j) => {
      const d = Math.hypot(a[0] - c[0], a[1] - c[1]);
      if (d < bestD) [best, bestD] = [j, d];
    });
    return best;
  });
}

/** Stylises the photos with the effect, runs the landmarker on both sides and compares. */
export async function measureDrift(o: DriftOptions): Promise<DriftReport> {
  const log = o.log ?? console.log;
  const dataDir = o.dataDir ?? DEFAULT_DATA_DIR;
  const [inDir, outDir, floorDir] = ["input", "output", "floor"].map((d) => join(o.workDir, d));
  await Deno.remove(o.workDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(inDir, { recursive: true });
  await Deno.mkdir(floorDir, { recursive: true });
  // Both sides as PNGs decoded once here, so the landmarker sees the very pixels apply started from.
  const names = o.photos.map((p) => `${p.replace(/[\\/]/g, "-").replace(extname(p), "")}.png`);
  const random = rng(1);
  for (const [i, photo] of o.photos.entries()) {
    const image = decodeImage(await Deno.readFile(join(dataDir, photo)));
    await Deno.writeFile(join(inDir, names[i]), encodePng(image));
    const noisy = new Uint8Array(image.data);
    for (let p = 0; p < noisy.length; p++) {
      if (p % 4 !== 3) {
        noisy[p] = Math.max(0, Math.min(255, noisy[p] + Math.round(random() * 2 - 1)));
      }
    }
    await Deno.writeFile(join(floorDir, names[i]), encodePng({ ...image, data: noisy }));
  }
  await applyEffect({
    effect: o.effect,
    input: inDir,
    output: outDir,
    weightsDir: o.weightsDir ?? "weights",
    landmarkerPath: resolve(o.modelPath ?? DEFAULT_MODEL),
    backend: "auto",
    maxFaces: 4,
    log: () => {},
  });
  const sources = names.flatMap((n) => [`input/${n}`, `output/${n}`, `floor/${n}`]);
  const marks = await extractLandmarks(sources, {
    dataDir: o.workDir,
    outDir: o.workDir,
    modelPath: o.modelPath,
    force: true,
    log: () => {},
  });
  const faces: FaceDrift[] = [];
  for (const [i, photo] of o.photos.entries()) {
    const [before, after, noisy] = [0, 1, 2].map((k) => marks[3 * i + k].faces);
    const matched = matchFaces(before, after), matchedNoisy = matchFaces(before, noisy);
    before.forEach((face, k) => {
      const iod = interOcular(face);
      const [j, jn] = [matched[k], matchedNoisy[k]];
      const d = j === undefined ? undefined : displacement(face, after[j], iod);
      const floor = jn === undefined ? null : displacement(face, noisy[jn], iod).mean;
      faces.push({ photo, iod, mean: d?.mean ?? null, max: d?.max ?? null, floor });
      log(
        `${photo} face ${k}: ` +
          (d
            ? `drift ${(100 * d.mean).toFixed(2)} % IOD (largest landmark ${
              (100 * d.max).toFixed(1)
            } %), IOD ${iod.toFixed(0)} px`
            : "not found after the effect") +
          `; landmarker noise floor ${floor === null ? "n/a" : `${(100 * floor).toFixed(2)} %`}`,
      );
    });
  }
  const found = faces.filter((f) => f.mean !== null);
  const avg = (v: number[]) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
  const large = found.filter((f) => f.iod >= LARGE_FACE_IOD);
  return {
    effect: o.effect,
    faces,
    lost: faces.length - found.length,
    mean: avg(found.map((f) => f.mean!)),
    worst: Math.max(0, ...found.map((f) => f.mean!)),
    floor: avg(found.map((f) => f.floor ?? 0)),
    large: { mean: avg(large.map((f) => f.mean!)), faces: large.length },
  };
}

/**
 * A student whose output is exactly its input plus `tint` (normalised units) under an open mask:
 * every weight zero but the head's bias. It edits colour and nothing else, so the drift it shows is
 * the landmarker's reading of colour as shape: the yardstick for an effect's drift.
 */
export function tintWeights(config: StudentConfig, tint: readonly number[]): Uint8Array {
  const weights: Weights = new Map();
  for (const { name, shape } of buildStudent(config).paramSpecs()) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name === "head.conv.bias") {
      tint.forEach((t, c) => data[c] = Math.atanh(t / config.deltaScale));
      data[3] = 12; // mask logit: sigmoid(12) = 1 − 6e-6, open
    }
    weights.set(name, { shape, data });
  }
  return encodeStudentWeights({ kind: "student", config }, weights, "int8");
}

/** R up 51 levels, G down 25, B down 38: a strong warm cast, about as far as the zombie's colour. */
export const REFERENCE_TINT = [0.4, -0.2, -0.3] as const;

/** The same measurement for the tint reference, built with the effect's own student and template. */
export async function measureReferenceDrift(o: DriftOptions): Promise<DriftReport> {
  const weightsDir = o.weightsDir ?? "weights";
  const manifest = parseManifest(
    JSON.parse(await Deno.readTextFile(join(weightsDir, `${o.effect}.json`))),
  );
  const { architecture } = decodeStudentWeights(
    await Deno.readFile(join(weightsDir, `${manifest.weights.sha256}.safetensors`)),
  );
  // The tint is the head's bias alone: an imported network's effect takes our default student.
  const config = architecture.kind === "student"
    ? architecture.config
    : { ...DEFAULT_STUDENT, inputSize: manifest.inputSize };
  const bytes = tintWeights(config, REFERENCE_TINT);
  const sha256 = await sha256Hex(bytes);
  const dir = join(o.workDir, "reference-weights");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(join(dir, `${sha256}.safetensors`), bytes);
  const reference = {
    ...manifest,
    id: "tint-reference",
    weights: {
      ...manifest.weights,
      url: `/weights/${sha256}.safetensors`,
      sha256,
      bytes: bytes.length,
    },
  };
  await Deno.writeTextFile(join(dir, "tint-reference.json"), JSON.stringify(reference));
  return await measureDrift({
    ...o,
    effect: "tint-reference",
    weightsDir: dir,
    workDir: join(o.workDir, "reference"),
  });
}

/** The photos behind the prepared crops: those held out from training (`val`), or all of them. */
export async function driftPhotos(
  which: "val" | "all",
  cropsDir = join(DEFAULT_OUT_DIR, "crops"),
): Promise<string[]> {
  const index = JSON.parse(await Deno.readTextFile(join(cropsDir, "index.json"))) as {
    crops: { source: string; split: "train" | "val" }[];
  };
  const photos = index.crops.filter((c) => which === "all" || c.split === "val").map((c) =>
    c.source
  );
  return [...new Set(photos)].sort();
}

/**
 * Writes the drift (and the tint reference's, measured on the same photos) into the effect's
 * manifest as quality.landmarkDrift; the weights are unchanged.
 */
export async function recordDrift(
  weightsDir: string,
  report: DriftReport,
  reference?: DriftReport,
): Promise<void> {
  const path = join(weightsDir, `${report.effect}.json`);
  const manifest = parseManifest(JSON.parse(await Deno.readTextFile(path)));
  if (!manifest.quality) throw new Error(`${path} has no quality record to add the drift to`);
  const round = (v: number) => Math.round(v * 1e5) / 1e5;
  manifest.quality.landmarkDrift = {
    mean: round(report.mean),
    worst: round(report.worst),
    floor: round(report.floor),
    large: round(report.large.mean),
    largeFaces: report.large.faces,
    faces: report.faces.length,
    lost: report.lost,
    ...reference && {
      tintReference: { mean: round(reference.mean), large: round(reference.large.mean) },
    },
  };
  await Deno.writeTextFile(path, JSON.stringify(manifest, null, 2) + "\n");
}

/** One line for a report: the mean, the large faces, the noise floor, lost faces. */
export function describeDrift(report: DriftReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
  const found = report.faces.length - report.lost;
  return `mean ${pct(report.mean)} of the IOD over ${found} face(s), worst ${pct(report.worst)}; ` +
    `${report.large.faces} large face(s) (IOD ≥ ${LARGE_FACE_IOD} px): ${
      pct(report.large.mean)
    }; ` +
    `landmarker noise floor ${pct(report.floor)}` +
    (report.lost ? `; ${report.lost} face(s) not found after the effect` : "");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      effect: { type: "string" },
      photos: { type: "string", default: "val" },
      weights: { type: "string", default: "weights" },
      data: { type: "string", default: DEFAULT_DATA_DIR },
      "no-record": { type: "boolean", default: false },
    },
  });
  if (!values.effect || !["val", "all"].includes(values.photos)) {
    console.error(
      "usage: deno task drift --effect ID [--photos val|all] [--weights DIR] [--no-record]\n" +
        "  val: the photos held out from training (default); all: every photo in faces/ and people/",
    );
    Deno.exit(2);
  }
  if (!existsSync(values.data)) {
    console.error(`drift: no photos at ${values.data} (pass --data)`);
    Deno.exit(1);
  }
  try {
    // The crops index says which photos were held out (run `deno task prepare` first).
    const photos = await driftPhotos(values.photos as "val" | "all");
    const options = {
      effect: values.effect,
      photos,
      dataDir: values.data,
      weightsDir: values.weights,
      workDir: join("out/distill", values.effect, `drift-${values.photos}`),
    };
    const report = await measureDrift(options);
    const reference = await measureReferenceDrift({ ...options, log: () => {} });
    console.log(`${values.effect}: ${describeDrift(report)}`);
    console.log(`a uniform tint, for reference: ${describeDrift(reference)}`);
    if (!values["no-record"] && values.photos === "val") {
      await recordDrift(values.weights, report, reference);
      console.log(`recorded in ${join(values.weights, `${values.effect}.json`)}`);
    }
  } catch (e) {
    console.error(`drift: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
