// Runs our TypeScript in real headless Chromium with WebGPU (SwiftShader on machines without a GPU):
// esbuild bundles an entry file (.wgsl as text), Deno.serve hosts it, playwright-core drives the page.
// Used by the tools that need MediaPipe or a real page (data preparation, `deno task apply`) and by
// the browser tests.
//
//   await withBrowser(async (browser) => {
//     const page = await browser.open(new URL("./fixtures/add.ts", import.meta.url));
//     const sum = await page.call<number[]>("run", [1, 2, 3]); // calls globalThis.run(...) in the page
//   });
//
// The entry module exposes what tests call by assigning to `globalThis` (top-level await is fine:
// `open` resolves once the module has finished evaluating, and rejects with its error if it threw).
// Page console errors/warnings and uncaught page errors are printed to the Deno test output and
// kept in `page.errors`. The browser, the server and the temp profile are removed even on failure.
// One launch per test file is the intended grain (launch ≈0.2 s, the whole self-test ≈0.7–1.2 s);
// open as many pages as needed inside it. Typed arrays cross `call` both ways as typed arrays.

import { chromium } from "playwright-core";
import type { BrowserContext, ConsoleMessage, Page } from "playwright-core";
import { extname, normalize, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./esbuild.ts";

export { bundle };

/** Debian's Chromium; `CHROMIUM_PATH` overrides. */
export const chromiumPath: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/**
 * Flags measured to give a working WebGPU adapter in headless Debian Chromium 156 with no GPU
 * (adapter "google"/"swiftshader", isFallbackAdapter true). Only `--enable-unsafe-webgpu` is
 * essential; the rest keep the browser quiet, offline and root-friendly. Playwright adds its own
 * defaults on top (`--headless`, `--no-sandbox`, `--enable-unsafe-swiftshader`, `--user-data-dir`, …).
 * Don't add `--enable-features=`/`--disable-features=` here: Chromium keeps only the last such flag,
 * which would silently drop Playwright's.
 */
export const chromiumFlags: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-unsafe-webgpu",
];

export interface BrowserOptions {
  /** Extra Chromium flags, e.g. `--use-fake-device-for-media-stream`. */
  args?: readonly string[];
  /** URL prefix → local directory served as static files, e.g. `{ "/shared/": sharedDir }`. */
  mounts?: Readonly<Record<string, string>>;
  /** Which page console messages reach the Deno output: errors and warnings (default) or all. */
  console?: "errors" | "all";
  /** Time limit for launching, loading a page and the entry module evaluating (default 30 s). */
  timeoutMs?: number;
}

/** What the `withBrowser` callback receives. */
export interface Browser {
  /** Bundles `entry` (a path relative to the cwd, or a file URL), loads it in a new tab, waits for it. */
  open(entry: string | URL): Promise<BrowserPage>;
  /** `http://127.0.0.1:<port>`: where pages and mounts are served. */
  readonly origin: string;
  /** The Playwright context, for anything the harness doesn't wrap. */
  readonly context: BrowserContext;
}

/** One loaded entry module. */
export interface BrowserPage {
  /** Calls `globalThis[name](...args)` in the page (awaited); args and result must be serialisable. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T>;
  /** Console errors and uncaught errors seen so far on this page. */
  readonly errors: readonly string[];
  /** The Playwright page (evaluate, waitForFunction, screenshot, …). */
  readonly page: Page;
}

