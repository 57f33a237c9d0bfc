// Builds the edge server's Hono app. main.ts only serves it; tests call app.request() directly.
// This first version serves a status page and /healthz; the effect catalog and inference follow.

import { Hono } from "hono";
import type { AdapterSummary } from "../runtime/device.ts";

export interface AppOptions {
  /** The adapter inference runs on, or undefined when the server has none (CPU backend). */
  adapter?: AdapterSummary;
}

export function createApp(options: AppOptions = {}): Hono {
  const app = new Hono();
  const backend = options.adapter ? "webgpu" : "cpu";

  app.get("/", (c) =>
    c.html(`<!doctype html><meta charset="utf-8"><title>Face effects</title>
<h1>Face effects edge server</h1>
<p>Inference backend: ${backend}${
      options.adapter
        ? ` (${escapeHtml(options.adapter.description || options.adapter.vendor)})`
        : ""
    }. The browser client arrives here next; <a href="/healthz">/healthz</a> reports status.</p>`));

  app.get("/healthz", (c) =>
    c.json({
      status: "ok",
      backend,
      adapter: options.adapter ?? null,
    }));

  return app;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
