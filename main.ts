// `deno task start [--port N] [--weights DIR] …`: serves the edge app on one port and shuts down
// gracefully on SIGINT/SIGTERM (sockets closed with 1001, admitted crops and requests finish).

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { acquireGpu } from "./src/runtime/device.ts";
import type { BackendPreference } from "./src/server/backend.ts";
import { createEdgeServer, DEFAULT_RATE_LIMIT } from "./src/server/app.ts";
import { DEFAULT_BATCHER } from "./src/server/batcher.ts";

const USAGE = `usage: deno task start [options]
  --port N            listen port (default $PORT or 8000; 0 picks a free one)
  --host ADDR         listen address (default $HOST or 0.0.0.0)
  --weights DIR       effects directory: <id>.json + <sha256>.safetensors (default weights/)
  --landmarker PATH   face_landmarker.task to serve at /models/face_landmarker.task
  --samples DIR       pictures/clips the demo page offers as sources (e.g. ../shared/data/faces)
  --backend B         auto | webgpu | onnxruntime | cpu (default auto: WebGPU on a hardware
                      adapter, else ONNX Runtime on the CPU; cpu is the slow reference executor)
  --max-batch N       most crops per batch (default ${DEFAULT_BATCHER.maxBatch}; 1 = no batching)
  --max-wait-ms N     longest a crop waits for a fuller batch (default ${DEFAULT_BATCHER.maxWaitMs})
  --max-queue N       most waiting crops before 503 (default ${DEFAULT_BATCHER.maxQueue})
  --max-in-flight N   batches running at once (default ${DEFAULT_BATCHER.maxInFlight}; 1 = one after another)
  --timeout-ms N      per-crop deadline (default ${DEFAULT_BATCHER.timeoutMs})
  --rate N            per-client inference requests/frames per second, 0 = off (default ${DEFAULT_RATE_LIMIT.ratePerSec})
  --burst N           per-client burst (default ${DEFAULT_RATE_LIMIT.burst})
  --cors ORIGINS      "*" or a comma-separated origin list (default *)
  --trust-proxy       take client addresses from X-Forwarded-For
  --no-warmup         skip building each effect's executor before listening`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    host: { type: "string" },
    weights: { type: "string" },
    landmarker: { type: "string" },
    samples: { type: "string" },
    backend: { type: "string", default: "auto" },
    "max-batch": { type: "string" },
    "max-wait-ms": { type: "string" },
    "max-queue": { type: "string" },
    "max-in-flight": { type: "string" },
    "timeout-ms": { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    cors: { type: "string", default: "*" },
    "trust-proxy": { type: "boolean", default: false },
    "no-warmup": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

/** A flag as a non-negative integer within [min, max], or its default when absent. */
function int(name: string, raw: string | undefined, fallback: number, min = 0, max = 1e9): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(`--${name} must be an integer in ${min}..${max}`);
  }
  return n;
}

const port = int("port", values.port ?? Deno.env.get("PORT"), 8000, 0, 65535);
const backend = values.backend as BackendPreference;
if (!["auto", "webgpu", "onnxruntime", "cpu"].includes(backend)) {
  fail(`--backend must be auto, webgpu, onnxruntime or cpu`);
}
const weightsDir = values.weights ?? fileURLToPath(new URL("./weights", import.meta.url));

const edge = await createEdgeServer({
  weightsDir,
  landmarkerPath: values.landmarker ?? Deno.env.get("FACE_LANDMARKER"),
  samplesDir: values.samples,
  backendPreference: backend,
  acquireGpu: () => acquireGpu(),
  batcher: {
    maxBatch: int("max-batch", values["max-batch"], DEFAULT_BATCHER.maxBatch, 1, 64),
    maxWaitMs: int("max-wait-ms", values["max-wait-ms"], DEFAULT_BATCHER.maxWaitMs, 0, 10_000),
    maxQueue: int("max-queue", values["max-queue"], DEFAULT_BATCHER.maxQueue, 1, 100_000),
    maxInFlight: int("max-in-flight", values["max-in-flight"], DEFAULT_BATCHER.maxInFlight, 1, 8),
    timeoutMs: int("timeout-ms", values["timeout-ms"], DEFAULT_BATCHER.timeoutMs, 1, 600_000),
  },
  rateLimit: {
    ratePerSec: int("rate", values.rate, DEFAULT_RATE_LIMIT.ratePerSec),
    burst: int("burst", values.burst, DEFAULT_RATE_LIMIT.burst, 1),
  },
  corsOrigins: values.cors === "*"
    ? "*"
    : values.cors.split(",").map((s) => s.trim()).filter(Boolean),
  trustProxy: values["trust-proxy"],
  warmup: !values["no-warmup"],
});

const effects = [...edge.catalog.effects.keys()];
console.log(
  `backend: ${edge.backend.name}; effects: ${effects.length ? effects.join(", ") : "none"}` +
    (edge.catalog.broken.length
      ? `; broken: ${edge.catalog.broken.map((b) => b.file).join(", ")}`
      : ""),
);

const server = Deno.serve({
  port,
  hostname: values.host ?? Deno.env.get("HOST") ?? "0.0.0.0",
  onListen: ({ hostname, port }) => {
    const shown = hostname === "0.0.0.0"
      ? "localhost"
      : hostname.includes(":")
      ? `[${hostname}]`
      : hostname;
    console.log(`serving on http://${shown}:${port}/`);
  },
}, edge.app.fetch);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      Deno.exit(1);
    }
    stopping = true;
    console.log(`${signal}: closing sockets, finishing in-flight requests`);
    await edge.shutdown();
    await server.shutdown();
    await edge.dispose();
    console.log("stopped");
    Deno.exit(0);
  });
}
