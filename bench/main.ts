// `deno task bench [--json FILE] [--svg FILE] [--sizes 128,256] [--repeats N] [--no-tune] [--peers]
//  [--model FILE.onnx]`
//
// 1. Roofline of Deno's adapter (peak multiply-add, bandwidth by working-set size).
// 2. Autotuning: every registry variant on every distinct op shape of the default student and of
//    the shipped effects' students (weights/), then a workgroup-size sweep of the fastest; the
//    winners go to the adapter's tuning file (--no-tune loads the existing one instead). Every
//    kernel's efficiency against the roofline.
// 3. The whole student with those choices: GPU time per inference (replays, submit latency
//    subtracted) and the end-to-end frame (upload, run, readback), medians of repeats.
// 4. --peers: ONNX Runtime Web (WebGPU, single-thread WASM), TF.js WebGPU and ours, in Deno and in
//    headless Chromium, plus onnxruntime-node CPU; cold start and warm frame; table, JSON, SVG.
// With --model, steps 2-4 run the user's ONNX model (imported for us, the file itself for ORT)
// instead of the default student.

import { parseArgs } from "node:util";
import { basename } from "node:path";
import { acquireGpu } from "../src/runtime/device.ts";
import {
  GpuExecutor,
  resolveStep,
  singleStepProgram,
  type Weights,
} from "../src/runtime/executor.ts";
import { hostTensor } from "../src/runtime/tensor.ts";
import {
  autotune,
  median,
  submitLatency,
  timeReplays,
  type TuneMeasurement,
} from "../src/runtime/autotune.ts";
import {
  agreedChoices,
  chooseVariant,
  loadTuning,
  SOFTWARE_DEFAULTS,
  stepKey,
  type Tuning,
  TUNING_DIR,
} from "../src/runtime/tuning.ts";
import { plan } from "../src/graph/planner.ts";
import { buildStudent, DEFAULT_STUDENT } from "../src/graph/student.ts";
import { type Architecture, buildNetwork } from "../src/graph/architecture.ts";
import type { Program } from "../src/runtime/program.ts";
import { loadCatalog } from "../src/server/effects.ts";
import { initWeights } from "../src/graph/weights.ts";
import { PipelineCache } from "../src/runtime/pipelines.ts";
import { bestOf, efficiency, measureRoofline, type Roofline } from "./roofline.ts";
import { type Host, makeStudent, type PeerResult } from "./peers/common.ts";
import { runPeers, tuneInChromium } from "./peers/run.ts";
import { peersChart } from "./chart.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "string" },
    svg: { type: "string" },
    sizes: { type: "string", default: "128,256" },
    repeats: { type: "string", default: "7" },
    "no-tune": { type: "boolean", default: false },
    peers: { type: "boolean", default: false },
    hosts: { type: "string", default: "deno,chromium" },
    "peer-repeats": { type: "string", default: "10" },
    "peer-budget-ms": { type: "string", default: "20000" },
    "save-defaults": { type: "boolean", default: false },
    model: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(`usage: deno task bench [options]
  --json FILE         write the report as JSON (and FILE with .svg for the peers chart)
  --svg FILE          where to write the peers chart (default: beside --json)
  --sizes 128,256     student input sizes
  --repeats N         samples per timing (median; default 7)
  --no-tune           use the adapter's existing tuning file instead of autotuning
  --peers             also run ONNX Runtime Web/Node and TF.js side by side, in Deno and Chromium
  --hosts deno,chromium   where the peers run
  --peer-repeats N    warm frames per peer (default 10; at least 3 even past the budget)
  --peer-budget-ms N  stop adding warm frames after this long (default 20000)
  --save-defaults     also write this (software) adapter's table as the shipped software defaults
  --model FILE.onnx   your own network (an RGB image in, the edited image out; symbolic height and
                      width for several --sizes) instead of the default student`);
  Deno.exit(0);
}
const sizes = args.sizes.split(",").map(Number);
const repeats = Math.max(3, Number(args.repeats));
const hosts = args.hosts.split(",").map((h) => h.trim()) as Host[];

