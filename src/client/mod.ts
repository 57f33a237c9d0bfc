// The browser SDK (served bundled at /client/sdk.js): live face effects on a camera, a clip or a
// photo, on the device's GPU or through the edge server, with the backend chosen and switched
// automatically.
//
//   import { createEffectSession } from "https://effects.example/client/sdk.js";
//   const session = createEffectSession({
//     server: "https://effects.example", effect: "cartoon", source: "camera", target: div,
//   });
//   session.on("backend", ({ backend, reason }) => console.log(backend, reason));
//   session.on("timings", (t) => console.log(t.fps, t.track, t.infer));
//   session.on("error", ({ code, message }) => console.warn(code, message));
//   await session.start();            // … session.setEffect("zombie"); session.stop();

export {
  type Backend,
  type BackendChoice,
  createEffectSession,
  EDGE_BACK,
  EffectSession,
  type ErrorCode,
  SessionError,
  type SessionEvents,
  type SessionOptions,
  type Snapshot,
  type Timings,
} from "./session.ts";
export type { SourceOption } from "./frames.ts";
export {
  type CatalogEntry,
  fetchCatalog,
  type LoadedEffect,
  loadEffect,
  WEIGHTS_CACHE,
} from "./effects.ts";

import { type BackendChoice, createEffectSession, type Snapshot, type Timings } from "./session.ts";

export interface ApplyOptions {
  server?: string;
  effect: string;
  backend?: BackendChoice;
  maxFaces?: number;
}

export interface ApplyResult {
  /** The composited picture as PNG. */
  png: Uint8Array;
  width: number;
  height: number;
  faces: number;
  backend: string;
  timings?: Timings;
}

async function toPng(shot: Snapshot, timings?: Timings): Promise<ApplyResult> {
  const canvas = new OffscreenCanvas(shot.width, shot.height);
  const context = canvas.getContext("2d")!;
  context.putImageData(new ImageData(new Uint8ClampedArray(shot.after), shot.width), 0, 0);
  const blob = await canvas.convertToBlob({ type: "image/png" });
  return {
    png: new Uint8Array(await blob.arrayBuffer()),
    width: shot.width,
    height: shot.height,
    faces: shot.faces.length,
    backend: shot.backend,
    timings,
  };
}

function hiddenTarget(): HTMLElement {
  const target = document.createElement("div");
  target.style.display = "none";
  document.body.append(target);
  return target;
}

/**
 * Runs the whole pipeline on still pictures, one after another through one session (IMAGE-mode
 * tracking, every face up to `maxFaces`): what `deno task apply` calls in headless Chromium.
 */
export async function applyToImages(
  options: ApplyOptions & {
    images: AsyncIterable<Blob> | Iterable<Blob>;
    onResult: (index: number, result: ApplyResult) => Promise<void> | void;
  },
): Promise<number> {
  const target = hiddenTarget();
  let session: ReturnType<typeof createEffectSession> | undefined;
  let timings: Timings | undefined;
  let index = 0;
  try {
    for await (const image of options.images) {
      let shot: Snapshot;
      if (!session) {
        session = createEffectSession({
          server: options.server,
          effect: options.effect,
          source: image,
          target,
          backend: options.backend ?? "auto",
          maxFaces: options.maxFaces ?? 4,
        });
        session.on("timings", (t) => timings = t);
        const first = session.snapshot();
        await session.start();
        shot = await first;
      } else {
        await session.setSource(image);
        shot = await session.snapshot();
      }
      await options.onResult(index++, await toPng(shot, timings));
    }
  } finally {
    session?.stop();
    target.remove();
  }
  return index;
}

/** One picture: see applyToImages. */
export async function applyToImage(options: ApplyOptions & { image: Blob }): Promise<ApplyResult> {
  let result: ApplyResult | undefined;
  await applyToImages({
    ...options,
    images: [options.image],
    onResult: (_, r) => void (result = r),
  });
  return result!;
}

/**
 * Runs a clip's frames in order through one VIDEO-mode session (tracking and One-Euro smoothing
 * across frames, timestamps 1000/fps apart) and hands back every frame's result.
 */
export async function applyToVideo(
  options: ApplyOptions & {
    frames: AsyncIterable<Blob> | Iterable<Blob>;
    fps: number;
    onResult: (index: number, result: ApplyResult) => Promise<void> | void;
  },
): Promise<number> {
  const target = hiddenTarget();
  const session = createEffectSession({
    server: options.server,
    effect: options.effect,
    source: { frames: options.frames, fps: options.fps },
    target,
    backend: options.backend ?? "auto",
    maxFaces: options.maxFaces ?? 4,
    capture: true,
  });
  let timings: Timings | undefined;
  let index = 0;
  const pending: Promise<void>[] = [];
  session.on("timings", (t) => timings = t);
  session.on("result", (shot) => {
    const i = index++;
    pending.push(toPng(shot, timings).then((r) => options.onResult(i, r)));
  });
  try {
    await session.start();
    await session.done;
    await Promise.all(pending);
  } finally {
    session.stop();
    target.remove();
  }
  return index;
}
