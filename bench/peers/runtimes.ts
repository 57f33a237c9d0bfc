// Each runtime behind the same Session interface, given the module it runs on (loaded by the host:
// Deno imports npm packages, the browser pages bundle them), so Deno and Chromium share this code.

import type * as TF from "@tensorflow/tfjs";
import type * as Ort from "onnxruntime-web";
import { fromNchw, toNchw } from "../../src/graph/onnx/layout.ts";
import { plan } from "../../src/graph/planner.ts";
import { acquireGpu } from "../../src/runtime/device.ts";
import { GpuExecutor } from "../../src/runtime/executor.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { loadTuning, TUNING_DIR } from "../../src/runtime/tuning.ts";
import type { Session, Student } from "./common.ts";
import { buildTfjsStudent } from "./tfjs_student.ts";

/**
 * Ours: our device, the adapter's tuning table (or the shipped defaults), one executor. With
 * `baseline`, as our browser client starts: baseline kernels first, tuned ones after frame one.
 */
export async function openOurs(
  student: Student,
  tuningBase: URL = TUNING_DIR,
  { baseline = false } = {},
): Promise<Session> {
  const gpu = await acquireGpu();
  const tuning = await loadTuning(gpu.key, tuningBase, {
    isFallbackAdapter: gpu.info.isFallbackAdapter,
  });
  const executor = await GpuExecutor.create(gpu, student.program, student.weights, {
    tuning,
    baseline,
  });
  const s = student.inputSize;
  const input = hostTensor([1, s, s, 3], student.input);
  return {
    backend: `${gpu.info.description || gpu.info.vendor || gpu.key}; tuning: ${
      tuning ? `${tuning.source ?? "measured"} (${tuning.adapter})` : "none (registry defaults)"
    }${baseline ? "; baseline kernels first" : ""}`,
    run: async () => (await executor.run([input]))[0].data,
    ...(baseline ? { fullSpeed: () => executor.upgrade({ gentle: true }) } : {}),
    release: () => {
      executor.dispose();
      gpu.device.destroy();
    },
  };
}

/**
 * ONNX Runtime (web or node: the same InferenceSession API) on our exported model. The NCHW input
 * is prepared once; outputs come back NCHW and are turned into NHWC only for the accuracy check.
 */
export async function openOrt(
  ort: typeof Ort,
  student: Student,
  ep: "webgpu" | "wasm" | "cpu",
): Promise<Session> {
  // The single-thread WASM EP the brief compares against; ORT's WebGPU EP also runs some kernels
  // (shape work) in WASM, single-threaded too.
  if (ort.env?.wasm) ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(student.onnx, {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
  });
  const s = student.inputSize;
  const input = toNchw({ shape: [1, s, s, 3], data: student.input });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 3, s, s]) };
  const out = session.outputNames[0];
  return {
    backend: `onnxruntime ${ep}`,
    run: async () => {
      const result = await session.run(feeds);
      const data = result[out].data as Float32Array;
      for (const t of Object.values(result)) t.dispose?.();
      return data;
    },
    toNhwc: (nchw) => fromNchw(nchw, [1, 3, s, s]).data,
    release: () => session.release(),
  };
}

/** TF.js (WebGPU backend, loaded by the caller) running the same model built with its layers API. */
export async function openTfjs(tf: typeof TF, student: Student): Promise<Session> {
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("TF.js could not initialise its WebGPU backend");
  }
  await tf.ready();
  // TF.js runs a depthwise conv and its projection as its own two layers: our fused step is ours.
  const { program } = plan(student.graph, { fuseForInference: false });
  const model = buildTfjsStudent(tf, program, student.weights);
  const s = student.inputSize;
  const x = tf.tensor4d(student.input, [1, s, s, 3]);
  return {
    backend: `tfjs ${tf.version.tfjs} ${tf.getBackend()}`,
    run: async () => {
      const y = model.predict(x) as TF.Tensor;
      const data = await y.data();
      y.dispose();
      return data as Float32Array;
    },
    release: () => {
      x.dispose();
      model.dispose();
    },
  };
}
