// Side-by-side peers, the host-agnostic part: every runtime (ours, ONNX Runtime Web/Node, TF.js)
// is wrapped as "open the model, then run frames", and one measure() times them all alike, in Deno
// and in Chromium. Each measurement runs in a fresh process or browser, so cold start is cold.
//
// Cold start = from "runtime code loaded, model bytes in memory" to the first output on the host:
// WASM compile, adapter/device, session or pipeline creation, weight upload, first inference.
// Warm frame = host image in → host image out (upload, inference, readback), median of repeats,
// at full speed: a runtime that starts on quick-to-compile kernels has switched to its tuned ones.

import { hostTensor } from "../../src/runtime/tensor.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { buildStudent, DEFAULT_STUDENT } from "../../src/graph/student.ts";
import { initWeights } from "../../src/graph/weights.ts";
import { plan } from "../../src/graph/planner.ts";
import { exportOnnx } from "../../src/graph/onnx/export.ts";
import { importOnnx } from "../../src/graph/onnx/import.ts";
import type { Graph } from "../../src/graph/ir.ts";
import type { Program } from "../../src/runtime/program.ts";
import { CpuExecutor, type Weights } from "../../src/runtime/executor.ts";

export type Runtime = "facefx" | "ort-web" | "ort-node" | "tfjs";
export type Ep = "webgpu" | "wasm" | "cpu";
export type Host = "deno" | "chromium";

export interface PeerSpec {
  runtime: Runtime;
  ep: Ep;
  inputSize: number;
  /** Most warm frames to time (default 10); at least 3 run even past the budget. */
  repeats?: number;
  /** Untimed frames after the first, so JITs tier up and caches fill (default 3). */
  warmup?: number;
  /** Stop adding warm frames once they have taken this long (default 20 s). */
  budgetMs?: number;
  /** Compare the first output with our CPU reference (costs a CPU run; not timed). */
  check?: boolean;
  /** Alternate the peer's warm frames with ours in the same process (default true for peers). */
  interleave?: boolean;
  /** The user's ONNX model instead of our student: a file path in Deno, a URL path in a page. */
  model?: string;
}

export interface PeerResult {
  runtime: Runtime;
  ep: Ep;
  host: Host;
  inputSize: number;
  /** Median warm frame, ms. */
  msMedian: number;
  /** Load + compile + first frame, ms. */
  coldStartMs: number;
  samples: number[];
  /** Parts of the cold start: creating the session/executor, and the first frame. */
  createMs: number;
  firstFrameMs: number;
  /**
   * Runtimes that start on quick-to-compile kernels (ours in Chromium): from open until the tuned
   * kernels run, which the warm frames then use.
   */
  fullSpeedMs?: number;
  /** What the runtime ran on (adapter description, EP details). */
  backend: string;
  /** Largest |peer − our CPU reference| over the output, when checked. */
  maxAbsDiff?: number;
  /** Set when the runtime could not run here; then no numbers are reported. */
  error?: string;
  /** The machine's 1-minute load average when the measurement started (shared machines). */
  loadAverage?: number;
  /** Index (in the bench's result list) of our measurement taken just before this one. */
  pairedWith?: number;
  /** Our warm frames, alternated with this peer's in the same process (same contention). */
  interleaved?: { oursMsMedian: number; oursSamples: number[] };
}

/** A loaded model: one call runs one frame from an NHWC image to an NHWC image. */
export interface Session {
  /** One frame on the prepared input; the output in the runtime's own layout. */
  run(): Promise<Float32Array>;
  /** The output as NHWC, when the runtime's layout is another (ONNX's NCHW); not timed. */
  toNhwc?(output: Float32Array): Float32Array;
  backend: string;
  /** Runtimes that start on quick-to-compile kernels: switch to the tuned ones (after frame 1). */
  fullSpeed?(): Promise<void>;
  release?(): Promise<void> | void;
}

/** The network every runtime runs, in our graph (ours, TF.js) and as ONNX (ORT). */
export interface Student {
  inputSize: number;
  graph: Graph;
  program: Program;
  weights: Weights;
  onnx: Uint8Array;
  input: Float32Array;
}

/**
 * Our default student with seeded weights, exported to ONNX for the peers; or the user's `model`
 * (ONNX bytes: an image in, the edited image out), imported for us and given to the peers as it is.
 */