const progress = (text: string) =>
  Deno.stdout.isTerminal()
    ? Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${text.slice(0, 150)}`))
    : undefined;
const log = (line: string) => {
  progress("");
  console.log(line);
};
const pad = (s: string | number, n: number) => String(s).padEnd(n);
const num = (x: number, d = 2, w = 8) => (Number.isFinite(x) ? x.toFixed(d) : "n/a").padStart(w);

// ---- adapter, roofline --------------------------------------------------------------------------

const gpu = await acquireGpu();
const info = gpu.info;
const latencyMs = await submitLatency(gpu.device);
log(
  `adapter: ${info.description || info.vendor} (${info.architecture || "?"})` +
    `${info.isFallbackAdapter ? ", fallback/software" : ""} — key ${gpu.key}; ` +
    `empty submit + wait ${latencyMs.toFixed(1)} ms`,
);
let roofline = await measureRoofline(gpu.device, { latencyMs, progress });
log(
  `roofline: ${roofline.fmaGflops.toFixed(1)} GFLOP/s f32 multiply-add` +
    (roofline.f16Gflops !== undefined ? `, ${roofline.f16Gflops.toFixed(1)} f16` : "") +
    `; bandwidth ${
      roofline.bandwidth.map((p) =>
        `${(p.bytes / 2 ** 20).toFixed(2)} MiB ${Math.max(p.readGBps, p.copyGBps).toFixed(1)}`
      ).join(", ")
    } GB/s`,
);

// ---- autotuning ---------------------------------------------------------------------------------

const modelBytes = args.model ? await Deno.readFile(args.model) : undefined;
const students = sizes.map((inputSize) => {
  if (modelBytes) {
    const { graph, weights } = makeStudent(inputSize, modelBytes);
    return { inputSize, ...plan(graph), weights };
  }
  const graph = buildStudent({ ...DEFAULT_STUDENT, inputSize });
  return { inputSize, ...plan(graph), weights: initWeights(graph, 1) };
});
// The shipped effects' students are tuned too: they are what the server and the client run, and
// a narrower student's shapes miss the default one's choices (their channel counts differ). With
// their own choices they took 0.75-0.80x the GPU time on llvmpipe (run 41).
const shipped = args["no-tune"] ? [] : await shippedStudents();

const tuningFile = new URL(`${gpu.key}.json`, TUNING_DIR);
let tuning: Tuning | undefined;
let measurements: TuneMeasurement[] = [];
if (args["no-tune"]) {
  tuning = await loadTuning(gpu.key, TUNING_DIR, { isFallbackAdapter: info.isFallbackAdapter });
  log(`tuning: ${tuning ? `${tuning.source ?? "measured"} table (${tuning.adapter})` : "none"}`);
} else {
  const t0 = performance.now();
  const tuned = await autotune(gpu, [...students, ...shipped], { repeats, progress });
  tuning = tuned.tuning;
  measurements = tuned.measurements;
  await Deno.mkdir(TUNING_DIR, { recursive: true });
  await Deno.writeTextFile(tuningFile, JSON.stringify(tuning, null, 2) + "\n");
  log(
    `autotuned ${Object.keys(tuning.choices).length} op shapes, ${measurements.length} ` +
      `configurations in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s → ${tuningFile.pathname}`,
  );
}

// The peak again after the long tuning run; the better of the two is the roofline (contention on a
// shared machine only ever lowers a peak).
roofline = bestOf(roofline, await measureRoofline(gpu.device, { latencyMs, progress }));
log(
  `roofline (best of start and after tuning): ${roofline.fmaGflops.toFixed(1)} GFLOP/s, ` +
    `bandwidth up to ${
      Math.max(...roofline.bandwidth.map((p) => Math.max(p.readGBps, p.copyGBps))).toFixed(1)
    } GB/s`,
);

const withRoof = (m: Parameters<typeof efficiency>[1]) => {
  const e = efficiency(roofline, m);
  return { gflops: m.flops / m.ms / 1e6, gbps: m.bytes / m.ms / 1e6, ...e };
};
const ops = measurements.map((m) => ({ ...m, ...withRoof(m) }));
if (ops.length) {
  console.log(
    `\n${pad("op", 30)}${pad("shape", 36)}${pad("variant", 14)}${pad("wg", 5)}` +
      `      ms  GFLOP/s     GB/s  roof%`,
  );
  for (const r of ops) {
    console.log(
      `${pad(r.label.slice(0, 29), 30)}${pad(r.shape.slice(0, 35), 36)}${
        pad(r.variant + (r.best ? " *" : ""), 14)
      }${pad(r.wg ?? "", 5)}${num(r.ms, 3)} ${num(r.gflops)} ${num(r.gbps)} ${
        num(r.percent, 0, 6)
      }`,
    );
  }
  console.log(`(* chosen; roof% = achieved / roofline-attainable at the kernel's intensity)\n`);
}

