// Latency-aware student search: short training runs over width, depth (encoder blocks), input size
// and learning rate, each scored by validation quality against the teacher and by its median
// inference latency on this machine's WebGPU adapter (GpuExecutor, batch 1); prints the Pareto front.
//
//   deno task distill --search --teacher cartoon                  (the tiny default: 5 configs)
//   deno task distill --search --teacher cartoon --steps 1500 --widths 0.25,0.5,0.75,1 \
//     --depths 1-1-1-1,1-1-2-2,1-2-3-3 --sizes 128,160,192,256 --lrs 0.001,0.002,0.004   (a grid)

import { parseArgs } from "node:util";
import { join } from "node:path";
import { plan } from "../graph/planner.ts";
import { buildStudent } from "../graph/student.ts";
import { acquireGpu, type Gpu } from "../runtime/device.ts";
import { GpuExecutor } from "../runtime/executor.ts";
import { hostTensor } from "../runtime/tensor.ts";
import { loadTuning, type Tuning } from "../runtime/tuning.ts";
import { datasetFromImages } from "../train/data.ts";
import { Trainer } from "../train/trainer.ts";
import {
  compareImages,
  type ImagePair,
  loadPairSets,
  type Quality,
  resizeSquare,
  studentOutputs,
  trainConfig,
} from "./distill.ts";

export interface Candidate {
  size: number;
  width: number;
  /** Encoder blocks per stage. */
  blocks: number[];
  lr: number;
}

/** The default: five configurations that span cheap-to-capable, for a run of minutes. */
export const DEFAULT_CANDIDATES: Candidate[] = [
  { size: 128, width: 0.25, blocks: [1, 1, 2, 2], lr: 0.002 },
  { size: 128, width: 0.5, blocks: [1, 1, 2, 2], lr: 0.004 },
  { size: 128, width: 0.5, blocks: [1, 2, 3, 3], lr: 0.002 },
  { size: 128, width: 1, blocks: [1, 2, 3, 3], lr: 0.002 },
  { size: 160, width: 0.5, blocks: [1, 2, 3, 3], lr: 0.002 },
];

export interface SearchResult extends Candidate {
  steps: number;
  trainSeconds: number;
  quality: Quality;
  /** Median milliseconds per batch-1 inference on this adapter. */
  latencyMs: number;
  gflops: number;
  params: number;
  pareto: boolean;
}

/** Median wall time of `repeats` batch-1 runs after two warm-ups. */
export async function measureLatency(
  gpu: Gpu,
  c: Candidate,
  repeats: number,
  tuning?: Tuning,
): Promise<{ ms: number; gflops: number; params: number }> {
  const config = trainConfig({ size: c.size, width: c.width, blocks: c.blocks }, 1).student;
  const graph = buildStudent(config, 1);
  const { program, stats } = plan(graph);
  const { initWeights } = await import("../graph/weights.ts");
  const exec = await GpuExecutor.create(gpu, program, initWeights(graph, 1), { tuning });
  try {
    const x = hostTensor([1, c.size, c.size, 3]);
    x.data.forEach((_, i) => x.data[i] = ((i * 7919) % 255) / 127.5 - 1);
    await exec.run([x]);
    await exec.run([x]);
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await exec.run([x]);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return {
      ms: times[Math.floor(times.length / 2)],
      gflops: stats.flops / 1e9,
      params: stats.params,
    };
  } finally {
    exec.dispose();
  }
}

/** Marks each result not beaten on both quality (PSNR) and latency by another. */
export function markPareto<T extends { quality: Quality; latencyMs: number; pareto?: boolean }>(
  results: T[],
): T[] {
  for (const r of results) {
    r.pareto = !results.some((o) =>
      o !== r && o.quality.psnr >= r.quality.psnr && o.latencyMs <= r.latencyMs &&
      (o.quality.psnr > r.quality.psnr || o.latencyMs < r.latencyMs)
    );
  }
  return results;
}

export function searchTable(results: readonly SearchResult[]): string {
  const head = "size  width  blocks    lr      steps  train s  PSNR dB  SSIM    ms/crop  GFLOP  " +
    "params  Pareto";
  const rows = results.map((r) =>
    [
      String(r.size).padEnd(5),
      String(r.width).padEnd(6),
      r.blocks.join("-").padEnd(9),
      String(r.lr).padEnd(7),
      String(r.steps).padStart(5),
      r.trainSeconds.toFixed(0).padStart(8),
      r.quality.psnr.toFixed(2).padStart(8),
      r.quality.ssim.toFixed(4).padStart(7),
      r.latencyMs.toFixed(1).padStart(8),
      r.gflops.toFixed(3).padStart(6),
      String(r.params).padStart(7),
      r.pareto ? "  *" : "",
    ].join(" ")
  );
  return [head, ...rows].join("\n");
}

