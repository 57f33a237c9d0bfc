// `deno task distill`: one command from prepared face crops (or a user's pairs folder) to a shipped
// effect: teacher pairs with augmentation, split by photo, training on WebGPU with a time budget,
// PSNR/SSIM of the f32 and int8 student against the teacher on held-out photos, and the export
// (content-addressed int8 safetensors + a validated manifest).
//
//   deno task distill --effect cartoon --teacher cartoon [--size 128] [--width 0.5] [--steps 3000]
//                     [--minutes 20] [--resume] [--out weights]
//   deno task distill --effect mine --pairs my_pairs/        (input/ and target/, same file names)
//   deno task distill --search --teacher cartoon              (latency-aware search, search.ts)

import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { decodeImage, type RgbaImage } from "../media/codec.ts";
import { psnr, rgbUnit, ssim } from "../media/metrics.ts";
import { type EffectManifest, parseManifest } from "../graph/manifest.ts";
import { effectDefaults, exportEffect } from "../server/effects.ts";
import { plan } from "../graph/planner.ts";
import { sha256Hex } from "../graph/safetensors.ts";
import { buildStudent, DEFAULT_STUDENT, type StudentConfig } from "../graph/student.ts";
import { decodeStudentWeights, encodeStudentWeights } from "../graph/weights.ts";
import { acquireGpu, type Gpu } from "../runtime/device.ts";
import { GpuExecutor, type Weights } from "../runtime/executor.ts";
import { hostTensor } from "../runtime/tensor.ts";
import { loadTuning } from "../runtime/tuning.ts";
import { type Dataset, datasetFromImages, rgbaToTensor, tensorToRgba } from "../train/data.ts";
import { DEFAULT_ADAM } from "../train/optimizer.ts";
import { formatDuration, Progress } from "../train/progress.ts";
import { DEFAULT_TRAIN, type TrainConfig, Trainer } from "../train/trainer.ts";
import { augment } from "./augment.ts";
import { warpImage } from "./crop.ts";
import { listPairs, PairsError, readPair } from "./pairs.ts";
import type { CropRecord } from "./prepare.ts";
import { splitOf } from "./prepare.ts";
import { teacherById } from "./teachers/mod.ts";

export interface ImagePair {
  name: string;
  input: RgbaImage;
  target: RgbaImage;
}

export interface PairSets {
  train: ImagePair[];
  val: ImagePair[];
  /** Where they came from, for the provenance note. */
  source: string;
  /** Distinct training photos (crops before augmentation). */
  trainPhotos: number;
}

export interface DataOptions {
  teacher?: string;
  /** A pairs folder (input/ + target/, or train/ and val/ each holding those). */
  pairs?: string;
  size: number;
  /** Prepared crops (`deno task prepare`). */
  crops?: string;
  /** Augmented variants per training crop (the first is the crop itself); teacher mode only. */
  augment?: number;
  seed?: number;
  /** Fraction of photos held out when a pairs folder has no val/ split. */
  valFraction?: number;
  log?: (line: string) => void;
}

export const DEFAULT_CROPS = "out/data/crops";

/** Resizes a square RGBA image: box average for integer factors, bilinear otherwise. */
export function resizeSquare(img: RgbaImage, size: number): RgbaImage {
  if (img.width === size && img.height === size) return img;
  const f = img.width / size;
  if (img.width === img.height && Number.isInteger(f) && f > 1) {
    const out = new Uint8Array(size * size * 4);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 4; c++) {
          let s = 0;
          for (let j = 0; j < f; j++) {
            for (let i = 0; i < f; i++) {
              s += img.data[((y * f + j) * img.width + x * f + i) * 4 + c];
            }
          }
          out[(y * size + x) * 4 + c] = Math.round(s / (f * f));
        }
      }
    }
    return { width: size, height: size, data: out };
  }
  const sx = img.width / size, sy = img.height / size;
  // Crop pixel centre (x + .5) → source (x + .5)·s; the affine maps crop → source pixels.
  return warpImage(img, [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5], size);
}

