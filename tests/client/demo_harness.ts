// Runs the real demo page, served by a real edge server (the tint effect, the shared face model),
// in headless Chromium with a fake camera playing a clip; gives the test the Playwright page and
// the page's uncaught errors. Everything is torn down when the callback ends.

import type { Page } from "playwright-core";
import { withBrowser } from "../../src/headless/chromium.ts";
import { createEdgeServer, type EdgeServer } from "../../src/server/app.ts";
import { sharedDir } from "../support/env.ts";
import type { TintEffect } from "./fixture.ts";

export interface DemoOptions {
  /** A .y4m clip for the fake camera; without it the camera is refused (no fake UI). */
  clip?: string;
  /** Query string of the demo page, e.g. "effect=tint&backend=webgpu". */
  query: string;
  /** Runs in the page before any of its scripts (e.g. hide navigator.gpu). */
  initScript?: string;
}

export interface DemoPage {
  page: Page;
  /** The edge server behind the page (tests may shut it down). */
  edge: EdgeServer;
  origin: string;
  /** Uncaught exceptions and unhandled rejections in the page. */
  uncaught: string[];
  /** Paths the page requested from our server. */
  requests: string[];
}

export async function withDemo<T>(
  effect: TintEffect,
  options: DemoOptions,
  fn: (demo: DemoPage) => Promise<T>,
): Promise<T> {
  const edge = await createEdgeServer({
    weightsDir: effect.dir,
    landmarkerPath: `${sharedDir}/models/face_landmarker.task`,
    rateLimit: { ratePerSec: 0, burst: 1 },
    log: () => {},
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, edge.app.fetch);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const camera = options.clip
    ? [
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      `--use-file-for-fake-video-capture=${options.clip}`,
    ]
    : ["--use-fake-device-for-media-stream"];
  try {
    return await withBrowser(async (browser) => {
      // Offline: MediaPipe's usage logs and any public fallback URL fail fast instead of hanging.
      await browser.context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
      if (options.initScript) await browser.context.addInitScript(options.initScript);
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 1280, height: 800 });
      page.setDefaultTimeout(45_000);
      const uncaught: string[] = [];
      const requests: string[] = [];
      page.on("pageerror", (e) => {
        uncaught.push(e.stack ?? String(e));
        console.error(`[demo] uncaught: ${e.stack ?? e}`);
      });
      page.on("request", (r) => {
        if (r.url().startsWith(origin)) requests.push(new URL(r.url()).pathname);
      });
      await page.goto(`${origin}/?${options.query}`);
      return await fn({ page, edge, origin, uncaught, requests });
    }, { args: camera, timeoutMs: 60_000 });
  } finally {
    await edge.shutdown();
    await server.shutdown();
    await edge.dispose();
  }
}

/** The page's demo state (see src/client/demo/main.ts), JSON-safe parts. */
export interface DemoState {
  messages: { code: string; text: string }[];
  errors: { code: string; message: string }[];
  backends: { backend: string; reason: string; time: number }[];
  frames: number[];
  backend: string | null;
}

export function demoState(page: Page): Promise<DemoState> {
  return page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const s = (globalThis as any).facefxDemo;
    return {
      messages: s.messages,
      errors: s.errors,
      backends: s.backends,
      frames: s.frames,
      backend: s.session?.backend ?? null,
    };
  });
}

/** Waits until the session has shown `frames` more frames on `backend`. */
export async function waitFrames(page: Page, frames: number, backend?: string): Promise<void> {
  const start = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any
    ((globalThis as any).facefxDemo?.frames?.length ?? 0) as number
  );
  await page.waitForFunction(
    ([target, backend]) => {
      // deno-lint-ignore no-explicit-any
      const s = (globalThis as any).facefxDemo;
      return s?.frames.length >= target && (!backend || s.session?.backend === backend);
    },
    [start + frames, backend ?? ""] as const,
    { polling: 50 },
  );
}

export interface PageSnapshot {
  width: number;
  height: number;
  backend: string;
  before: Uint8Array;
  after: Uint8Array;
  faces: {
    id: number;
    warp: number[];
    inverse: number[];
    outline: number[];
    landmarks: number[];
    raw: number[];
  }[];
}

/** The next frame's camera and result pixels and faces, from the page's session. */
export async function snapshot(page: Page): Promise<PageSnapshot> {
  const s = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const shot = await (globalThis as any).facefxDemo.session.snapshot();
    const b64 = (bytes: Uint8Array) => {
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(text);
    };
    return {
      width: shot.width,
      height: shot.height,
      backend: shot.backend,
      before: b64(shot.before),
      after: b64(shot.after),
      // deno-lint-ignore no-explicit-any
      faces: shot.faces.map((f: any) => ({
        id: f.id,
        warp: f.warp,
        inverse: f.inverse,
        outline: Array.from(f.outline),
        landmarks: Array.from(f.landmarks),
        raw: Array.from(f.raw),
      })),
    };
  });
  const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return { ...s, before: bytes(s.before), after: bytes(s.after) };
}

/**
 * Saves a screenshot of the page as `<name>.png` in $FACEFX_SCREENSHOTS, when that is set
 * (`FACEFX_SCREENSHOTS=out/screenshots deno test -A tests/client/e2e_test.ts`).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = Deno.env.get("FACEFX_SCREENSHOTS");
  if (!dir) return;
  await Deno.mkdir(dir, { recursive: true });
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Median per-stage timings of the frames the page has shown (its timings events), ms. */
export async function medianTimings(page: Page, backend: string): Promise<string> {
  const log = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any
    (globalThis as any).facefxDemo.timingLog as Record<string, number | string>[]
  );
  const rows = log.filter((t) => t.backend === backend).slice(5);
  const median = (k: string) => {
    const v = rows.map((t) => t[k] as number).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const stages = ["track", "align", "infer", "composite", "upload", "total", "fps"];
  return `${backend}, ${rows.length} frames, medians (ms): ` +
    stages.map((k) => `${k} ${median(k)?.toFixed(1)}`).join(", ");
}
