// Builds the edge server: the effect catalog, the inference backend and batcher, and the Hono app
// with every route. main.ts only serves `edge.app.fetch`; tests call `edge.app.request()` directly.
//
// Stateless by design: everything here is derived from the weights directory at start-up, so any
// number of replicas can sit behind a load balancer; the weights themselves are CDN-cacheable.

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { acquireGpu, type AdapterSummary, type Gpu } from "../runtime/device.ts";
import { sha256Hex } from "../graph/safetensors.ts";
import { serveBytes } from "./assets.ts";
import { mountClient } from "./client.ts";
import { type Backend, type BackendPreference, GpuBackend, selectBackend } from "./backend.ts";
import { Batcher, type BatcherOptions, DEFAULT_BATCHER } from "./batcher.ts";
import { type Catalog, loadCatalog } from "./effects.ts";
import { errorBody, errorResponse, HttpError, unavailable } from "./errors.ts";
import { findEffect, handleInfer } from "./infer.ts";
import { PROMETHEUS_CONTENT_TYPE, serverMetrics } from "./metrics.ts";
import {
  clientIp,
  corsPolicy,
  jsonBodyLimit,
  rateLimit,
  type RateLimitOptions,
  requestMetrics,
  securityHeaders,
  TokenBuckets,
} from "./middleware.ts";
import { DEFAULT_STREAM, type StreamOptions, StreamSession } from "./stream.ts";

/** MediaPipe's public FaceLandmarker bundle, for servers that do not host their own copy. */
export const FACE_LANDMARKER_URL =
  "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task";

export interface EdgeOptions {
  /** Directory of `<id>.json` manifests and `<sha256>.safetensors` weights. */
  weightsDir: string;
  /** The face-landmarker bundle to serve at /models/face_landmarker.task, if this server has one. */
  landmarkerPath?: string;
  /** A ready backend (tests), else one is chosen by `backendPreference` with `acquireGpu`. */
  backend?: Backend;
  /** A device to run on (tests share one per file); ignored when `backend` is given. */
  gpu?: Gpu;
  backendPreference?: BackendPreference;
  acquireGpu?: () => Promise<Gpu>;
  batcher?: Partial<BatcherOptions>;
  stream?: Partial<Omit<StreamOptions, "admit">>;
  /** Per-client inference limit (requests and stream frames); ratePerSec 0 turns it off. */
  rateLimit?: RateLimitOptions;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy?: boolean;
  corsOrigins?: "*" | string[];
  /** Largest inference request body. */
  maxBodyBytes?: number;
  maxCropsPerRequest?: number;
  /** Pictures or clips the demo page offers as sources (served at /samples/). */
  samplesDir?: string;
  /** Build and run each effect's batch-1 executor before serving (default true). */
  warmup?: boolean;
  log?: (message: string) => void;
}

export interface EdgeServer {
  app: Hono;
  catalog: Catalog;
  backend: Backend;
  batcher: Batcher;
  metrics: ReturnType<typeof serverMetrics>;
  /** Open stream sessions. */
  streams: Set<StreamSession>;
  /** Stops taking work, closes sockets (1001) and waits for admitted crops to finish. */
  shutdown(): Promise<void>;
  /** Frees the backend (GPU buffers, its worker); call after the HTTP server has stopped. */
  dispose(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { ratePerSec: 60, burst: 120 };

export async function createEdgeServer(options: EdgeOptions): Promise<EdgeServer> {
  const log = options.log ?? console.warn;
  const started = Date.now();
  const catalog = await loadCatalog(options.weightsDir, log);

  let backend = options.backend;
  if (!backend && options.gpu) backend = new GpuBackend(options.gpu);
  if (!backend) {
    const acquire = options.acquireGpu ?? (() => acquireGpu());
    backend = (await selectBackend(options.backendPreference ?? "auto", acquire, log)).backend;
  }
  const adapter: AdapterSummary | null = backend instanceof GpuBackend ? backend.gpu.info : null;

  const streams = new Set<StreamSession>();
  // The gauges read the batcher at scrape time, after it exists.
  const metrics = serverMetrics({
    queueDepth: () => batcher.depth,
    inFlight: () => batcher.inFlight,
    streams: () => streams.size,
  });
  const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, ...options.batcher }, metrics);