/** The photo a crop or pair name belongs to: "people-call_0413d5c5-0.png" → "people-call_0413d5c5". */
export function photoOf(name: string): string {
  return basename(name).replace(/\.[^.]+$/, "").replace(/-\d+$/, "");
}

async function readIndex(cropsDir: string): Promise<{ file: string; split: string }[]> {
  const text = await Deno.readTextFile(join(cropsDir, "index.json"));
  return (JSON.parse(text) as { crops: { file: string; split: string }[] }).crops;
}

/** Runs `deno task prepare` when there are no prepared crops yet. */
async function ensureCrops(cropsDir: string, log: (s: string) => void): Promise<void> {
  try {
    await Deno.stat(join(cropsDir, "index.json"));
    return;
  } catch {
    // fall through
  }
  if (cropsDir !== DEFAULT_CROPS) {
    throw new Error(`no prepared crops in ${cropsDir} (index.json is missing)`);
  }
  log(`no crops in ${cropsDir}: running \`deno task prepare\` first`);
  const { prepare } = await import("./prepare.ts");
  await prepare({ log });
}

/** Training and validation pairs from a teacher over the prepared crops, or from a pairs folder. */
export async function loadPairSets(o: DataOptions): Promise<PairSets> {
  const log = o.log ?? console.log;
  if (o.pairs !== undefined) return await pairsFolder(o.pairs, o.size, o.valFraction ?? 0.2);
  if (!o.teacher) throw new Error("give --teacher NAME or --pairs DIR");
  const teacher = teacherById(o.teacher);
  const cropsDir = o.crops ?? DEFAULT_CROPS;
  await ensureCrops(cropsDir, log);
  const index = await readIndex(cropsDir);
  const variants = Math.max(1, o.augment ?? 8);
  const seed = o.seed ?? 1;
  const train: ImagePair[] = [], val: ImagePair[] = [];
  const photos = new Set<string>();
  const t0 = performance.now();
  for (const [i, { file, split }] of index.entries()) {
    const rec = JSON.parse(
      await Deno.readTextFile(join(cropsDir, file.replace(/\.png$/, ".json"))),
    ) as CropRecord;
    const crop = decodeImage(await Deno.readFile(join(cropsDir, file)));
    const landmarks = Float32Array.from(rec.landmarks);
    const name = basename(file, ".png");
    const make = (input: RgbaImage, lm: Float32Array, suffix: string): ImagePair => ({
      name: `${name}${suffix}`,
      input: resizeSquare(input, o.size),
      target: resizeSquare(teacher.apply(input, lm), o.size),
    });
    if (split === "val") {
      val.push(make(crop, landmarks, ""));
      continue;
    }
    photos.add(rec.source);
    train.push(make(crop, landmarks, ""));
    for (let v = 1; v < variants; v++) {
      const a = augment(crop, landmarks, seed * 1_000_003 + i * 101 + v);
      train.push(make(a.crop, a.landmarks, `~${v}`));
    }
    log(`[${teacher.id} pairs ${i + 1}/${index.length}] ${file}`);
  }
  if (val.length === 0) throw new Error(`no validation crops in ${cropsDir}`);
  log(
    `${train.length} training pairs (${photos.size} photos × ${variants} augmentations), ` +
      `${val.length} validation crops, in ${formatDuration((performance.now() - t0) / 1000)}`,
  );
  return {
    train,
    val,
    source: `teacher ${teacher.id} over ${cropsDir}`,
    trainPhotos: photos.size,
  };
}

async function readFolder(dir: string, size: number): Promise<ImagePair[]> {
  const names = await listPairs(dir);
  if (names.length === 0) throw new PairsError(`pairs folder ${dir} has no image pairs`, dir);
  const out: ImagePair[] = [];
  for (const name of names) {
    const p = await readPair(dir, name);
    if (p.input.width !== p.input.height) {
      throw new PairsError(
        `${join(dir, "input", name)} is ${p.input.width}×${p.input.height}: crops must be square`,
        join(dir, "input", name),
      );
    }
    out.push({ name, input: resizeSquare(p.input, size), target: resizeSquare(p.target, size) });
  }
  return out;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** A user's pairs folder: train/ + val/ (make_pairs' layout) or one flat input/ + target/. */
