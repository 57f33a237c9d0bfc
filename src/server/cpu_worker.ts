// Worker for the CPU backend: runs the runtime's CpuExecutor off the server's event loop, one
// executor per (effect, batch size), built on first use from the weights the main thread sent.

/// <reference lib="deno.worker" />

import { CpuExecutor, type Weights } from "../runtime/executor.ts";
import { plan } from "../graph/planner.ts";
import { type Architecture, buildNetwork } from "../graph/architecture.ts";
import type { CpuWorkerReply, CpuWorkerRequest } from "./backend.ts";

const effects = new Map<string, { architecture: Architecture; weights: Weights }>();
const executors = new Map<string, CpuExecutor>();

self.onmessage = (e: MessageEvent<CpuWorkerRequest>) => {
  const msg = e.data;
  if (msg.type === "load") {
    const weights: Weights = new Map(
      msg.weights.map(([name, shape, data]) => [name, { shape, data }]),
    );
    effects.set(msg.key, { architecture: msg.architecture, weights });
    return;
  }
  let reply: CpuWorkerReply;
  try {
    const effect = effects.get(msg.key);
    if (!effect) throw new Error(`effect ${msg.key} was not loaded`);
    const [n, h, w, c] = msg.shape;
    const key = `${msg.key}x${n}`;
    let executor = executors.get(key);
    if (!executor) {
      const { program } = plan(buildNetwork(effect.architecture, n));
      executor = new CpuExecutor(program, effect.weights);
      executors.set(key, executor);
    }
    const [out] = executor.run([{ shape: [n, h, w, c], data: msg.data }]);
    reply = { type: "result", id: msg.id, shape: [...out.shape], data: out.data };
    self.postMessage(reply, [out.data.buffer]);
  } catch (err) {
    reply = { type: "error", id: msg.id, message: (err as Error).message ?? String(err) };
    self.postMessage(reply);
  }
};