// ---- the whole student --------------------------------------------------------------------------

const model = [];
const hot = [];
for (const s of students) {
  progress(`model ${s.inputSize}²`);
  // A cache of its own counts the distinct pipelines: each is a shader compile at load.
  const pipelines = new PipelineCache(gpu.device);
  const executor = await GpuExecutor.create(gpu, s.program, s.weights, { tuning, pipelines });
  const ms = await timeReplays(gpu.device, (e, t) => executor.encode(e, t), { repeats, latencyMs });
  // The end-to-end frame, as the peers are timed: host image in, host image out.
  const x = hostTensor([1, s.inputSize, s.inputSize, 3], new Float32Array(s.inputSize ** 2 * 3));
  for (let i = 0; i < 3; i++) await executor.run([x]);
  const frames: number[] = [];
  for (let i = 0; i < Math.max(repeats, 10); i++) {
    const t0 = performance.now();
    await executor.run([x]);
    frames.push(performance.now() - t0);
  }
  // Per step: the chosen configuration's time alone (from the tuning run, or timed now).
  const steps = executor.variants;
  executor.dispose();
  const dispatched = s.program.steps.filter((step) => !step.elided);
  const perStep = [];
  for (const [i, step] of dispatched.entries()) {
    const { op, ctx } = resolveStep(s.program, step, s.weights);
    const key = stepKey(op, ctx);
    let m: Parameters<typeof efficiency>[1] | undefined = measurements.find((r) =>
      r.key === key && r.best
    );
    if (!m) {
      // Not tuned in this run: time the chosen configuration alone now.
      const single = singleStepProgram(
        step.op,
        step.attrs,
        ctx.inputs.map((t) => t.shape),
        step.params,
      );
      const alone = await GpuExecutor.create(gpu, single, s.weights, { tuning });
      const ms = await timeReplays(gpu.device, (e, t) => alone.encode(e, t), {
        repeats: 3,
        latencyMs,
      });
      alone.dispose();
      const singleCtx = {
        ...ctx,
        inputs: single.tensors.slice(0, -1),
        output: single.tensors.at(-1)!,
      };
      const { precision } = chooseVariant(op, ctx, tuning, gpu.device.features);
      m = { ms, ...op.cost(singleCtx), ...(precision === "f16" ? { precision } : {}) };
    }
    perStep.push({ ...m, label: step.label ?? step.op, op: step.op, variant: steps[i].variant });
  }
  const stepSum = perStep.reduce((a, b) => a + b.ms, 0);
  for (const p of perStep) {
    hot.push({
      inputSize: s.inputSize,
      label: p.label,
      op: p.op,
      variant: p.variant,
      ms: p.ms,
      share: p.ms / stepSum,
      ...withRoof(p),
    });
  }
  model.push({
    inputSize: s.inputSize,
    params: s.stats.params,
    flops: s.stats.flops,
    msMedian: ms,
    gflops: s.stats.flops / ms / 1e6,
    frameMsMedian: median(frames),
    roofPercent: 100 * (s.stats.flops / ms / 1e6) / roofline.fmaGflops,
    sumOfStepsMs: stepSum,
    pipelines: pipelines.size,
  });
}
progress("");
console.log(
  `${pad("model", 8)}${pad("params", 10)}${
    pad("GFLOP", 8)
  }GPU ms (median)  GFLOP/s  % of FMA peak  ` +
    `frame ms (in → out)  pipelines`,
);
for (const m of model) {
  console.log(
    `${pad(`${m.inputSize}²`, 8)}${pad((m.params / 1e6).toFixed(3) + "M", 10)}` +
      `${pad((m.flops / 1e9).toFixed(3), 8)}${num(m.msMedian, 1, 15)}  ${num(m.gflops, 1, 7)}  ` +
      `${num(m.roofPercent, 0, 13)}  ${num(m.frameMsMedian, 1, 19)}  ${num(m.pipelines, 0, 9)}`,
  );
}
const hotList = hot.filter((h) => h.share >= 0.04).sort((a, b) =>
  a.inputSize - b.inputSize || b.share - a.share
);
console.log(`\nhot kernels (≥ 4 % of the student's GPU time):`);
console.log(
  `${pad("size", 6)}${pad("step", 22)}${pad("variant", 18)} share      ms  GFLOP/s  bound    roof%`,
);
for (const h of hotList) {
  console.log(
    `${pad(h.inputSize, 6)}${pad(h.label.slice(0, 21), 22)}${pad(h.variant, 18)}${
      num(100 * h.share, 0, 5)
    }% ${num(h.ms, 3)} ${num(h.gflops, 1)}  ${pad(h.bound, 7)}${num(h.percent, 0, 6)}`,
  );
}
gpu.device.destroy();

