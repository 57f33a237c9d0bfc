// Worker for the edge server's CPU backends: runs the student off the server's event loop, either
// with ONNX Runtime's CPU provider on our ONNX export of it (worker name "onnxruntime") or with
// the runtime's CPU reference executor (worker name "cpu").

/// <reference lib="deno.worker" />

import { CpuExecutor, type Weights } from "../runtime/executor.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { plan } from "../graph/planner.ts";
import { type Architecture, buildNetwork } from "../graph/architecture.ts";
import { exportOnnx } from "../graph/onnx/export.ts";
import { fromNchw, toNchw } from "../graph/onnx/layout.ts";
import type { WorkerEngine, WorkerReply, WorkerRequest } from "./backend.ts";

type Ort = typeof import("onnxruntime-node");
type Run = (input: HostTensor) => HostTensor | Promise<HostTensor>;

const engine = self.name as WorkerEngine;
const effects = new Map<string, { architecture: Architecture; weights: Weights }>();
const runners = new Map<string, Promise<Run>>();

// The native module loads here, not in the server's thread; a failure (no binary for this
// platform, no --allow-ffi) is reported so the server can fall back to another backend.
const ort: Promise<Ort | undefined> = engine === "onnxruntime"
  ? import("onnxruntime-node")
  : Promise.resolve(undefined);
ort.then(
  () => post({ type: "ready" }),
  (e) => post({ type: "failed", message: (e as Error).message ?? String(e) }),
);

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

/** One ONNX Runtime session per effect: the export has a symbolic batch, so it serves every size. */
async function onnxRunner(ort: Ort, effect: { architecture: Architecture; weights: Weights }) {
  const model = exportOnnx(buildNetwork(effect.architecture, 1), effect.weights, {
    batchDim: "batch",
  });
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
  });
  return async (input: HostTensor) => {
    const [n, h, w, c] = input.shape;
    const feeds = {
      [session.inputNames[0]]: new ort.Tensor("float32", toNchw(input), [n, c, h, w]),
    };
    const out = (await session.run(feeds))[session.outputNames[0]];
    const result = fromNchw(out.data as Float32Array, out.dims);
    out.dispose();
    return result;
  };
}

/** The reference executor is built per batch size (its plan has static shapes). */
function cpuRunner(effect: { architecture: Architecture; weights: Weights }, batch: number): Run {
  const { program } = plan(buildNetwork(effect.architecture, batch));
  const executor = new CpuExecutor(program, effect.weights);
  return (input) => executor.run([input])[0];
}

function runner(key: string, batch: number): Promise<Run> {
  const effect = effects.get(key);
  if (!effect) return Promise.reject(new Error(`effect ${key} was not loaded`));
  const id = engine === "onnxruntime" ? key : `${key}x${batch}`;
  let run = runners.get(id);
  if (!run) {
    run = engine === "onnxruntime"
      ? ort.then((o) => onnxRunner(o!, effect))
      : Promise.resolve().then(() => cpuRunner(effect, batch));
    // A failed build must not stay cached.
    run.catch(() => runners.delete(id));
    runners.set(id, run);
  }
  return run;
}

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  if (msg.type === "load") {
    const weights: Weights = new Map(
      msg.weights.map(([name, shape, data]) => [name, { shape, data }]),
    );
    effects.set(msg.key, { architecture: msg.architecture, weights });
    return;
  }
  try {
    const [n, h, w, c] = msg.shape;
    const run = await runner(msg.key, n);
    const out = await run({ shape: [n, h, w, c], data: msg.data });
    post({ type: "result", id: msg.id, shape: [...out.shape], data: out.data }, [out.data.buffer]);
  } catch (err) {
    post({ type: "error", id: msg.id, message: (err as Error).message ?? String(err) });
  }
};
