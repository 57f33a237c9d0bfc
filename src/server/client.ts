// What the browser client needs from the edge server: the demo page at `/`, the SDK and demo
// bundles (esbuild on first request, kept in memory), MediaPipe's wasm from the npm package, the
// per-adapter tuning tables, and optional sample pictures/clips for the demo.

import type { Hono } from "hono";
import { createRequire } from "node:module";
import { dirname, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "../headless/esbuild.ts";
import { sha256Hex } from "../graph/safetensors.ts";
import { TUNING_DIR } from "../runtime/tuning.ts";
import css from "../client/demo/style.css" with { type: "text" };
import { serveBytes } from "./assets.ts";
import type { Catalog } from "./effects.ts";
import { HttpError } from "./errors.ts";

export interface ClientOptions {
  catalog: Catalog;
  /** Pictures or clips offered as demo sources (`--samples DIR`). */
  samplesDir?: string;
  /** Shown on the page: which backend the server infers on. */
  backend: string;
  log: (message: string) => void;
}

interface Asset {
  bytes: Uint8Array;
  etag: string;
  contentType: string;
}

const BUNDLES: Record<string, URL> = {
  "sdk.js": new URL("../client/mod.ts", import.meta.url),
  "demo.js": new URL("../client/demo/main.ts", import.meta.url),
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
};

async function asset(bytes: Uint8Array, contentType: string): Promise<Asset> {
  return { bytes, etag: `"${(await sha256Hex(bytes)).slice(0, 32)}"`, contentType };
}

/** A value computed on first use and kept; a failure is not kept (the next request retries). */
function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    if (!value) {
      value = make();
      value.catch(() => value = undefined);
    }
    return value;
  };
}

/** node_modules/@mediapipe/tasks-vision/wasm, wherever npm put it. */
function mediapipeWasmDir(): string {
  const main = createRequire(import.meta.url).resolve("@mediapipe/tasks-vision");
  return resolve(dirname(main), "wasm");
}