/** Launches Chromium + a local server, runs `fn`, and tears everything down whatever happens. */
export async function withBrowser<T>(
  fn: (browser: Browser) => Promise<T>,
  options: BrowserOptions = {},
): Promise<T> {
  const timeout = options.timeoutMs ?? 30_000;
  const bundles = new Map<string, string>(); // "/p/<n>/" → bundled JS
  const mounts = Object.entries(options.mounts ?? {});
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => serve(new URL(req.url).pathname, bundles, mounts),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let profile: string | undefined;
  let context: BrowserContext | undefined;
  try {
    profile = await Deno.makeTempDir({ prefix: "facefx-chromium-" });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumFlags, ...(options.args ?? [])],
      timeout,
    });
    const ctx = context;
    let pages = 0;
    return await fn({
      origin,
      context: ctx,
      async open(entry) {
        const prefix = `/p/${pages++}/`;
        bundles.set(prefix, await bundle(entry));
        const page = await ctx.newPage();
        page.setDefaultTimeout(timeout);
        const label = relative(Deno.cwd(), toPath(entry));
        const errors = forwardErrors(page, label, options.console ?? "errors");
        await page.goto(origin + prefix);
        const state = await page.waitForFunction(() => (globalThis as Harnessed).__harness);
        const loaded = (await state.jsonValue()) as HarnessState;
        if (loaded.error) throw new Error(`${entry} failed to load in Chromium:\n${loaded.error}`);
        return {
          page,
          errors,
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
    await context?.close().catch((e) => console.error(`[browser] close failed: ${e}`));
    await server.shutdown();
    if (profile) await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

interface HarnessState {
  error?: string;
}
type Harnessed = typeof globalThis & { __harness?: HarnessState };

// The loader is a module that dynamically imports the bundle, so it sees the end of top-level
// await and any error the entry throws. COOP/COEP make the page cross-origin isolated
// (SharedArrayBuffer for WASM threads, fine-grained performance.now()).
const loaderHtml = `<!doctype html>
<meta charset="utf-8"><title>test page</title><link rel="icon" href="data:,">
<script type="module">
try { await import("./bundle.js"); globalThis.__harness = {}; }
catch (e) { globalThis.__harness = { error: String((e && e.stack) || e) }; }
</script>`;

const isolation = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cache-control": "no-store",
};

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".wgsl": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

async function serve(
  path: string,
  bundles: Map<string, string>,
  mounts: [string, string][],
): Promise<Response> {
  const respond = (body: BodyInit, type: string) =>
    new Response(body, { headers: { ...isolation, "content-type": type } });
  const slash = path.lastIndexOf("/") + 1;
  const js = bundles.get(path.slice(0, slash));
  if (js !== undefined) {
    const file = path.slice(slash);
    if (file === "") return respond(loaderHtml, contentTypes[".html"]);
    if (file === "bundle.js") return respond(js, contentTypes[".js"]);
  }
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rel = normalize(decodeURIComponent(path.slice(prefix.length)));
    if (rel.startsWith("..") || rel.startsWith("/")) break;
    try {
      const full = resolve(dir, rel);
      if (!(await Deno.stat(full)).isFile) break;
      const file = await Deno.open(full);
      const type = contentTypes[extname(rel)] ?? "application/octet-stream";
      return respond(file.readable, type);
    } catch {
      break;
    }
  }
  return new Response("not found", { status: 404, headers: isolation });
}

function forwardErrors(page: Page, label: string, level: "errors" | "all"): string[] {
  const errors: string[] = [];
  page.on("console", (msg: ConsoleMessage) => {
    const type = msg.type();
    const bad = type === "error" || type === "warning";
    // A failed fetch names no URL in its text; the location says which one.
    const failed = msg.text().startsWith("Failed to load resource");
    const text = failed ? `${msg.text()} (${msg.location().url})` : msg.text();
    if (type === "error") errors.push(text);
    if (bad || level === "all") {
      (bad ? console.error : console.log)(`[chromium ${label}] console.${type}: ${text}`);
    }
  });
  page.on("pageerror", (err: Error) => {
    errors.push(err.stack ?? String(err));
    console.error(`[chromium ${label}] uncaught: ${err.stack ?? err}`);
  });
  page.on("crash", () => {
    errors.push("page crashed");
    console.error(`[chromium ${label}] page crashed`);
  });
  return errors;
}

function toPath(entry: string | URL): string {
  return entry instanceof URL ? fileURLToPath(entry) : resolve(entry);
}