async function pairsFolder(dir: string, size: number, valFraction: number): Promise<PairSets> {
  if (!(await isDir(dir))) throw new PairsError(`pairs folder ${dir} does not exist`, dir);
  if (await isDir(join(dir, "train")) && !(await isDir(join(dir, "input")))) {
    const train = await readFolder(join(dir, "train"), size);
    const val = await readFolder(join(dir, "val"), size);
    return {
      train,
      val,
      source: `pairs folder ${dir}`,
      trainPhotos: new Set(train.map((p) => photoOf(p.name))).size,
    };
  }
  const all = await readFolder(dir, size);
  // Hold out whole photos, so faces seen in training never score validation.
  let train = all.filter((p) => splitOf(photoOf(p.name), valFraction) === "train");
  let val = all.filter((p) => splitOf(photoOf(p.name), valFraction) === "val");
  if (val.length === 0 || train.length === 0) {
    // Tiny folders: hold out the last photo (or use everything twice when there is only one).
    const photos = [...new Set(all.map((p) => photoOf(p.name)))];
    const last = photos[photos.length - 1];
    val = all.filter((p) => photoOf(p.name) === last);
    train = photos.length > 1 ? all.filter((p) => photoOf(p.name) !== last) : all;
  }
  return {
    train,
    val,
    source: `pairs folder ${dir}`,
    trainPhotos: new Set(train.map((p) => photoOf(p.name))).size,
  };
}

// ---- Quality ----

export interface Quality {
  /** Mean over validation crops of per-crop PSNR (dB) on 8-bit RGB. */
  psnr: number;
  /** Mean SSIM (Gaussian 11×11, σ 1.5) on [0, 1] RGB. */
  ssim: number;
}

const NORMALIZATION = DEFAULT_TRAIN.loss.normalization;

/** Student outputs for `inputs` on the GPU runtime (batch 1, as the server and browser run it). */
export async function studentOutputs(
  gpu: Gpu,
  config: StudentConfig,
  weights: Weights,
  inputs: readonly RgbaImage[],
): Promise<RgbaImage[]> {
  const s = config.inputSize;
  const { program } = plan(buildStudent(config, 1));
  const exec = await GpuExecutor.create(gpu, program, weights);
  try {
    const out: RgbaImage[] = [];
    for (const img of inputs) {
      const x = hostTensor([1, s, s, 3], rgbaToTensor(img, NORMALIZATION));
      const [y] = await exec.run([x]);
      out.push(tensorToRgba(y.data, s, s, NORMALIZATION));
    }
    return out;
  } finally {
    exec.dispose();
  }
}

/** Mean PSNR and SSIM of `outputs` against `targets` (8-bit RGB scaled to [0, 1]). */
export function compareImages(
  outputs: readonly RgbaImage[],
  targets: readonly RgbaImage[],
): Quality {
  let p = 0, q = 0;
  outputs.forEach((o, i) => {
    const a = rgbUnit(o), b = rgbUnit(targets[i]);
    // A perfect crop would be +∞ dB; cap at 100 so a mean stays finite.
    p += Math.min(100, psnr(a, b));
    q += ssim(a, b, o.width, o.height, 3);
  });
  return { psnr: p / outputs.length, ssim: q / outputs.length };
}

export interface QualityReport {
  f32: Quality;
  int8: Quality;
  /** The untouched input against the teacher: what doing nothing scores. */
  identity: Quality;
}