export interface SearchOptions {
  candidates: Candidate[];
  train: ImagePair[];
  val: ImagePair[];
  steps: number;
  batch?: number;
  repeats?: number;
  gpu?: Gpu;
  log?: (line: string) => void;
}

export async function search(o: SearchOptions): Promise<SearchResult[]> {
  const log = o.log ?? console.log;
  const gpu = o.gpu ?? await acquireGpu();
  const tuning = await loadTuning(gpu.key, undefined, {
    isFallbackAdapter: gpu.info.isFallbackAdapter,
  }).catch(() => undefined);
  const results: SearchResult[] = [];
  for (const [i, c] of o.candidates.entries()) {
    const resize = (ps: ImagePair[]) =>
      ps.map((p) => ({
        name: p.name,
        input: resizeSquare(p.input, c.size),
        target: resizeSquare(p.target, c.size),
      }));
    const train = resize(o.train), val = resize(o.val);
    const norm = trainConfig({ size: c.size }, 1).loss.normalization;
    const config = trainConfig({ ...c, batch: o.batch ?? 4 }, o.steps);
    const trainer = await Trainer.create(gpu, datasetFromImages(train, norm), config, {
      progress: false,
      tuning,
    });
    const t0 = performance.now();
    let quality: Quality;
    try {
      await trainer.run();
      const seconds = (performance.now() - t0) / 1000;
      const weights = await trainer.weights();
      quality = compareImages(
        await studentOutputs(gpu, config.student, weights, val.map((p) => p.input)),
        val.map((p) => p.target),
      );
      const lat = await measureLatency(gpu, c, o.repeats ?? 15, tuning);
      results.push({
        ...c,
        steps: o.steps,
        trainSeconds: seconds,
        quality,
        latencyMs: lat.ms,
        gflops: lat.gflops,
        params: lat.params,
        pareto: false,
      });
      log(
        `[search ${i + 1}/${o.candidates.length}] ${c.size}² w${c.width} ${c.blocks.join("-")} ` +
          `lr ${c.lr}: PSNR ${quality.psnr.toFixed(2)} dB, SSIM ${quality.ssim.toFixed(4)}, ` +
          `${lat.ms.toFixed(1)} ms/crop (${seconds.toFixed(0)} s training)`,
      );
    } finally {
      trainer.dispose();
    }
  }
  return markPareto(results);
}

const list = (v: string | undefined) => v?.split(",").map((s) => s.trim()).filter(Boolean);

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      teacher: { type: "string", default: "cartoon" },
      pairs: { type: "string" },
      crops: { type: "string" },
      steps: { type: "string", default: "200" },
      batch: { type: "string", default: "4" },
      augment: { type: "string", default: "2" },
      repeats: { type: "string", default: "15" },
      widths: { type: "string" },
      depths: { type: "string" },
      sizes: { type: "string" },
      lrs: { type: "string" },
      json: { type: "string" },
    },
  });
  let candidates = DEFAULT_CANDIDATES;
  if (values.widths || values.depths || values.sizes || values.lrs) {
    candidates = [];
    for (const size of (list(values.sizes) ?? ["128"]).map(Number)) {
      for (const width of (list(values.widths) ?? ["0.5"]).map(Number)) {
        for (const depth of list(values.depths) ?? ["1-2-3-3"]) {
          for (const lr of (list(values.lrs) ?? ["0.002"]).map(Number)) {
            candidates.push({ size, width, blocks: depth.split("-").map(Number), lr });
          }
        }
      }
    }
  }
  // Pairs once at the largest size; each candidate downsizes them.
  const size = Math.max(...candidates.map((c) => c.size));
  const data = await loadPairSets({
    teacher: values.pairs ? undefined : values.teacher,
    pairs: values.pairs,
    crops: values.crops,
    size: values.pairs ? size : 256,
    augment: Number(values.augment),
    log: () => {},
  });
  console.log(
    `search: ${candidates.length} configurations × ${values.steps} steps on ${data.train.length} ` +
      `training / ${data.val.length} validation pairs (${data.source})`,
  );
  const results = await search({
    candidates,
    train: data.train,
    val: data.val,
    steps: Number(values.steps),
    batch: Number(values.batch),
    repeats: Number(values.repeats),
  });
  console.log(`\n${searchTable(results)}\n(* = Pareto front: no other is both better and faster)`);
  const json = values.json ??
    join("out", "distill", "search", `${values.pairs ? "pairs" : values.teacher}.json`);
  await Deno.mkdir(join(json, ".."), { recursive: true });
  await Deno.writeTextFile(
    json,
    JSON.stringify({ date: new Date().toISOString(), results }, null, 2),
  );
  console.log(`results in ${json}`);
}

if (import.meta.main) await main(Deno.args);
