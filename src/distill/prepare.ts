// `deno task prepare`: landmarks for every photo (MediaPipe in headless Chromium, cached per photo),
// then aligned face crops + their landmarks, split train/validation by photo, for distillation.
//
//   deno task prepare [--data ../shared/data] [--sets faces,people] [--out out/data] [--size 256]
//                     [--val 0.2] [--max-upscale 4] [--force]
//
// Layout under --out:  landmarks/<set>/<photo>.json   (all faces, frame pixels, x y z per point)
//                      crops/{train,val}/<set>-<photo>-<face>.png  + .json (crop landmarks, warp)
//                      crops/index.json

import { parseArgs } from "node:util";
import { basename, extname, join, relative, resolve } from "node:path";
import { decodeImage, encodePng, type RgbaImage } from "../media/codec.ts";
import { FACE_TEMPLATE } from "../face/template.ts";
import { cropFace } from "./crop.ts";
import { withBrowser } from "../headless/chromium.ts";

export const DEFAULT_DATA_DIR = "../shared/data";
export const DEFAULT_MODEL = "../shared/models/face_landmarker.task";
export const DEFAULT_OUT_DIR = "out/data";

/** One photo's tracker output as cached on disk. */
export interface PhotoLandmarks {
  /** Photo path relative to the data dir, e.g. "faces/face1.jpg". */
  source: string;
  width: number;
  height: number;
  /** Per face: 478 × (x, y, z) in frame pixels, flat. */
  faces: number[][];
}

/** One crop's sidecar JSON. */
export interface CropRecord {
  source: string;
  face: number;
  split: "train" | "val";
  size: number;
  /** Crop pixel → frame pixel (image.ts affine). */
  warp: number[];
  /** Frame pixel → crop pixel. */
  inverse: number[];
  /** Frame pixels per crop pixel is 1/scale. */
  scale: number;
  angle: number;
  rms: number;
  /** 478 × (x, y) in crop pixels, flat. */
  landmarks: number[];
}

export interface PrepareOptions {
  dataDir?: string;
  sets?: string[];
  outDir?: string;
  modelPath?: string;
  size?: number;
  /** Fraction of photos (not crops) held out for validation. */
  valFraction?: number;
  /** Skip faces that would be enlarged more than this (crop px per frame px): too blurry to learn from. */
  maxUpscale?: number;
  /** Re-run the tracker even where cached landmarks exist. */
  force?: boolean;
  log?: (line: string) => void;
}

const IMAGE_EXT = new Set([".jpg", ".jpeg", ".png"]);

/** The photos of the given sets, sorted, as paths relative to the data dir. */
export async function listPhotos(dataDir: string, sets: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const set of sets) {
    const dir = join(dataDir, set);
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      throw new Error(`cannot read photo folder ${dir}: ${(e as Error).message}`);
    }
    for (const e of entries) {
      if (e.isFile && IMAGE_EXT.has(extname(e.name).toLowerCase())) out.push(`${set}/${e.name}`);
    }
  }
  return out.sort();
}