export async function measureQuality(
  gpu: Gpu,
  config: StudentConfig,
  weights: Weights,
  val: readonly ImagePair[],
): Promise<{ report: QualityReport; int8Bytes: Uint8Array; int8Outputs: RgbaImage[] }> {
  const inputs = val.map((p) => p.input), targets = val.map((p) => p.target);
  const f32 = compareImages(await studentOutputs(gpu, config, weights, inputs), targets);
  const int8Bytes = encodeStudentWeights({ kind: "student", config }, weights, "int8");
  const int8Weights = decodeStudentWeights(int8Bytes).weights;
  const int8Outputs = await studentOutputs(gpu, config, int8Weights, inputs);
  const int8 = compareImages(int8Outputs, targets);
  return {
    report: { f32, int8, identity: compareImages(inputs, targets) },
    int8Bytes,
    int8Outputs,
  };
}

// ---- The run ----

export interface DistillOptions extends DataOptions {
  effect: string;
  /** Student width multiplier; default 0.5. */
  width?: number;
  /** Encoder blocks per stage (4 numbers); default the student's [1, 2, 3, 3]. */
  blocks?: number[];
  /** Total optimizer steps (the learning-rate schedule spans them); default 2000 or from --minutes. */
  steps?: number;
  /** Wall-clock budget for training; the run stops cleanly (checkpoint) when it is reached. */
  minutes?: number;
  batch?: number;
  lr?: number;
  resume?: boolean;
  /** Where `<id>.json` + `<sha256>.safetensors` go; default weights/. */
  out?: string;
  /** Checkpoint, curves, grid and pairs sample: default out/distill/<effect>. */
  workDir?: string;
  validateEvery?: number;
  checkpointEvery?: number;
  gpu?: Gpu;
  progress?: boolean | { write: (text: string) => void; tty?: boolean };
  /** Name and description for the manifest. */
  name?: string;
  description?: string;
  version?: string;
}

export interface DistillResult {
  manifest: EffectManifest;
  manifestPath: string;
  weightsPath: string;
  quality: QualityReport;
  steps: number;
  trainSeconds: number;
  stoppedEarly: boolean;
  config: TrainConfig;
}

export function studentConfig(size: number, width: number, blocks?: number[]): StudentConfig {
  const encoder = DEFAULT_STUDENT.encoder.map((s, i) => ({
    ...s,
    blocks: blocks ? blocks[i] : s.blocks,
  }));
  if (blocks && blocks.length !== 4) throw new Error(`--blocks needs 4 numbers, got ${blocks}`);
  return { ...DEFAULT_STUDENT, inputSize: size, width, encoder };
}

export function trainConfig(
  o: {
    size: number;
    width?: number;
    blocks?: number[];
    batch?: number;
    lr?: number;
    seed?: number;
  },
  steps: number,
): TrainConfig {
  return {
    ...DEFAULT_TRAIN,
    student: studentConfig(o.size, o.width ?? 0.5, o.blocks),
    batch: o.batch ?? 4,
    steps,
    seed: o.seed ?? 1,
    optimizer: { ...DEFAULT_ADAM, lr: o.lr ?? DEFAULT_ADAM.lr },
    readEvery: 25,
    // The distill loop validates and checkpoints itself (between run() chunks).
    checkpointEvery: 0,
    validateEvery: 0,
    flip: true,
  };
}