export function mountClient(app: Hono, options: ClientOptions): void {
  const bundles = new Map<string, () => Promise<Asset>>();
  for (const [name, entry] of Object.entries(BUNDLES)) {
    bundles.set(
      name,
      lazy(async () => {
        const t = performance.now();
        const js = await bundle(entry, { minify: true });
        options.log(
          `bundled ${name}: ${(js.length / 1024).toFixed(0)} KiB in ${
            (performance.now() - t).toFixed(0)
          } ms`,
        );
        return asset(new TextEncoder().encode(js), TYPES[".js"]);
      }),
    );
  }
  const style = lazy(() => asset(new TextEncoder().encode(css), TYPES[".css"]));
  const files = new Map<string, () => Promise<Asset>>();
  const file = (path: string) => {
    let get = files.get(path);
    if (!get) {
      get = lazy(async () =>
        asset(await Deno.readFile(path), TYPES[extname(path)] ?? "application/octet-stream")
      );
      files.set(path, get);
    }
    return get();
  };
  const send = (req: Request, a: Asset, cacheControl = "no-cache") =>
    serveBytes(req, a.bytes, { etag: a.etag, contentType: a.contentType, cacheControl });

  app.get("/", (c) => c.html(demoPage(options.catalog, options.backend)));

  app.get("/client/:file", async (c) => {
    const name = c.req.param("file");
    if (name === "demo.css") return send(c.req.raw, await style());
    const make = bundles.get(name);
    if (!make) throw new HttpError(404, "not_found", `no client file ${name.slice(0, 100)}`);
    try {
      return send(c.req.raw, await make());
    } catch (e) {
      options.log(`bundling ${name} failed: ${(e as Error).message}`);
      throw new HttpError(503, "bundle_failed", `the client bundle ${name} could not be built`);
    }
  });

  // Only MediaPipe's own file names: nothing else of node_modules is reachable.
  app.get("/mediapipe/wasm/:file", async (c) => {
    const name = c.req.param("file");
    if (!/^vision_wasm_[a-z_]+\.(js|wasm)$/.test(name)) {
      throw new HttpError(404, "not_found", "no such MediaPipe file");
    }
    try {
      const a = await file(resolve(mediapipeWasmDir(), name));
      return send(c.req.raw, a, "public, max-age=86400");
    } catch {
      throw new HttpError(404, "not_found", "no such MediaPipe file");
    }
  });

  app.get("/tuning/:file", async (c) => {
    const name = c.req.param("file");
    if (!/^[a-z0-9.-]{1,200}\.json$/.test(name)) {
      throw new HttpError(404, "not_found", "no such tuning table");
    }
    try {
      return send(c.req.raw, await file(fileURLToPath(new URL(name, TUNING_DIR))));
    } catch {
      throw new HttpError(404, "not_found", "no tuning table for this adapter");
    }
  });

  const samples = lazy(async () => {
    const names: string[] = [];
    if (!options.samplesDir) return names;
    for await (const e of Deno.readDir(options.samplesDir)) {
      if (e.isFile && TYPES[extname(e.name).toLowerCase()]?.match(/^(image|video)\//)) {
        names.push(e.name);
      }
    }
    return names.sort();
  });
  app.get("/api/samples", async (c) => {
    const names = await samples().catch((): string[] => []);
    return c.json({
      samples: names.map((name) => ({ name, url: `/samples/${encodeURIComponent(name)}` })),
    });
  });
  app.get("/samples/:file", async (c) => {
    const name = c.req.param("file");
    if (!(await samples().catch((): string[] => [])).includes(name)) {
      throw new HttpError(404, "not_found", "no such sample");
    }
    return send(c.req.raw, await file(resolve(options.samplesDir!, name)), "public, max-age=3600");
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The demo page's markup; its script is /client/demo.js. */
export function demoPage(catalog: Catalog, backend: string): string {
  const effects = [...catalog.effects.values()];
  const options = effects.map((e) =>
    `<option value="${escapeHtml(e.id)}">${escapeHtml(e.manifest.name)}</option>`
  ).join("");
  const descriptions = effects.map((e) =>
    `<li><b>${escapeHtml(e.manifest.name)}</b> ${escapeHtml(e.manifest.version)}: ${
      escapeHtml(e.manifest.description)
    }</li>`
  ).join("");
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Face effects</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/client/demo.css">
<script type="module" src="/client/demo.js"></script>
<header>
  <h1>Face effects</h1>
  <span id="backend" class="badge" title="where the effect runs">…</span>
</header>
<main>
  <section class="stage">
    <p id="notice" class="notice" role="status" hidden></p>
    <div id="view" class="view">
      <div id="split-line" class="split-line" hidden></div>
      <p id="message" class="message" role="status" hidden></p>
    </div>
    <input id="split" type="range" min="0" max="100" value="0" aria-label="before / after split">
    <div class="labels"><span>◀ before (camera)</span><span>after (effect) ▶</span></div>
    <progress id="progress" hidden></progress> <span id="progress-label"></span>
  </section>
  <aside>
    <div class="panel">
      <h2>Effect</h2>
      <select id="effect" aria-label="effect">${options}</select>
      ${
    effects.length
      ? `<ul class="description">${descriptions}</ul>`
      : '<p class="description">No effects are loaded (the weights directory is empty).</p>'
  }
    </div>
    <div class="panel">
      <h2>Source</h2>
      <button id="camera" type="button">Camera</button>
      <label>Photo <input id="upload" type="file" accept="image/*"></label>
      <label>Sample clip <select id="sample"><option value="">—</option></select></label>
    </div>
    <div class="panel">
      <h2>Backend</h2>
      <select id="backend-choice" aria-label="backend">
        <option value="auto">Automatic</option>
        <option value="webgpu">On this device (WebGPU)</option>
        <option value="edge">Edge server</option>
      </select>
      <p class="description">The server infers on ${escapeHtml(backend)}.</p>
    </div>
    <div class="panel">
      <h2>Timings per frame</h2>
      <table>
        <tr><td>Face tracking</td><td id="t-track">–</td></tr>
        <tr><td>Alignment</td><td id="t-align">–</td></tr>
        <tr><td>Inference</td><td id="t-infer">–</td></tr>
        <tr><td>Composite</td><td id="t-composite">–</td></tr>
        <tr><td>Frame total</td><td id="t-total">–</td></tr>
        <tr><td>Frames / s</td><td id="t-fps">–</td></tr>
        <tr><td>Faces</td><td id="t-faces">–</td></tr>
      </table>
    </div>
  </aside>
</main>
<footer><a href="/api/effects">/api/effects</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></footer>
</html>
`;
}