/** Deterministic split by photo: FNV-1a of its relative path. */
export function splitOf(source: string, valFraction: number): "train" | "val" {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(source)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return (h % 10_000) / 10_000 < valFraction ? "val" : "train";
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

function landmarkPath(outDir: string, source: string) {
  return join(outDir, "landmarks", source.replace(/\.[^.]+$/, ".json"));
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

/**
 * Runs the tracker on every photo whose landmarks are not cached yet (or all, with `force`), in
 * one headless Chromium. Returns every photo's landmarks, cached or fresh.
 */
export async function extractLandmarks(
  photos: readonly string[],
  options: PrepareOptions = {},
): Promise<PhotoLandmarks[]> {
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  const modelPath = resolve(options.modelPath ?? DEFAULT_MODEL);
  const log = options.log ?? console.log;
  const results = new Map<string, PhotoLandmarks>();
  const todo: string[] = [];
  for (const source of photos) {
    const cached = options.force
      ? undefined
      : await readJson<PhotoLandmarks>(landmarkPath(outDir, source));
    if (cached && cached.source === source && Array.isArray(cached.faces)) {
      results.set(source, cached);
    } else todo.push(source);
  }
  if (todo.length > 0) {
    try {
      await Deno.stat(modelPath);
    } catch {
      throw new Error(`face model not found at ${modelPath} (pass --model)`);
    }
    const wasmDir = resolve("node_modules/@mediapipe/tasks-vision/wasm");
    const mounts = { "/models/": resolve(modelPath, ".."), "/mediapipe/wasm/": wasmDir };
    await withBrowser(async (chromium) => {
      const page = await chromium.open(new URL("./landmarks_page.ts", import.meta.url));
      await page.call("initTracker", {
        modelUrl: `/models/${basename(modelPath)}`,
        wasmUrl: "/mediapipe/wasm",
        maxFaces: 4,
        fallbackToPublicModel: false,
      });
      let done = 0;
      for (const source of todo) {
        const t0 = performance.now();
        const image = decodeImage(await Deno.readFile(join(dataDir, source)));
        const faces = await page.call<number[][]>(
          "detectPixels",
          image.data,
          image.width,
          image.height,
        );
        const record: PhotoLandmarks = {
          source,
          width: image.width,
          height: image.height,
          faces: faces.map((f) => f.map((v) => round(v))),
        };
        const path = landmarkPath(outDir, source);
        await Deno.mkdir(join(path, ".."), { recursive: true });
        await Deno.writeTextFile(path, JSON.stringify(record));
        results.set(source, record);
        done++;
        const ms = (performance.now() - t0).toFixed(0);
        log(
          `[landmarks ${pad(done, todo.length)}/${todo.length}] ${source}: ` +
            `${faces.length} face${faces.length === 1 ? "" : "s"} (${ms} ms)`,
        );
      }
    }, { mounts });
  }
  if (todo.length < photos.length) {
    log(
      `landmarks: ${photos.length - todo.length} photo(s) cached in ${join(outDir, "landmarks")}`,
    );
  }
  return photos.map((p) => results.get(p)!);
}

const pad = (i: number, n: number) => String(i).padStart(String(n).length);

export interface PrepareSummary {
  photos: number;
  faces: number;
  crops: { train: number; val: number };
  skipped: { source: string; face: number; why: string }[];
}

/** The whole pipeline: landmarks (cached), then crops into `<out>/crops/{train,val}`. */
export async function prepare(options: PrepareOptions = {}): Promise<PrepareSummary> {
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  const size = options.size ?? 256;
  const valFraction = options.valFraction ?? 0.2;
  const maxUpscale = options.maxUpscale ?? 4;
  const log = options.log ?? console.log;
  const photos = await listPhotos(dataDir, options.sets ?? ["faces", "people"]);
  if (photos.length === 0) throw new Error(`no photos in ${dataDir}`);
  const all = await extractLandmarks(photos, options);

  const cropsDir = join(outDir, "crops");
  await Deno.remove(cropsDir, { recursive: true }).catch(() => {});
  for (const split of ["train", "val"]) {
    await Deno.mkdir(join(cropsDir, split), { recursive: true });
  }
  const summary: PrepareSummary = {
    photos: photos.length,
    faces: 0,
    crops: { train: 0, val: 0 },
    skipped: [],
  };
  const index: { file: string; split: string; source: string; face: number }[] = [];
  let done = 0;
  for (const photo of all) {
    done++;
    const split = splitOf(photo.source, valFraction);
    let image: RgbaImage | undefined;
    const notes: string[] = [];
    for (let k = 0; k < photo.faces.length; k++) {
      summary.faces++;
      image ??= decodeImage(await Deno.readFile(join(dataDir, photo.source)));
      const { crop, alignment, landmarks } = cropFace(
        image,
        Float32Array.from(photo.faces[k]),
        size,
        FACE_TEMPLATE,
      );
      if (alignment.scale > maxUpscale) {
        const why = `face too small (×${alignment.scale.toFixed(1)} > ×${maxUpscale})`;
        summary.skipped.push({ source: photo.source, face: k, why });
        notes.push(`face ${k} skipped: ${why}`);
        continue;
      }
      const name = `${photo.source.replace(/\.[^.]+$/, "").replaceAll("/", "-")}-${k}`;
      const record: CropRecord = {
        source: photo.source,
        face: k,
        split,
        size,
        warp: alignment.warp.map((v) => round(v, 6)),
        inverse: alignment.inverse.map((v) => round(v, 6)),
        scale: round(alignment.scale, 6),
        angle: round(alignment.angle, 6),
        rms: round(alignment.rms, 3),
        landmarks: Array.from(landmarks, (v) => round(v)),
      };
      await Deno.writeFile(join(cropsDir, split, `${name}.png`), encodePng(crop));
      await Deno.writeTextFile(join(cropsDir, split, `${name}.json`), JSON.stringify(record));
      index.push({ file: `${split}/${name}.png`, split, source: photo.source, face: k });
      summary.crops[split]++;
      notes.push(
        `face ${k} → ${split}/${name}.png (×${alignment.scale.toFixed(2)}, rms ${
          alignment.rms.toFixed(1)
        } px)`,
      );
    }
    log(
      `[crops ${pad(done, all.length)}/${all.length}] ${photo.source}: ` +
        (notes.length ? notes.join("; ") : "no face"),
    );
  }
  await Deno.writeTextFile(
    join(cropsDir, "index.json"),
    JSON.stringify({ size, template: FACE_TEMPLATE, valFraction, crops: index }, null, 1),
  );
  log(
    `done: ${summary.photos} photos, ${summary.faces} faces → ${summary.crops.train} train + ` +
      `${summary.crops.val} val crops in ${relative(Deno.cwd(), cropsDir) || cropsDir}` +
      (summary.skipped.length ? ` (${summary.skipped.length} skipped)` : ""),
  );
  return summary;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string", default: DEFAULT_DATA_DIR },
      sets: { type: "string", default: "faces,people" },
      out: { type: "string", default: DEFAULT_OUT_DIR },
      model: { type: "string", default: DEFAULT_MODEL },
      size: { type: "string", default: "256" },
      val: { type: "string", default: "0.2" },
      "max-upscale": { type: "string", default: "4" },
      force: { type: "boolean", default: false },
    },
  });
  const size = Number(values.size), val = Number(values.val), up = Number(values["max-upscale"]);
  if (!(Number.isInteger(size) && size >= 16)) {
    throw new Error(`--size ${values.size}: need an integer ≥ 16`);
  }
  if (!(val >= 0 && val <= 1)) throw new Error(`--val ${values.val}: need a fraction in [0, 1]`);
  await prepare({
    dataDir: values.data,
    sets: values.sets.split(",").filter(Boolean),
    outDir: values.out,
    modelPath: values.model,
    size,
    valFraction: val,
    maxUpscale: up,
    force: values.force,
  });
}