// ---- peers --------------------------------------------------------------------------------------

let peerResults: PeerResult[] = [];
let chromium: Record<string, unknown> | undefined;
/** Tables tuned in this run on software adapters: the shipped defaults are what they agree on. */
const softwareTables: Tuning[] = info.isFallbackAdapter && tuning && !args["no-tune"]
  ? [tuning]
  : [];
if (args.peers) {
  if (hosts.includes("chromium") && !args["no-tune"]) {
    // Chromium's adapter (SwiftShader here) gets its own roofline and tuning table, as Deno's did.
    log("chromium: roofline + autotuning of its adapter");
    try {
      const t0 = performance.now();
      const tuned = await tuneInChromium(sizes, {
        architectures: shipped.map((s) => s.architecture),
      });
      await Deno.writeTextFile(
        new URL(`${tuned.key}.json`, TUNING_DIR),
        JSON.stringify(tuned.tuning, null, 2) + "\n",
      );
      if ((tuned.adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter) {
        softwareTables.push(tuned.tuning);
      }
      chromium = {
        adapter: tuned.adapter,
        key: tuned.key,
        roofline: tuned.roofline,
        tuningFile: `tuning/${tuned.key}.json`,
        tuneSeconds: (performance.now() - t0) / 1000,
        ops: tuned.measurements.filter((m) => m.best).map((m) => ({
          ...m,
          ...(tuned.roofline ? efficiency(tuned.roofline, m) : {}),
        })),
      };
      log(`chromium: ${tuned.key} tuned in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } catch (e) {
      log(`chromium: tuning failed: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  peerResults = await runPeers({
    sizes,
    hosts,
    repeats: Number(args["peer-repeats"]),
    budgetMs: Number(args["peer-budget-ms"]),
    model: args.model,
    log,
  });
}

if (args["save-defaults"] && softwareTables.length) {
  // Agreement, not one adapter's table: lavapipe's choices measured 15 % slower on SwiftShader than
  // the registry's order, so only what every tuned software adapter chose is shipped.
  const defaults = agreedChoices(softwareTables, SOFTWARE_DEFAULTS);
  await Deno.writeTextFile(
    new URL(`${SOFTWARE_DEFAULTS}.json`, TUNING_DIR),
    JSON.stringify(defaults, null, 2) + "\n",
  );
  log(
    `software defaults: ${Object.keys(defaults.choices).length} shapes agreed on by ` +
      `${softwareTables.map((t) => t.adapter).join(", ")} → tuning/${SOFTWARE_DEFAULTS}.json`,
  );
}

const ours = peerResults.filter((r) => r.runtime === "facefx");
const peers = peerResults.filter((r) => r.runtime !== "facefx");
const comparisons = peers.map((p) => {
  const o = p.pairedWith !== undefined ? peerResults[p.pairedWith] : undefined;
  // Warm: our frames alternated with the peer's in one process where available (same contention);
  // cold: our own fresh-process run just before the peer's.
  const oursMs = p.interleaved?.oursMsMedian ?? o?.msMedian ?? NaN;
  return {
    host: p.host,
    inputSize: p.inputSize,
    peer: `${p.runtime} ${p.ep}`,
    oursMs,
    peerMs: p.msMedian,
    warmBasis: p.interleaved ? "interleaved" : "paired",
    oursColdMs: o?.coldStartMs ?? NaN,
    peerColdMs: p.coldStartMs,
    /** ours / peer: below 1 means we are faster. */
    warmRatio: oursMs / p.msMedian,
    coldRatio: o ? o.coldStartMs / p.coldStartMs : NaN,
    /** peer / ours: how many times faster we are. */
    speedup: p.msMedian / oursMs,
  };
});
/** Ours per host and size: medians over all our (paired) measurements. */
const oursSummary = [...new Set(ours.map((o) => `${o.host} ${o.inputSize}`))].map((k) => {
  const runs = ours.filter((o) => `${o.host} ${o.inputSize}` === k && !o.error);
  return {
    host: runs[0]?.host,
    inputSize: runs[0]?.inputSize,
    runs: runs.length,
    msMedian: runs.length ? median(runs.map((r) => r.msMedian)) : NaN,
    coldStartMs: runs.length ? median(runs.map((r) => r.coldStartMs)) : NaN,
    /** Ours starts on baseline kernels: until the tuned ones run. */
    ...(runs.some((r) => r.fullSpeedMs !== undefined)
      ? { fullSpeedMs: median(runs.map((r) => r.fullSpeedMs ?? NaN)) }
      : {}),
  };
});
if (peerResults.length) {
  console.log(
    `\nside by side (warm = median frame, host image in → out; cold = load + compile + first ` +
      `frame; ours warm = our frames alternated with the peer's in the same process, ours cold = a ` +
      `fresh run of ours just before the peer's; ours starts on baseline kernels, as ` +
      `our client does, and "full speed" is when the tuned ones run)`,
  );
  console.log(
    `${pad("host", 10)}${pad("size", 6)}${pad("peer", 16)}  peer warm  ours warm  ours/peer` +
      `  peer cold  ours cold  ours/peer  max |Δ| vs CPU ref`,
  );
  for (const c of comparisons) {
    const p = peers.find((r) =>
      r.host === c.host && r.inputSize === c.inputSize && `${r.runtime} ${r.ep}` === c.peer
    )!;
    console.log(
      `${pad(c.host, 10)}${pad(c.inputSize, 6)}${pad(c.peer, 16)}${num(c.peerMs, 1, 11)}${
        num(c.oursMs, 1, 11)
      }${num(c.warmRatio, 3, 11)}${num(c.peerColdMs, 0, 11)}${num(c.oursColdMs, 0, 11)}${
        num(c.coldRatio, 3, 11)
      }  ${p.error ? `failed: ${p.error.slice(0, 70)}` : p.maxAbsDiff?.toExponential(1) ?? ""}`,
    );
  }
  for (const o of oursSummary) {
    console.log(
      `ours ${o.host} ${o.inputSize}²: warm ${num(o.msMedian, 1, 0)} ms, cold ${
        num(o.coldStartMs, 0, 0)
      } ms${
        o.fullSpeedMs !== undefined ? `, full speed ${num(o.fullSpeedMs, 0, 0)} ms` : ""
      } (median of ${o.runs} runs)`,
    );
  }
}

// ---- report -------------------------------------------------------------------------------------

function chromiumAdapterName(): string {
  const a = chromium?.adapter as
    | { description?: string; vendor?: string; architecture?: string }
    | undefined;
  return a ? a.description || `${a.vendor} ${a.architecture}`.trim() : "its WebGPU adapter";
}

const svgPath = args.svg ?? (args.json ? args.json.replace(/\.json$/, "") + ".svg" : undefined);
if (svgPath && peerResults.length) {
  const rows = [
    ...oursSummary.map((o) => ({
      series: "ours webgpu",
      group: `${o.host} ${o.inputSize}²`,
      warmMs: o.msMedian,
      coldMs: o.coldStartMs,
    })),
    ...peers.map((r) => ({
      series: `${r.runtime} ${r.ep}`,
      group: `${r.host} ${r.inputSize}²`,
      warmMs: r.msMedian,
      coldMs: r.coldStartMs,
    })),
  ];
  await Deno.writeTextFile(
    svgPath,
    peersChart(
      rows,
      `${args.model ? basename(args.model) : "student"}, our runtime vs peers: Deno on ${
        info.description || gpu.key
      }; Chromium on ${chromiumAdapterName()}`,
    ),
  );
  console.log(`\nchart written to ${svgPath}`);
}

if (args.json) {
  const round = (r: Roofline | undefined) => r && JSON.parse(JSON.stringify(r));
  const report = {
    date: new Date().toISOString(),
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      isFallbackAdapter: info.isFallbackAdapter,
      key: gpu.key,
      features: info.features,
    },
    network: args.model ?? "default student",
    repeats,
    submitLatencyMs: latencyMs,
    roofline: round(roofline),
    tuning: {
      file: `tuning/${gpu.key}.json`,
      source: args["no-tune"] ? tuning?.source ?? "none" : "measured",
      shapes: Object.keys(tuning?.choices ?? {}).length,
    },
    ops: ops.map((r) => ({
      op: r.op,
      label: r.label,
      shape: r.shape,
      variant: r.variant,
      wg: r.wg,
      ms: r.ms,
      gflops: r.gflops,
      gbps: r.gbps,
      best: r.best,
      roofPercent: r.percent,
      bound: r.bound,
      ...(r.error ? { error: r.error } : {}),
    })),
    model,
    hotKernels: hot.map((h) => ({
      inputSize: h.inputSize,
      label: h.label,
      op: h.op,
      variant: h.variant,
      ms: h.ms,
      share: h.share,
      gflops: h.gflops,
      gbps: h.gbps,
      bound: h.bound,
      roofPercent: h.percent,
    })),
    peers: peers.map((p) => ({
      runtime: p.runtime,
      ep: p.ep,
      host: p.host,
      inputSize: p.inputSize,
      msMedian: p.msMedian,
      coldStartMs: p.coldStartMs,
      createMs: p.createMs,
      firstFrameMs: p.firstFrameMs,
      samples: p.samples,
      backend: p.backend,
      maxAbsDiff: p.maxAbsDiff,
      loadAverage: p.loadAverage,
      ...(p.interleaved ? { oursInterleaved: p.interleaved } : {}),
      ...(p.error ? { error: p.error } : {}),
    })),
    oursSummary,
    ours: ours.map((o) => ({
      runtime: o.runtime,
      ep: o.ep,
      host: o.host,
      inputSize: o.inputSize,
      msMedian: o.msMedian,
      coldStartMs: o.coldStartMs,
      createMs: o.createMs,
      firstFrameMs: o.firstFrameMs,
      ...(o.fullSpeedMs !== undefined ? { fullSpeedMs: o.fullSpeedMs } : {}),
      samples: o.samples,
      backend: o.backend,
      maxAbsDiff: o.maxAbsDiff,
      loadAverage: o.loadAverage,
      ...(o.error ? { error: o.error } : {}),
    })),
    comparisons,
    ...(chromium ? { chromium } : {}),
  };
  await Deno.writeTextFile(
    args.json,
    JSON.stringify(
      report,
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    ) +
      "\n",
  );
  console.log(`report written to ${args.json}`);
}

/** The students of the effects in weights/, one per distinct architecture, with their weights. */
async function shippedStudents() {
  const catalog = await loadCatalog(new URL("../weights/", import.meta.url).pathname, () => {});
  const byArchitecture = new Map<
    string,
    { architecture: Architecture; program: Program; weights: Weights }
  >();
  for (const { architecture, weights } of catalog.effects.values()) {
    const key = JSON.stringify(architecture);
    if (byArchitecture.has(key)) continue;
    const { program } = plan(buildNetwork(architecture));
    byArchitecture.set(key, { architecture, program, weights });
  }
  return [...byArchitecture.values()];
}
