// `deno run -A bench/edge_backends.ts [--weights DIR] [--batches 1,4] [--repeats 7]`: the numbers
// behind the edge server's backend choice. Each effect in the weights directory runs through every
// backend the server can pick (WebGPU on this machine's adapter with its tuning table, ONNX
// Runtime's CPU provider on our ONNX export, the CPU reference executor), interleaved round by
// round so that load drifts hit all three alike; medians, in ms per crop.

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { acquireGpu } from "../src/runtime/device.ts";
import { loadTuning } from "../src/runtime/tuning.ts";
import type { HostTensor } from "../src/runtime/tensor.ts";
import { type Backend, GpuBackend, WorkerBackend } from "../src/server/backend.ts";
import { loadCatalog } from "../src/server/effects.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    weights: { type: "string", default: fileURLToPath(new URL("../weights", import.meta.url)) },
    batches: { type: "string", default: "1,4" },
    repeats: { type: "string", default: "7" },
    "cpu-repeats": { type: "string", default: "3" },
  },
});
const batches = args.batches.split(",").map(Number);
const repeats = Math.max(1, Number(args.repeats));
const cpuRepeats = Math.max(1, Number(args["cpu-repeats"]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const catalog = await loadCatalog(args.weights, console.warn);
const gpu = await acquireGpu();
const onnx = new WorkerBackend("onnxruntime");
await onnx.ready;
const backends: [Backend, number][] = [
  [new GpuBackend(gpu, { tuning: await loadTuning(gpu.key) }), repeats],
  [onnx, repeats],
  [new WorkerBackend("cpu"), cpuRepeats],
];
console.log(
  `adapter: ${gpu.info.description || gpu.info.vendor}` +
    `${gpu.info.isFallbackAdapter ? " (software fallback)" : ""}; ` +
    `${navigator.hardwareConcurrency} CPU threads`,
);
console.log(
  "effect         size  batch   webgpu ms/crop   onnxruntime ms/crop   cpu ms/crop   webgpu / onnxruntime",
);
for (const effect of catalog.effects.values()) {
  const s = effect.manifest.inputSize;
  for (const batch of batches) {
    const x: HostTensor = { shape: [batch, s, s, 3], data: new Float32Array(batch * s * s * 3) };
    x.data.forEach((_, i) => x.data[i] = ((i * 7919) % 255) / 127.5 - 1);
    const ms = backends.map((): number[] => []);
    for (const [backend] of backends) await backend.run(effect, x); // build + warm-up
    for (let round = 0; round < repeats; round++) {
      for (const [i, [backend, times]] of backends.entries()) {
        if (round >= times) continue;
        const t0 = performance.now();
        await backend.run(effect, x);
        ms[i].push((performance.now() - t0) / batch);
      }
    }
    const [g, o, c] = ms.map(median);
    console.log(
      `${effect.id.padEnd(14)} ${`${s}²`.padStart(4)} ${String(batch).padStart(6)} ` +
        `${g.toFixed(1).padStart(16)} ${o.toFixed(1).padStart(21)} ${c.toFixed(1).padStart(13)} ` +
        `${(g / o).toFixed(1).padStart(21)}×`,
    );
  }
}
for (const [backend] of backends) await backend.dispose();
