// Headless Chromium for offline tools (landmark extraction for distillation): bundles a browser
// entry with esbuild, serves it and a few static folders on 127.0.0.1, and drives it with Playwright.
//
// The page entry publishes functions on `globalThis`; `page.call(name, ...args)` runs them.
// Everything (browser, server, temp profile) is torn down when the callback ends, even on error.

import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { createRequire } from "node:module";
import { extname, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Debian's Chromium; `CHROMIUM_PATH` overrides. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Headless, offline, root-friendly, WebGPU on (SwiftShader where there is no GPU). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-unsafe-webgpu",
];

export interface ChromiumOptions {
  /** URL prefix → local directory served as static files, e.g. `{ "/models/": dir }`. */
  mounts?: Readonly<Record<string, string>>;
  /** Launch / load time limit; default 60 s. */
  timeoutMs?: number;
}

export interface ChromiumPage {
  /** Calls `globalThis[name](...args)` in the page and awaits it. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T>;
  readonly page: Page;
}

export interface ChromiumSession {
  /** Bundles the entry (file path or URL), loads it in a new tab, waits for its module to finish. */
  open(entry: string | URL): Promise<ChromiumPage>;
  readonly origin: string;
  readonly context: BrowserContext;
}

/** Bundles a TS browser entry into one ESM script (esbuild's native binary, one shot). */
export async function bundleForBrowser(entry: string | URL): Promise<string> {
  const path = entry instanceof URL ? fileURLToPath(entry) : resolve(entry);
  const { code, stdout, stderr } = await new Deno.Command(esbuildBinary(), {
    args: [
      path,
      "--bundle",
      "--format=esm",
      "--platform=browser",
      "--target=es2022",
      "--loader:.wgsl=text",
      "--log-level=error",
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) throw new Error(`esbuild failed on ${path}:\n${text.decode(stderr)}`);
  return text.decode(stdout);
}

function esbuildBinary(): string {
  const override = Deno.env.get("ESBUILD_BINARY_PATH");
  if (override) return override;
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as const)[Deno.build.arch];
  const file = os === "win32" ? "esbuild.exe" : "bin/esbuild";
  const fromEsbuild = createRequire(createRequire(import.meta.url).resolve("esbuild"));
  return fromEsbuild.resolve(`@esbuild/${os}-${arch}/${file}`);
}

const LOADER = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
try { await import("./bundle.js"); globalThis.__ready = {}; }
catch (e) { globalThis.__ready = { error: String((e && e.stack) || e) }; }
</script>`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

/** Runs `fn` with a live headless Chromium session. */
export async function withChromium<T>(
  fn: (session: ChromiumSession) => Promise<T>,
  options: ChromiumOptions = {},
): Promise<T> {
  const timeout = options.timeoutMs ?? 60_000;
  const bundles = new Map<string, string>();
  const mounts = Object.entries(options.mounts ?? {});
  // Cross-origin isolation lets MediaPipe's wasm use SharedArrayBuffer where it wants to.
  const headers = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cache-control": "no-store",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const cut = path.lastIndexOf("/") + 1;
    const js = bundles.get(path.slice(0, cut));
    const ok = (body: BodyInit, type: string) =>
      new Response(body, { headers: { ...headers, "content-type": type } });
    if (js !== undefined && path.slice(cut) === "") return ok(LOADER, TYPES[".html"]);
    if (js !== undefined && path.slice(cut) === "bundle.js") return ok(js, TYPES[".js"]);
    for (const [prefix, dir] of mounts) {
      if (!path.startsWith(prefix)) continue;
      const rel = normalize(decodeURIComponent(path.slice(prefix.length)));
      if (rel.startsWith("..") || rel.startsWith("/")) break;
      try {
        const full = resolve(dir, rel);
        if (!(await Deno.stat(full)).isFile) break;
        const file = await Deno.open(full);
        return ok(file.readable, TYPES[extname(rel)] ?? "application/octet-stream");
      } catch {
        break;
      }
    }
    return new Response("not found", { status: 404, headers });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let profile: string | undefined;
  let context: BrowserContext | undefined;
  try {
    profile = await Deno.makeTempDir({ prefix: "facefx-chromium-" });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_FLAGS],
      timeout,
    });
    const ctx = context;
    let pages = 0;
    return await fn({
      origin,
      context: ctx,
      async open(entry) {
        const prefix = `/p/${pages++}/`;
        bundles.set(prefix, await bundleForBrowser(entry));
        const page = await ctx.newPage();
        page.setDefaultTimeout(timeout);
        page.on("pageerror", (e) => console.error(`[chromium] uncaught: ${e.stack ?? e}`));
        await page.goto(origin + prefix);
        const state = await page.waitForFunction(() =>
          (globalThis as { __ready?: { error?: string } }).__ready
        );
        const ready = (await state.jsonValue()) as { error?: string };
        if (ready.error) throw new Error(`${entry} failed to load in Chromium:\n${ready.error}`);
        return {
          page,
          call<T>(name: string, ...args: unknown[]): Promise<T> {
            return page.evaluate(async ([name, args]) => {
              const f = (globalThis as Record<string, unknown>)[name];
              if (typeof f !== "function") throw new Error(`page has no globalThis.${name}()`);
              return await f(...args);
            }, [name, args] as const) as Promise<T>;
          },
        };
      },
    });
  } finally {
    await context?.close().catch((e) => console.error(`[chromium] close failed: ${e}`));
    await server.shutdown();
    if (profile) await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
