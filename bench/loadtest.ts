// `deno task loadtest [--clients 32] [--seconds 30] [--mode mixed|http|ws] [--compare] …`: starts
// the edge server as a subprocess on 127.0.0.1, runs N closed-loop clients (HTTP and/or WebSocket)
// for T seconds, and prints throughput, latency percentiles, errors by kind, the server's batch
// sizes and its RSS (from /proc/<pid>/status) before and after. --compare runs max batch 1 first.
//
// Loopback only, and every loop is bounded in count and time. Without --weights it serves the
// test effect from tests/server/fixture.ts (128², width 0.25 unless --size/--width say otherwise).

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { DEFAULT_STUDENT } from "../src/graph/student.ts";
import { decodeFrame, encodeFrame } from "../src/server/frames.ts";
import { buildTestEffect, rawHeaders, testCrop } from "../tests/server/fixture.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "32" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "3" },
    mode: { type: "string", default: "mixed" },
    "max-batch": { type: "string", default: "8" },
    "max-wait-ms": { type: "string" },
    "max-queue": { type: "string" },
    "max-in-flight": { type: "string" },
    compare: { type: "boolean", default: false },
    weights: { type: "string" },
    effect: { type: "string" },
    size: { type: "string", default: "128" },
    width: { type: "string", default: "0.25" },
    backend: { type: "string", default: "auto" },
    json: { type: "string" },
  },
});

const clients = Math.min(1024, Math.max(1, Number(args.clients)));
const seconds = Math.min(3600, Math.max(1, Number(args.seconds)));
const warmupS = Math.min(60, Math.max(0, Number(args.warmup)));
const mode = args.mode as "mixed" | "http" | "ws";
if (!["mixed", "http", "ws"].includes(mode)) throw new Error("--mode is mixed, http or ws");
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
/** `deno task start`'s own flags, so the server runs as a user's would. */
const START_FLAGS = (JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks.start as string).split(" ").filter((f) => f.startsWith("--"));
const HOST = "127.0.0.1"; // loopback only, by construction
/** Per-client request cap: the time bound ends a run long before this in practice. */
const MAX_ITERATIONS = 1_000_000;

interface Effect {
  dir: string;
  id: string;
  size: number;
}

async function effectUnderTest(): Promise<Effect> {
  if (args.weights) {
    const dir = args.weights;
    const names = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json")).map((e) =>
      e.name
    );
    const id = args.effect ?? names.sort()[0]?.replace(/\.json$/, "");
    if (!id) throw new Error(`no <id>.json manifest in ${dir}`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/${id}.json`));
    return { dir, id, size: manifest.inputSize };
  }
  const config = { ...DEFAULT_STUDENT, inputSize: Number(args.size), width: Number(args.width) };
  const fx = await buildTestEffect({ id: "loadtest", config });
  return { dir: fx.dir, id: fx.id, size: config.inputSize };
}

/** VmRSS of a process in bytes (Linux /proc), or NaN where /proc is not available. */
function rssOf(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function startServer(effect: Effect, maxBatch: number) {
  const flags = [
    "--host",
    HOST,
    "--port",
    "0",
    "--weights",
    effect.dir,
    "--rate",
    "0", // every client shares 127.0.0.1: the per-IP limit would measure itself
    "--max-batch",
    String(maxBatch),
    "--backend",
    args.backend,
  ];
  if (args["max-wait-ms"]) flags.push("--max-wait-ms", args["max-wait-ms"]);
  if (args["max-queue"]) flags.push("--max-queue", args["max-queue"]);
  if (args["max-in-flight"]) flags.push("--max-in-flight", args["max-in-flight"]);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...START_FLAGS, MAIN, ...flags],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 120_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening:\n${text}`);
    text += value;
    url = /serving on (http:\/\/\S+?)\/?\s/.exec(text)?.[1];
  }
  if (!url) throw new Error("server did not start in 120 s");
  // Drain the rest of its output so it never blocks on a full pipe.
  const drained = (async () => {
    for (let i = 0; i < 1e7; i++) if ((await reader.read()).done) return;
  })();
  return { child, url, drained };
}

