// Page side of tracker_test.ts: runs FaceTracker in Chromium on images served from ../shared,
// with the default model and wasm URLs (the test serves them where our server does).

import { FaceTracker } from "../../src/face/tracker.ts";

async function bitmap(url: string): Promise<ImageBitmap> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return await createImageBitmap(await res.blob());
}

/** IMAGE mode, up to 4 faces: per image its size and every face's flat (x, y, z) landmarks. */
async function detectImages(urls: string[]) {
  const tracker = await FaceTracker.create({
    mode: "IMAGE",
    maxFaces: 4,
    fallbackToPublicModel: false,
  });
  const out = [];
  for (const url of urls) {
    const image = await bitmap(url);
    const r = tracker.detect(image);
    out.push({
      url,
      width: r.width,
      height: r.height,
      faces: r.faces.map((f) => Array.from(f.landmarks)),
    });
    image.close();
  }
  const model = tracker.modelUrl;
  tracker.close();
  return { model, images: out };
}

/** VIDEO mode on a still frame: face counts per frame, with a repeated timestamp in the middle. */
async function detectVideo(url: string, timestamps: number[]) {
  const tracker = await FaceTracker.create({ mode: "VIDEO", fallbackToPublicModel: false });
  const image = await bitmap(url);
  const counts = timestamps.map((t) => tracker.detectForVideo(image, t).faces.length);
  let wrongMode = "";
  try {
    tracker.detect(image);
  } catch (e) {
    wrongMode = String(e);
  }
  tracker.close();
  return { counts, wrongMode };
}

/**
 * A small face in a large picture: `url` shrunk by `scale` at (x, y) on a 1280×960 grey canvas,
 * detected in one pass and with tiles.
 */
async function detectSmall(url: string, scale: number, x: number, y: number) {
  const tracker = await FaceTracker.create({
    mode: "IMAGE",
    maxFaces: 4,
    fallbackToPublicModel: false,
  });
  const image = await bitmap(url);
  const canvas = new OffscreenCanvas(1280, 960);
  const context = canvas.getContext("2d")!;
  context.fillStyle = "#8a8f94";
  context.fillRect(0, 0, 1280, 960);
  context.imageSmoothingQuality = "high";
  context.drawImage(image, x, y, image.width * scale, image.height * scale);
  const scene = await createImageBitmap(canvas);
  const flat = (r: { faces: { landmarks: Float32Array }[] }) =>
    r.faces.map((f) => Array.from(f.landmarks));
  const result = {
    onePass: flat(tracker.detect(scene, { tiles: false })),
    tiled: flat(tracker.detect(scene)),
  };
  tracker.close();
  return result;
}

Object.assign(globalThis, { detectImages, detectVideo, detectSmall });