function describeMachine(gpu: Gpu): string {
  const a = gpu.info;
  const adapter = [a.vendor, a.architecture, a.description || a.device]
    .filter((s) => s && !/^\d+$/.test(s)).join(" ");
  return `${adapter || "unknown adapter"}${a.isFallbackAdapter ? " (software adapter)" : ""}, ` +
    `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os}/${Deno.build.arch}`;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Measures seconds per training step with a throwaway trainer (to size --minutes-only runs). */
async function calibrate(gpu: Gpu, data: Dataset, config: TrainConfig): Promise<number> {
  const t = await Trainer.create(gpu, data, { ...config, steps: 1000 }, { progress: false });
  try {
    await t.run(5); // pipelines warm up
    const t0 = performance.now();
    await t.run(30);
    return (performance.now() - t0) / 1000 / 25;
  } finally {
    t.dispose();
  }
}

export async function distill(o: DistillOptions): Promise<DistillResult> {
  const log = o.log ?? console.log;
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(o.effect)) {
    throw new Error(`--effect "${o.effect}" must be a slug: lowercase letters, digits and '-'`);
  }
  const workDir = o.workDir ?? join("out", "distill", o.effect);
  const runPath = join(workDir, "run.json");
  const ckptPath = join(workDir, "checkpoint.safetensors");
  let resume: Uint8Array | undefined;
  let steps = o.steps;
  if (o.resume) {
    try {
      resume = await Deno.readFile(ckptPath);
    } catch {
      throw new Error(`--resume: no checkpoint at ${ckptPath}`);
    }
    // The run's own settings win, so the resumed run is the same run.
    const saved = JSON.parse(await Deno.readTextFile(runPath));
    Object.assign(o, { ...saved, resume: true, minutes: o.minutes, out: o.out ?? saved.out });
    steps = saved.steps;
    log(`resuming ${o.effect} from ${ckptPath}`);
  }
  const data = await loadPairSets({ ...o, log });
  const gpu = o.gpu ?? await acquireGpu();
  const train = datasetFromImages(data.train, NORMALIZATION);
  const valSet = datasetFromImages(data.val, NORMALIZATION);
  let config = trainConfig(o, steps ?? 2000);
  if (steps === undefined && o.minutes !== undefined) {
    const perStep = await calibrate(gpu, train, config);
    steps = Math.max(50, Math.floor((o.minutes * 60 * 0.97) / perStep / 25) * 25);
    log(`calibration: ${(perStep * 1000).toFixed(0)} ms/step → ${steps} steps in ${o.minutes} min`);
    config = trainConfig(o, steps);
  }
  steps = config.steps;
  await Deno.mkdir(workDir, { recursive: true });
  const settings = {
    effect: o.effect,
    teacher: o.teacher,
    pairs: o.pairs,
    size: o.size,
    width: o.width ?? 0.5,
    blocks: o.blocks,
    batch: config.batch,
    lr: config.optimizer.lr,
    seed: config.seed,
    augment: o.augment,
    crops: o.crops,
    steps,
    out: o.out,
  };
  if (!o.resume) await Deno.writeTextFile(runPath, JSON.stringify(settings, null, 2) + "\n");

  const tuning = await loadTuning(gpu.key, undefined, {
    isFallbackAdapter: gpu.info.isFallbackAdapter,
  }).catch(() => undefined);
  const trainer = await Trainer.create(gpu, train, config, {
    validation: valSet,
    resume,
    tuning,
    outDir: workDir,
    progress: false,
  });
  let trainSeconds = 0;
  let stoppedEarly = false;
  try {
    const progress = o.progress === false ? undefined : new Progress({
      total: steps,
      start: trainer.step,
      label: o.effect,
      ...(o.progress === true || o.progress === undefined ? {} : o.progress),
    });
    const say = (s: string) => progress ? progress.log(s) : log(s);
    const validateEvery = o.validateEvery ?? 250;
    const checkpointEvery = o.checkpointEvery ?? 500;
    const t0 = performance.now();
    const budget = o.minutes !== undefined ? o.minutes * 60_000 : Infinity;
    while (trainer.step < steps) {
      const until = Math.min(steps, trainer.step + config.readEvery);
      await trainer.run(until);
      const last = trainer.history[trainer.history.length - 1];
      progress?.update(trainer.step, last?.total);
      const t = trainer.step;
      if (validateEvery > 0 && t % validateEvery === 0 && t < steps) {
        const v = await trainer.validate();
        say(`step ${t}: validation loss ${v.total.toPrecision(4)} (l1 ${v.l1.toPrecision(3)})`);
      }
      if (checkpointEvery > 0 && t % checkpointEvery === 0 && t < steps) {
        await trainer.writeOutputs();
      }
      if (performance.now() - t0 >= budget && trainer.step < steps) {
        stoppedEarly = true;
        say(`time budget of ${o.minutes} min reached at step ${trainer.step}/${steps}: stopping`);
        break;
      }
    }
    progress?.finish(trainer.history[trainer.history.length - 1]?.total);
    trainSeconds = (performance.now() - t0) / 1000;
    const v = await trainer.validate();
    log(`validation loss ${v.total.toPrecision(4)} at step ${trainer.step}`);
    await trainer.writeOutputs();
    log(`checkpoint, loss.png and validation.png in ${workDir}`);

    const weights = await trainer.weights();
    const student = config.student;
    const { report, int8Bytes } = await measureQuality(gpu, student, weights, data.val);
    const fmt = (q: Quality) => `PSNR ${q.psnr.toFixed(2)} dB, SSIM ${q.ssim.toFixed(4)}`;
    log(`quality vs teacher on ${data.val.length} validation crops (held-out photos):`);
    log(`  f32 student  ${fmt(report.f32)}`);
    log(`  int8 student ${fmt(report.int8)}`);
    log(`  (input as is ${fmt(report.identity)})`);
    await Deno.writeTextFile(
      join(workDir, "quality.json"),
      JSON.stringify({ step: trainer.step, validation: data.val.length, ...report }, null, 2) +
        "\n",
    );

    const sha256 = await sha256Hex(int8Bytes);
    const totalSteps = trainer.step;
    const runSeconds = trainSeconds + (resume ? Number(await priorSeconds(workDir)) : 0);
    await Deno.writeTextFile(join(workDir, "seconds.txt"), String(Math.round(runSeconds)));
    const teacherId = o.teacher ? teacherById(o.teacher).id : undefined;
    const note = [
      `Distilled from ${data.source}: ${data.train.length} training pairs from ` +
      `${data.trainPhotos} photos, validated on ${data.val.length} crops of held-out photos.`,
      `Student width ${student.width}, encoder blocks ${
        student.encoder.map((s) => s.blocks).join("/")
      }, ${student.inputSize}² input; ${totalSteps} steps of batch ${config.batch} ` +
      `(lr ${config.optimizer.lr}, cosine)${
        stoppedEarly ? ` of ${steps} planned, stopped by the time budget` : ""
      }, ${formatDuration(runSeconds)} of training on ${describeMachine(gpu)}.`,
      `Validation vs teacher: f32 PSNR ${report.f32.psnr.toFixed(2)} dB / SSIM ${
        report.f32.ssim.toFixed(3)
      }, int8 PSNR ${report.int8.psnr.toFixed(2)} dB / SSIM ${report.int8.ssim.toFixed(3)} ` +
      `(the input unchanged scores ${report.identity.psnr.toFixed(2)} dB / ${
        report.identity.ssim.toFixed(3)
      }).`,
    ].join(" ");
    const teacher = teacherId ? teacherById(teacherId) : undefined;
    const manifest: EffectManifest = {
      id: o.effect,
      name: o.name ?? teacher?.name ?? o.effect,
      version: o.version ?? "0.1.0",
      description: o.description ?? teacher?.description ?? `Distilled from ${data.source}.`,
      inputSize: student.inputSize,
      normalization: {
        mean: NORMALIZATION.mean.slice(0, 3) as [number, number, number],
        std: NORMALIZATION.std.slice(0, 3) as [number, number, number],
      },
      ...effectDefaults(),
      weights: {
        url: `/weights/${sha256}.safetensors`,
        sha256,
        bytes: int8Bytes.length,
        dtype: "int8",
      },
      provenance: {
        teacher: teacherId
          ? `${teacherId} (procedural teacher, src/distill/teachers/${teacherId}.ts)`
          : data.source,
        note: note.slice(0, 2000),
      },
      quality: { psnr: round(report.int8.psnr, 2), ssim: round(report.int8.ssim, 4) },
    };
    const out = o.out ?? "weights";
    const paths = await exportEffect(out, manifest, int8Bytes);
    log(`exported ${paths.manifestPath} and ${paths.weightsPath} (${int8Bytes.length} bytes)`);
    return {
      manifest: parseManifest(manifest),
      ...paths,
      quality: report,
      steps: trainer.step,
      trainSeconds: runSeconds,
      stoppedEarly,
      config,
    };
  } finally {
    trainer.dispose();
  }
}