export function makeStudent(inputSize: number, model?: Uint8Array): Student {
  const input = randomArray(rng(inputSize), inputSize * inputSize * 3);
  if (model) {
    const { graph, weights } = importOnnx(model, { inputSize: [inputSize, inputSize] });
    const [x, y] = [graph.shape(graph.inputs[0]), graph.shape(graph.outputs[0])];
    const image = [1, inputSize, inputSize, 3].join();
    if (x.join() !== image || y.join() !== image) {
      throw new Error(
        `the model maps [${x}] to [${y}] (NHWC); the peers compare ${inputSize}² RGB images ` +
          `in and out`,
      );
    }
    return { inputSize, graph, program: plan(graph).program, weights, onnx: model, input };
  }
  const config = { ...DEFAULT_STUDENT, inputSize };
  const graph = buildStudent(config);
  const weights = initWeights(graph, 1);
  // A head that visibly edits, so the comparison covers the mask and delta path too.
  const head = weights.get("head.conv.weight")!;
  head.data.forEach((v, i) => head.data[i] = v * 20);
  const { program } = plan(graph);
  const onnx = exportOnnx(graph, weights, { docString: JSON.stringify(config) });
  return { inputSize, graph, program, weights, onnx, input };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The result of a runtime that could not run here: no numbers, the reason. */
export const failed = (spec: PeerSpec, host: Host, error: string): PeerResult => ({
  runtime: spec.runtime,
  ep: spec.ep,
  host,
  inputSize: spec.inputSize,
  msMedian: NaN,
  coldStartMs: NaN,
  createMs: NaN,
  firstFrameMs: NaN,
  samples: [],
  backend: "",
  error,
});

/**
 * Times one runtime: open → first frame (cold), then warm frames; never throws. With `ours`, our
 * runtime is opened in the same process after the peer's cold start and the warm frames alternate
 * ours, peer, ours, peer…: on a shared, noisy machine both then see the same contention, which
 * runs minutes apart would not (our own cold start is measured in a fresh process of its own).
 */
export async function measure(
  spec: PeerSpec,
  host: Host,
  student: Student,
  open: () => Promise<Session>,
  ours?: () => Promise<Session>,
): Promise<PeerResult> {
  const base = { runtime: spec.runtime, ep: spec.ep, host, inputSize: spec.inputSize };
  let session: Session | undefined;
  let mine: Session | undefined;
  try {
    const t0 = performance.now();
    session = await open();
    const t1 = performance.now();
    const first = await session.run();
    const t2 = performance.now();
    await session.fullSpeed?.();
    const t3 = performance.now();
    mine = await ours?.();
    await mine?.run();
    await mine?.fullSpeed?.();
    for (let i = 0; i < (spec.warmup ?? 3); i++) {
      await session.run();
      await mine?.run();
    }
    const samples: number[] = [];
    const oursSamples: number[] = [];
    const budget = spec.budgetMs ?? 20_000;
    const repeats = spec.repeats ?? 10;
    const start = performance.now();
    while (samples.length < repeats && (samples.length < 3 || performance.now() - start < budget)) {
      if (mine) {
        const a = performance.now();
        await mine.run();
        oursSamples.push(performance.now() - a);
      }
      const a = performance.now();
      await session.run();
      samples.push(performance.now() - a);
    }
    let maxAbsDiff: number | undefined;
    if (spec.check) {
      const [reference] = new CpuExecutor(student.program, student.weights).run([
        hostTensor([1, spec.inputSize, spec.inputSize, 3], student.input),
      ]);
      const out = session.toNhwc?.(first) ?? first;
      maxAbsDiff = out.length === reference.data.length ? 0 : Infinity;
      for (let i = 0; i < out.length; i++) {
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - reference.data[i]));
      }
    }
    return {
      ...base,
      msMedian: median(samples),
      coldStartMs: t2 - t0,
      createMs: t1 - t0,
      firstFrameMs: t2 - t1,
      ...(session.fullSpeed ? { fullSpeedMs: t3 - t0 } : {}),
      samples,
      backend: session.backend,
      ...(maxAbsDiff !== undefined ? { maxAbsDiff } : {}),
      ...(mine ? { interleaved: { oursMsMedian: median(oursSamples), oursSamples } } : {}),
    };
  } catch (e) {
    return failed(spec, host, String((e as Error)?.stack ?? e).split("\n").slice(0, 4).join(" | "));
  } finally {
    await mine?.release?.();
    await session?.release?.();
  }
}
