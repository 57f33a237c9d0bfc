// The pairs folder: before/after training pairs on disk, the hand-off between a teacher (or any
// outside tool) and the trainer.
//
//   <dir>/input/<name>.png       the aligned crop
//   <dir>/target/<name>.png      the teacher's output, same file name, same size
//   <dir>/landmarks/<name>.json  optional: {"landmarks": [x0, y0, x1, y1, …]} in crop pixels
//
// PNG or JPEG are read; PNG is written. Every problem is a PairsError naming the file.

import { basename, extname, join } from "node:path";
import { decodeImage, encodePng, type RgbaImage } from "../media/codec.ts";
import { landmarkCount, type Landmarks, toFlatXY } from "../face/landmarks.ts";

export class PairsError extends Error {
  override name = "PairsError";
  constructor(message: string, readonly file?: string) {
    super(message);
  }
}

export interface Pair {
  /** File name shared by input and target, e.g. "faces-face1-0.png". */
  name: string;
  input: RgbaImage;
  target: RgbaImage;
  /** Interleaved (x, y) crop pixels, when the folder has them. */
  landmarks?: Float32Array;
}

const IMAGE = new Set([".png", ".jpg", ".jpeg"]);
const stem = (name: string) => basename(name, extname(name));

async function imageNames(dir: string, role: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && IMAGE.has(extname(e.name).toLowerCase())) names.push(e.name);
    }
    return names.sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new PairsError(`pairs folder has no ${role}/ folder: ${dir}`, dir);
    }
    throw new PairsError(`cannot read ${dir}: ${(e as Error).message}`, dir);
  }
}

/**
 * The pair names in a folder, after checking that every input has a target and vice versa
 * (all missing partners are listed in one error).
 */
export async function listPairs(dir: string): Promise<string[]> {
  const inputs = await imageNames(join(dir, "input"), "input");
  const targets = await imageNames(join(dir, "target"), "target");
  const tset = new Set(targets), iset = new Set(inputs);
  const missing = [
    ...inputs.filter((n) => !tset.has(n)).map((n) => `input/${n} has no target/${n}`),
    ...targets.filter((n) => !iset.has(n)).map((n) => `target/${n} has no input/${n}`),
  ];
  if (missing.length) {
    const first = missing[0].split(" ")[0];
    throw new PairsError(
      `${missing.length} unpaired file${missing.length > 1 ? "s" : ""} in ${dir}:\n  ${
        missing.join("\n  ")
      }`,
      join(dir, first),
    );
  }
  return inputs;
}

async function readImage(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new PairsError(`cannot read ${path}: ${(e as Error).message}`, path);
  }
  try {
    return decodeImage(bytes);
  } catch (e) {
    throw new PairsError(`unreadable image ${path}: ${(e as Error).message}`, path);
  }
}

/** One pair by file name, checked: both images decode and have the same size. */
export async function readPair(dir: string, name: string): Promise<Pair> {
  const inPath = join(dir, "input", name), tPath = join(dir, "target", name);
  const [input, target] = await Promise.all([readImage(inPath), readImage(tPath)]);
  if (input.width !== target.width || input.height !== target.height) {
    throw new PairsError(
      `size mismatch for ${name}: input/${name} is ${input.width}×${input.height}, ` +
        `target/${name} is ${target.width}×${target.height}`,
      tPath,
    );
  }
  const pair: Pair = { name, input, target };
  const lmPath = join(dir, "landmarks", `${stem(name)}.json`);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(lmPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new PairsError(`cannot read ${lmPath}: ${(e as Error).message}`, lmPath);
    }
  }
  if (text !== undefined) pair.landmarks = parseLandmarks(text, lmPath);
  return pair;
}

function parseLandmarks(text: string, path: string): Float32Array {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PairsError(`invalid JSON in ${path}: ${(e as Error).message}`, path);
  }
  const list = Array.isArray(json) ? json : (json as { landmarks?: unknown })?.landmarks;
  const flat = Array.isArray(list) ? list.flat() : undefined;
  if (!flat || flat.length === 0 || flat.length % 2 !== 0 || !flat.every(Number.isFinite)) {
    throw new PairsError(
      `${path}: expected {"landmarks": [x0, y0, x1, y1, …]} (or a list of [x, y] points)`,
      path,
    );
  }
  return Float32Array.from(flat as number[]);
}

/** Every pair in the folder, in file-name order. */
export async function readPairs(dir: string): Promise<Pair[]> {
  const names = await listPairs(dir);
  const out: Pair[] = [];
  for (const n of names) out.push(await readPair(dir, n));
  return out;
}

/** Writes one pair (PNG; the name's extension is replaced by .png). Returns the file name used. */
export async function writePair(
  dir: string,
  pair: { name: string; input: RgbaImage; target: RgbaImage; landmarks?: Landmarks },
): Promise<string> {
  const { input, target } = pair;
  const name = `${stem(pair.name)}.png`;
  if (input.width !== target.width || input.height !== target.height) {
    throw new PairsError(
      `size mismatch for ${name}: input ${input.width}×${input.height}, target ${target.width}×${target.height}`,
      join(dir, "target", name),
    );
  }
  await Deno.mkdir(join(dir, "input"), { recursive: true });
  await Deno.mkdir(join(dir, "target"), { recursive: true });
  await Deno.writeFile(join(dir, "input", name), encodePng(input));
  await Deno.writeFile(join(dir, "target", name), encodePng(target));
  if (pair.landmarks && landmarkCount(pair.landmarks) > 0) {
    await Deno.mkdir(join(dir, "landmarks"), { recursive: true });
    const flat = Array.from(toFlatXY(pair.landmarks), (v) => Math.round(v * 1000) / 1000);
    await Deno.writeTextFile(
      join(dir, "landmarks", `${stem(name)}.json`),
      JSON.stringify({ landmarks: flat }),
    );
  }
  return name;
}
