// `deno run -A bench/edge_backends.ts [--repeats 5]`: the numbers behind the edge server's backend
// choice. Times GpuExecutor (this machine's adapter, software or not) against CpuExecutor (the
// runtime's CPU reference) on the default student at 256² and the test student at 128², per batch.

import { parseArgs } from "node:util";
import { plan } from "../src/graph/planner.ts";
import { buildStudent, DEFAULT_STUDENT, type StudentConfig } from "../src/graph/student.ts";
import { initWeights } from "../src/graph/weights.ts";
import { acquireGpu } from "../src/runtime/device.ts";
import { CpuExecutor, GpuExecutor } from "../src/runtime/executor.ts";
import { hostTensor } from "../src/runtime/tensor.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    repeats: { type: "string", default: "5" },
    "cpu-repeats": { type: "string", default: "3" },
  },
});
const repeats = Math.max(1, Number(args.repeats));
const cpuRepeats = Math.max(1, Number(args["cpu-repeats"]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const gpu = await acquireGpu();
console.log(
  `adapter: ${gpu.info.description || gpu.info.vendor}` +
    `${
      gpu.info.isFallbackAdapter ? " (software fallback)" : ""
    }; ${navigator.hardwareConcurrency} CPU threads`,
);
console.log(
  "model                  batch   GFLOP   GpuExecutor ms/crop   CpuExecutor ms/crop   GPU speed-up",
);

const cases: [string, StudentConfig, number][] = [
  ["default 256²", DEFAULT_STUDENT, 1],
  ["default 256²", DEFAULT_STUDENT, 4],
  ["test 128² w0.25", { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 }, 1],
  ["test 128² w0.25", { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 }, 8],
];
for (const [name, config, batch] of cases) {
  const graph = buildStudent(config, batch);
  const weights = initWeights(buildStudent(config), 1);
  const { program, stats } = plan(graph);
  const s = config.inputSize;
  const x = hostTensor([batch, s, s, 3]);
  x.data.forEach((_, i) => x.data[i] = ((i * 7919) % 255) / 127.5 - 1);

  const executor = await GpuExecutor.create(gpu, program, weights);
  await executor.run([x]); // warm-up: first dispatches JIT-compile on software adapters
  const gpuMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await executor.run([x]);
    gpuMs.push(performance.now() - t0);
  }
  executor.dispose();

  // The CPU executor runs dense concats (no aliased channel slices), as the server's worker does.
  const cpu = new CpuExecutor(plan(graph, { aliasConcat: false }).program, weights);
  cpu.run([x]); // warm-up: V8 tiers up the reference loops
  const cpuMs: number[] = [];
  for (let i = 0; i < cpuRepeats; i++) {
    const t0 = performance.now();
    cpu.run([x]);
    cpuMs.push(performance.now() - t0);
  }
  const g = median(gpuMs) / batch, c = median(cpuMs) / batch;
  console.log(
    `${name.padEnd(22)} ${String(batch).padStart(5)} ${
      (stats.flops / 1e9).toFixed(3).padStart(7)
    } ` +
      `${g.toFixed(1).padStart(21)} ${c.toFixed(1).padStart(21)} ${
        (c / g).toFixed(2).padStart(13)
      }×`,
  );
}