async function priorSeconds(workDir: string): Promise<number> {
  try {
    return Number(await Deno.readTextFile(join(workDir, "seconds.txt"))) || 0;
  } catch {
    return 0;
  }
}

const HELP = `deno task distill --effect ID (--teacher NAME | --pairs DIR) [options]

  --effect ID        effect id (slug): weights/<ID>.json, out/distill/<ID>/
  --teacher NAME     built-in teacher (cartoon, sketch, zombie, smile) over out/data/crops
  --pairs DIR        your own pairs: DIR/input/*.png + DIR/target/*.png (same names), or
                     DIR/train/{input,target} + DIR/val/{input,target}
  --size N           student input side, 128 or 256 (default 128)
  --width W          student width multiplier (default 0.5)
  --blocks a,b,c,d   encoder blocks per stage (default 1,2,3,3)
  --steps N          optimizer steps (default 2000, or sized to --minutes when only that is given)
  --minutes M        training time budget: stops cleanly (checkpoint + export) when reached
  --batch B          batch size (default 4)   --lr X  learning rate (default 0.002)
  --augment K        augmented variants per training crop, teacher mode (default 8)
  --resume           continue out/distill/<ID>/checkpoint.safetensors with its own settings
  --no-drift         skip the landmark drift measurement (teacher mode; needs Chromium)
  --out DIR          where the effect goes (default weights/)
  --crops DIR        prepared crops (default out/data/crops; \`deno task prepare\` runs if missing)
  --search           latency-aware architecture search instead (see src/distill/search.ts)`;

