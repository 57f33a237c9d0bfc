// Browser entry for `deno task prepare`: runs the tracker (IMAGE mode, up to 4 faces) on RGBA
// pixels decoded in Deno, so MediaPipe sees exactly the pixels the crops are cut from.

import { FaceTracker, type TrackerOptions } from "../face/tracker.ts";

let tracker: FaceTracker | undefined;

async function initTracker(options: TrackerOptions): Promise<string> {
  tracker?.close();
  tracker = await FaceTracker.create({ ...options, mode: "IMAGE" });
  return tracker.modelUrl;
}

/** RGBA8 pixels → every face's landmarks as flat (x, y, z) pixel arrays. */
function detectPixels(rgba: Uint8Array, width: number, height: number): number[][] {
  if (!tracker) throw new Error("initTracker() first");
  const image = new ImageData(new Uint8ClampedArray(rgba), width, height);
  return tracker.detect(image).faces.map((f) => Array.from(f.landmarks));
}

Object.assign(globalThis, { initTracker, detectPixels });