  if (options.warmup ?? true) {
    for (const effect of catalog.effects.values()) {
      try {
        await backend.warm(effect, 1);
      } catch (e) {
        log(`warm-up of ${effect.id} failed: ${(e as Error).message}`);
      }
    }
  }

  const limits = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const requestBuckets = new TokenBuckets(limits);
  const frameBuckets = new TokenBuckets(limits);
  const trustProxy = options.trustProxy ?? false;
  const streamOptions = { ...DEFAULT_STREAM, ...options.stream };
  let shuttingDown = false;

  const app = new Hono();
  app.use(requestMetrics(metrics));
  app.use(securityHeaders());
  app.use(corsPolicy(options.corsOrigins ?? "*"));

  app.onError((e, c) => {
    if (e instanceof HttpError) return errorResponse(e);
    // Hono's own refusals (none expected: our middleware answers in JSON) keep their status.
    if (e instanceof HTTPException && e.status < 500) {
      return errorResponse(new HttpError(e.status, "bad_request", e.message || "bad request"));
    }
    // Log the failure, never the request body: crops are user faces.
    log(`${c.req.method} ${c.req.routePath}: ${e instanceof Error ? e.message : String(e)}`);
    return errorResponse(new HttpError(500, "internal", "internal server error"));
  });
  app.notFound((c) =>
    c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`), 404)
  );

  // The demo page, the client bundles, MediaPipe's wasm, tuning tables and samples.
  mountClient(app, {
    catalog,
    samplesDir: options.samplesDir,
    backend: adapter ? `${backend.name} (${adapter.description || adapter.vendor})` : backend.name,
    log,
  });
  app.get("/status", (c) => c.html(statusPage(catalog, backend.name, adapter)));

  app.get("/api/effects", (c) => {
    const effects = [...catalog.effects.values()].map((e) => ({
      id: e.id,
      name: e.manifest.name,
      version: e.manifest.version,
      description: e.manifest.description,
      inputSize: e.manifest.inputSize,
      manifestUrl: `/api/effects/${e.id}`,
    }));
    c.header("cache-control", "no-cache");
    return c.json({ effects });
  });

  app.get("/api/effects/:id", (c) => {
    const effect = findEffect(catalog.effects, c.req.param("id"));
    // no-cache = revalidate every time; the ETag makes that a cheap 304.
    return serveBytes(c.req.raw, new TextEncoder().encode(effect.manifestJson), {
      etag: effect.etag,
      contentType: "application/json; charset=utf-8",
      cacheControl: "no-cache",
    });
  });

  // Content-addressed: the name is the hash, so the bytes under a URL never change.
  app.get("/weights/:file", (c) => {
    const m = /^([0-9a-f]{64})\.safetensors$/.exec(c.req.param("file"));
    const bytes = m ? catalog.weights.get(m[1]) : undefined;
    if (!m || !bytes) throw new HttpError(404, "not_found", "no such weight file");
    return serveBytes(c.req.raw, bytes, {
      etag: `"${m[1]}"`,
      contentType: "application/octet-stream",
      cacheControl: "public, max-age=31536000, immutable",
    });
  });

  const landmarker = landmarkerSource(options.landmarkerPath);
  app.get("/models/face_landmarker.task", async (c) => {
    const file = await landmarker();
    if (!file) {
      return c.json({
        ...errorBody(
          "not_found",
          "this server does not host the face-landmarker model; fetch it from MediaPipe",
        ),
        url: FACE_LANDMARKER_URL,
      }, 404);
    }
    return serveBytes(c.req.raw, file.bytes, {
      etag: file.etag,
      contentType: "application/octet-stream",
      cacheControl: "public, max-age=86400",
    });
  });

  const inferLimit = rateLimit(requestBuckets, trustProxy);
  app.post(
    "/api/effects/:id/infer",
    inferLimit,
    jsonBodyLimit(options.maxBodyBytes ?? 16 * 1024 * 1024),
    (c) => {
      if (shuttingDown) throw unavailable("shutting_down", "the server is shutting down");
      return handleInfer(c, {
        effects: catalog.effects,
        batcher,
        maxCropsPerRequest: options.maxCropsPerRequest ?? 16,
      });
    },
  );
  app.all("/api/effects/:id/infer", () => {
    throw new HttpError(405, "method_not_allowed", "use POST", { allow: "POST" });
  });

  app.get("/api/effects/:id/stream", inferLimit, (c) => {
    const effect = findEffect(catalog.effects, c.req.param("id"));
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new HttpError(426, "upgrade_required", "this endpoint is a WebSocket", {
        upgrade: "websocket",
      });
    }
    if (shuttingDown) throw unavailable("shutting_down", "the server is shutting down");
    const key = clientIp(c, trustProxy);
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: 60 });
    const session = new StreamSession(
      socket,
      effect,
      batcher,
      { ...streamOptions, admit: () => frameBuckets.take(key) === 0 },
      metrics,
      (s) => streams.delete(s),
    );
    streams.add(session);
    return response;
  });

  app.get("/healthz", (c) => {
    const lost = backend instanceof GpuBackend && backend.lost;
    const status = shuttingDown ? "shutting_down" : lost ? "degraded" : "ok";
    return c.json({
      status,
      backend: backend.name,
      adapter,
      effects: [...catalog.effects.values()].map((e) => ({
        id: e.id,
        version: e.manifest.version,
        inputSize: e.manifest.inputSize,
        sha256: e.manifest.weights.sha256,
      })),
      broken: catalog.broken,
      queue: {
        depth: batcher.depth,
        max: batcher.options.maxQueue,
        inFlight: batcher.inFlight,
        maxInFlight: batcher.options.maxInFlight,
        maxBatch: batcher.options.maxBatch,
      },
      streams: streams.size,
      uptimeS: Math.round((Date.now() - started) / 1000),
    }, shuttingDown ? 503 : 200);
  });

  app.get(
    "/metrics",
    (c) => c.body(metrics.registry.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
  );

  return {
    app,
    catalog,
    backend,
    batcher,
    metrics,
    streams,
    async shutdown() {
      shuttingDown = true;
      for (const s of [...streams]) s.close(1001, "server shutting down");
      await batcher.close();
    },
    async dispose() {
      await backend.dispose();
    },
  };
}

/** Reads the landmarker bundle on first use and keeps it; a missing file is re-checked each time. */
function landmarkerSource(path: string | undefined) {
  let cached: Promise<{ bytes: Uint8Array; etag: string }> | undefined;
  return async () => {
    if (!path) return undefined;
    if (!cached) {
      cached = Deno.readFile(path).then(async (bytes) => ({
        bytes,
        etag: `"${(await sha256Hex(bytes)).slice(0, 32)}"`,
      }));
      cached.catch(() => cached = undefined);
    }
    try {
      return await cached;
    } catch {
      return undefined;
    }
  };
}

function statusPage(catalog: Catalog, backend: string, adapter: AdapterSummary | null): string {
  const effects = [...catalog.effects.values()]
    .map((e) =>
      `<li><a href="/api/effects/${e.id}">${escapeHtml(e.manifest.name)}</a> ${
        escapeHtml(e.manifest.version)
      }: ${escapeHtml(e.manifest.description)}</li>`
    ).join("\n");
  const device = adapter ? ` (${escapeHtml(adapter.description || adapter.vendor)})` : "";
  return `<!doctype html><meta charset="utf-8"><title>Face effects</title>
<h1>Face effects edge server</h1>
<p>Inference backend: ${backend}${device}. The demo page is at <a href="/">/</a>.</p>
<h2>Effects</h2>
${
    effects
      ? `<ul>\n${effects}\n</ul>`
      : "<p>No effects are loaded (the weights directory is empty).</p>"
  }
<p><a href="/api/effects">/api/effects</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></p>
`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