/** The command line (not awaited at top level: search.ts imports this module). */
async function cli(): Promise<void> {
  if (Deno.args.includes("--search")) {
    const { main } = await import("./search.ts");
    await main(Deno.args.filter((a) => a !== "--search"));
    return;
  }
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      effect: { type: "string" },
      teacher: { type: "string" },
      pairs: { type: "string" },
      size: { type: "string", default: "128" },
      width: { type: "string" },
      blocks: { type: "string" },
      steps: { type: "string" },
      minutes: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      augment: { type: "string" },
      resume: { type: "boolean", default: false },
      "no-drift": { type: "boolean", default: false },
      out: { type: "string" },
      crops: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const num = (v: string | undefined) => v === undefined ? undefined : Number(v);
  if (values.help || !values.effect || (!values.teacher && !values.pairs && !values.resume)) {
    console.log(HELP);
    Deno.exit(values.help ? 0 : 2);
  }
  try {
    await distill({
      effect: values.effect,
      teacher: values.teacher,
      pairs: values.pairs,
      size: Number(values.size),
      width: num(values.width),
      blocks: values.blocks?.split(",").map(Number),
      steps: num(values.steps),
      minutes: num(values.minutes),
      batch: num(values.batch),
      lr: num(values.lr),
      augment: num(values.augment),
      resume: values.resume,
      out: values.out,
      crops: values.crops,
    });
    // In teacher mode the held-out photos are known: measure the landmark drift on them and record
    // it in the manifest (your own pairs come without photos; `deno task drift` works on any effect).
    if (values.teacher && !values["no-drift"]) {
      const drift = await import("./drift.ts");
      const out = values.out ?? "weights";
      const options = {
        effect: values.effect,
        photos: await drift.driftPhotos("val", values.crops),
        weightsDir: out,
        workDir: join("out", "distill", values.effect, "drift-val"),
      };
      const report = await drift.measureDrift(options);
      const reference = await drift.measureReferenceDrift({ ...options, log: () => {} });
      await drift.recordDrift(out, report, reference);
      console.log(`landmark drift on held-out photos: ${drift.describeDrift(report)}`);
      console.log(`(a uniform tint, for reference: ${drift.describeDrift(reference)})`);
    }
  } catch (e) {
    console.error(`distill: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

if (import.meta.main) cli();
