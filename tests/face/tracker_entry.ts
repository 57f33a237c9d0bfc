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

Object.assign(globalThis, { detectImages, detectVideo });
