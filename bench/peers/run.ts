// Runs the side-by-side measurements: in Deno, one fresh process per (runtime, EP, size); in
// Chromium, one fresh browser per measurement (a new profile, so no shader or code cache carries
// over). Our runtime is measured the same way as the peers, interleaved with them.

import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { withBrowser } from "../../src/headless/chromium.ts";
import type { Architecture } from "../../src/graph/architecture.ts";
import {
  type Ep,
  failed,
  type Host,
  type PeerResult,
  type PeerSpec,
  type Runtime,
} from "./common.ts";

export interface PeerPlan {
  runtime: Runtime;
  ep: Ep;
  host: Host;
}

/** Everything measured per host: ours first, then the peers. */
export const PLANS: PeerPlan[] = [
  { runtime: "facefx", ep: "webgpu", host: "deno" },
  { runtime: "ort-web", ep: "webgpu", host: "deno" },
  { runtime: "ort-web", ep: "wasm", host: "deno" },
  { runtime: "tfjs", ep: "webgpu", host: "deno" },
  { runtime: "ort-node", ep: "cpu", host: "deno" },
  { runtime: "facefx", ep: "webgpu", host: "chromium" },
  { runtime: "ort-web", ep: "webgpu", host: "chromium" },
  { runtime: "ort-web", ep: "wasm", host: "chromium" },
  { runtime: "tfjs", ep: "webgpu", host: "chromium" },
];

const PAGES: Record<string, string> = {
  "facefx/webgpu": "page_ours.ts",
  "ort-web/webgpu": "page_ort_webgpu.ts",
  "ort-web/wasm": "page_ort_wasm.ts",
  "tfjs/webgpu": "page_tfjs.ts",
};

const here = new URL("./", import.meta.url);
const root = new URL("../../", import.meta.url);

/** Static files the Chromium pages load: ORT's WASM binaries and our tuning tables. */
export const BROWSER_MOUNTS = {
  "/ort/": fileURLToPath(new URL("node_modules/onnxruntime-web/dist/", root)),
  "/tuning/": fileURLToPath(new URL("tuning/", root)),
};

/** One measurement in a fresh Deno process. */
export async function runInDeno(spec: PeerSpec, timeoutMs = 600_000): Promise<PeerResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(new URL("deno_peer.ts", here)), JSON.stringify(spec)],
    cwd: fileURLToPath(root),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  });
  const child = command.spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { stdout, stderr, code } = await child.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder().decode(stdout);
  const line = text.split("\n").find((l) => l.startsWith("PEER_RESULT "));
  if (line) return JSON.parse(line.slice("PEER_RESULT ".length), (_k, v) => v ?? NaN);
  const tail = new TextDecoder().decode(stderr).trim().split("\n").slice(-4).join(" | ");
  return failed(spec, "deno", `exit ${code}: ${tail || text.slice(-300)}`);
}

/** One measurement in a fresh headless Chromium. */
export async function runInChromium(spec: PeerSpec, timeoutMs = 600_000): Promise<PeerResult> {
  const page = PAGES[`${spec.runtime}/${spec.ep}`];
  if (!page) return failed(spec, "chromium", `no Chromium page for ${spec.runtime}/${spec.ep}`);
  // The user's model is served to the page from its own folder.
  const model = spec.model && resolve(spec.model);
  const mounts = model ? { ...BROWSER_MOUNTS, "/model/": `${dirname(model)}/` } : BROWSER_MOUNTS;
  const pageSpec = model
    ? { ...spec, model: `/model/${encodeURIComponent(basename(model))}` }
    : spec;
  try {
    return await withBrowser(async (browser) => {
      const p = await browser.open(new URL(page, here));
      const result = await p.call<PeerResult>("runPeer", pageSpec);
      return JSON.parse(JSON.stringify(result), (_k, v) => v ?? NaN);
    }, { mounts, timeoutMs });
  } catch (e) {
    return failed(spec, "chromium", String((e as Error).message ?? e).split("\n")[0]);
  }
}

export interface RunPeersOptions {
  sizes: number[];
  hosts: Host[];
  repeats: number;
  budgetMs: number;
  /** Which runtimes to include (default all). */
  runtimes?: Runtime[];
  /** The user's ONNX model (a path) instead of our student. */
  model?: string;
  log?: (line: string) => void;
}

/**
 * All planned measurements, sizes outermost; failures come back with `error` set. The machines
 * are shared and noisy, so each peer is paired with a measurement of ours in the same host taken
 * just before it (`pairedWith`): ratios come from pairs, not from runs minutes apart.
 */
export async function runPeers(options: RunPeersOptions): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  const measureOne = async (plan: PeerPlan, inputSize: number) => {
    const spec: PeerSpec = {
      runtime: plan.runtime,
      ep: plan.ep,
      inputSize,
      repeats: options.repeats,
      budgetMs: options.budgetMs,
      check: true,
      ...(options.model ? { model: resolve(options.model) } : {}),
    };
    options.log?.(`peers: ${plan.host} ${plan.runtime}/${plan.ep} ${inputSize}²`);
    const load = loadAverage();
    const result = plan.host === "deno" ? await runInDeno(spec) : await runInChromium(spec);
    result.loadAverage = load;
    options.log?.(
      result.error
        ? `  failed: ${result.error}`
        : `  warm ${result.msMedian.toFixed(1)} ms, cold ${result.coldStartMs.toFixed(0)} ms` +
          (result.maxAbsDiff !== undefined
            ? `, max diff ${result.maxAbsDiff.toExponential(1)}`
            : "") +
          `, load ${load.toFixed(2)}`,
    );
    return result;
  };
  for (const inputSize of options.sizes) {
    for (const plan of PLANS) {
      if (!options.hosts.includes(plan.host) || plan.runtime === "facefx") continue;
      if (options.runtimes && !options.runtimes.includes(plan.runtime)) continue;
      const ours = await measureOne(
        { runtime: "facefx", ep: "webgpu", host: plan.host },
        inputSize,
      );
      results.push(ours);
      const peer = await measureOne(plan, inputSize);
      peer.pairedWith = results.length - 1;
      results.push(peer);
    }
  }
  return results;
}

/** The 1-minute load average (Linux), recorded with each measurement; NaN elsewhere. */
function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** Tunes Chromium's adapter in a fresh browser; returns what the page measured. */
export async function tuneInChromium(
  sizes: number[],
  options: { roofline?: boolean; sweepTop?: number; architectures?: Architecture[] } = {},
  timeoutMs = 3_600_000,
) {
  return await withBrowser(async (browser) => {
    const p = await browser.open(new URL("page_ours.ts", here));
    return await p.call<{
      adapter: { description: string; vendor: string; architecture: string };
      key: string;
      roofline?: import("../roofline.ts").Roofline;
      tuning: import("../../src/runtime/tuning.ts").Tuning;
      measurements: import("../../src/runtime/autotune.ts").TuneMeasurement[];
    }>("tune", sizes, options);
  }, { mounts: BROWSER_MOUNTS, timeoutMs });
}