interface Stats {
  latencies: number[];
  errors: Map<string, number>;
  ok: number;
}

const count = (s: Stats, kind: string) => s.errors.set(kind, (s.errors.get(kind) ?? 0) + 1);

async function httpClient(url: string, effect: Effect, until: number, stats: Stats, seed: number) {
  const body = testCrop(effect.size, seed);
  for (let i = 0; i < MAX_ITERATIONS && performance.now() < until; i++) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/api/effects/${effect.id}/infer`, {
        method: "POST",
        body,
        headers: rawHeaders(effect.size),
      });
      if (res.ok) {
        await res.arrayBuffer();
        stats.ok++;
        stats.latencies.push(performance.now() - t0);
      } else {
        const code = (await res.json().catch(() => ({})))?.error?.code ?? "?";
        count(stats, `http ${res.status} ${code}`);
        // Back off as told: a 503 comes with Retry-After (bounded so the run still ends).
        const retry = Number(res.headers.get("retry-after") ?? 0);
        if (res.status === 503) {
          await sleep(Math.min(retry * 1000, until - performance.now(), 1000));
        }
      }
    } catch (e) {
      count(stats, `http network: ${(e as Error).name}`);
      await sleep(50);
    }
  }
}

async function wsClient(url: string, effect: Effect, until: number, stats: Stats, seed: number) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/effects/${effect.id}/stream`);
  ws.binaryType = "arraybuffer";
  const payload = testCrop(effect.size, seed);
  let waiting: ((outcome: string) => void) | undefined;
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const msg = JSON.parse(e.data);
      if (msg.type === "dropped") waiting?.(`ws dropped ${msg.reason}`);
      else if (msg.type === "error") waiting?.(`ws error ${msg.code}`);
      return;
    }
    decodeFrame(new Uint8Array(e.data));
    waiting?.("ok");
  };
  ws.onclose = () => waiting?.("ws closed");
  const opened = await new Promise<boolean>((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
  });
  if (!opened) {
    count(stats, "ws connect failed");
    return;
  }
  // Closed loop: one frame in flight, the next sent when its answer arrives.
  for (let seq = 1; seq < MAX_ITERATIONS && performance.now() < until; seq++) {
    if (ws.readyState !== WebSocket.OPEN) {
      count(stats, "ws closed");
      break;
    }
    const t0 = performance.now();
    const outcome = new Promise<string>((resolve) => {
      waiting = resolve;
      setTimeout(() => resolve("ws no answer in 30 s"), 30_000);
    });
    ws.send(encodeFrame({ seq, format: "rgba", width: effect.size, height: effect.size, payload }));
    const result = await outcome;
    waiting = undefined;
    if (result === "ok") {
      stats.ok++;
      stats.latencies.push(performance.now() - t0);
    } else count(stats, result);
  }
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await Promise.race([closed, sleep(2000)]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

async function load(
  url: string,
  effect: Effect,
  durationS: number,
): Promise<Stats & { wallS: number }> {
  const stats: Stats = { latencies: [], errors: new Map(), ok: 0 };
  const t0 = performance.now();
  const until = t0 + durationS * 1000;
  await Promise.all(Array.from({ length: clients }, (_, i) => {
    const ws = mode === "ws" || (mode === "mixed" && i % 2 === 1);
    return ws ? wsClient(url, effect, until, stats, i) : httpClient(url, effect, until, stats, i);
  }));
  return { ...stats, wallS: (performance.now() - t0) / 1000 };
}

/** Mean batch size and batch count from the server's Prometheus text. */
async function batchStats(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = [...text.matchAll(/^inference_batch_size_sum\{[^}]*\} (\S+)$/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
  const n = [...text.matchAll(/^inference_batch_size_count\{[^}]*\} (\S+)$/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
  return { batches: n, crops: sum };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

async function run(effect: Effect, maxBatch: number) {
  const { child, url, drained } = await startServer(effect, maxBatch);
  const health = await (await fetch(`${url}/healthz`)).json();
  const rssStart = rssOf(child.pid);
  if (warmupS > 0) await load(url, effect, warmupS);
  const before = await batchStats(url);
  const rssBefore = rssOf(child.pid);
  // RSS every second during the run: "flat" means a plateau, not just two equal end points.
  const timeline: number[] = [];
  const sampler = setInterval(() => timeline.push(rssOf(child.pid)), 1000);
  const result = await load(url, effect, seconds);
  clearInterval(sampler);
  const rssAfter = rssOf(child.pid);
  const after = await batchStats(url);
  child.kill("SIGTERM");
  const status = await child.status;
  await drained;

  const sorted = [...result.latencies].sort((a, b) => a - b);
  const crops = after.crops - before.crops, batches = after.batches - before.batches;
  const summary = {
    maxBatch,
    backend: health.backend,
    adapter: health.adapter?.description ?? null,
    clients,
    mode,
    seconds,
    ok: result.ok,
    throughput: result.ok / result.wallS,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    errors: Object.fromEntries(result.errors),
    meanBatch: batches ? crops / batches : 0,
    rssStartMiB: Number(mib(rssStart)),
    rssBeforeMiB: Number(mib(rssBefore)),
    rssAfterMiB: Number(mib(rssAfter)),
    rssTimelineMiB: timeline.map((b) => Number(mib(b))),
    serverExit: status.code,
  };
  console.log(
    `\nmax batch ${maxBatch} — ${clients} ${mode} clients × ${seconds} s against ${url} ` +
      `(${health.backend}${
        summary.adapter ? `, ${summary.adapter}` : ""
      }; effect ${effect.id} ${effect.size}²)`,
  );
  console.log(`  throughput   ${summary.throughput.toFixed(1)} crops/s (${result.ok} results)`);
  console.log(
    `  latency      p50 ${summary.p50.toFixed(1)} ms, p95 ${summary.p95.toFixed(1)} ms, p99 ${
      summary.p99.toFixed(1)
    } ms`,
  );
  console.log(`  batches      ${batches}, mean ${summary.meanBatch.toFixed(2)} crops`);
  const errs = [...result.errors].map(([k, v]) => `${k}: ${v}`).join(", ");
  console.log(`  errors       ${errs || "none"}`);
  console.log(
    `  server RSS   ${mib(rssStart)} MiB at start, ${
      mib(rssBefore)
    } MiB after ${warmupS} s warm-up, ` +
      `${mib(rssAfter)} MiB after the run (${rssAfter >= rssBefore ? "+" : ""}${
        mib(rssAfter - rssBefore)
      } MiB)`,
  );
  const step = Math.max(1, Math.round(timeline.length / 10));
  const samples = timeline.filter((_, i) => i % step === step - 1).map(mib).join(" ");
  console.log(`  RSS timeline ${samples} MiB (every ${step} s)`);
  console.log(`  server exit  ${status.code} after SIGTERM`);
  return summary;
}

const effect = await effectUnderTest();
const results = [];
if (args.compare) results.push(await run(effect, 1));
results.push(await run(effect, Number(args["max-batch"])));
if (results.length === 2) {
  const [one, many] = results;
  console.log(
    `\nbatching: ${many.throughput.toFixed(1)} vs ${one.throughput.toFixed(1)} crops/s ` +
      `(×${(many.throughput / one.throughput).toFixed(2)}), p50 ${many.p50.toFixed(0)} vs ${
        one.p50.toFixed(0)
      } ms`,
  );
}
if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(results, null, 2) + "\n");
if (!args.weights) await Deno.remove(effect.dir, { recursive: true });
