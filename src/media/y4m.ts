// YUV4MPEG2 (.y4m) clips, 4:2:0 8-bit: what Chromium's fake camera plays
// (`--use-file-for-fake-video-capture=clip.y4m`), and what `deno task apply` reads and writes.
//
// Colour: BT.601 limited range (Y 16–235, Cb/Cr 16–240), the matrix Chromium assumes for I420
// frames without colour metadata, so RGB → clip → camera frame comes back within a few levels.

import type { RgbaImage } from "./codec.ts";

export interface Y4mClip {
  width: number;
  height: number;
  /** Frames per second as a fraction (e.g. 30:1, 30000:1001). */
  fps: [number, number];
  frames: RgbaImage[];
}

export class Y4mError extends Error {
  override name = "Y4mError";
}

const clamp8 = (v: number) => v < 0 ? 0 : v > 255 ? 255 : Math.round(v);

/** One RGBA image → I420 planes (Y, then U, then V), chroma averaged over 2×2 blocks. */
export function rgbaToI420(img: RgbaImage): Uint8Array {
  const { width: w, height: h, data } = img;
  if (w % 2 || h % 2) throw new Y4mError(`4:2:0 needs even sizes, got ${w}×${h}`);
  const cw = w / 2, ch = h / 2;
  const out = new Uint8Array(w * h + 2 * cw * ch);
  const u = w * h, v = u + cw * ch;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      out[y * w + x] = clamp8(16 + 0.2568 * data[p] + 0.5041 * data[p + 1] + 0.0979 * data[p + 2]);
    }
  }
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = ((2 * y + dy) * w + 2 * x + dx) * 4;
        r += data[p], g += data[p + 1], b += data[p + 2];
      }
      r /= 4, g /= 4, b /= 4;
      out[u + y * cw + x] = clamp8(128 - 0.1482 * r - 0.2910 * g + 0.4392 * b);
      out[v + y * cw + x] = clamp8(128 + 0.4392 * r - 0.3678 * g - 0.0714 * b);
    }
  }
  return out;
}

/** I420 planes → RGBA (alpha 255), chroma replicated over its 2×2 block. */
export function i420ToRgba(planes: Uint8Array, width: number, height: number): RgbaImage {
  const cw = width / 2, u = width * height, v = u + cw * (height / 2);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const yy = 1.1644 * (planes[y * width + x] - 16);
      const cb = planes[u + c] - 128, cr = planes[v + c] - 128;
      const p = (y * width + x) * 4;
      data[p] = clamp8(yy + 1.5960 * cr);
      data[p + 1] = clamp8(yy - 0.3918 * cb - 0.8130 * cr);
      data[p + 2] = clamp8(yy + 2.0172 * cb);
      data[p + 3] = 255;
    }
  }
  return { width, height, data };
}

/** Encodes a clip; every frame must have the clip's size. */
export function encodeY4m(clip: Y4mClip): Uint8Array {
  const { width, height, fps, frames } = clip;
  const header = new TextEncoder().encode(
    `YUV4MPEG2 W${width} H${height} F${fps[0]}:${fps[1]} Ip A1:1 C420jpeg\n`,
  );
  const marker = new TextEncoder().encode("FRAME\n");
  const frameBytes = width * height * 3 / 2;
  const out = new Uint8Array(header.length + frames.length * (marker.length + frameBytes));
  out.set(header);
  let at = header.length;
  for (const [i, f] of frames.entries()) {
    if (f.width !== width || f.height !== height) {
      throw new Y4mError(`frame ${i} is ${f.width}×${f.height}, the clip is ${width}×${height}`);
    }
    out.set(marker, at);
    out.set(rgbaToI420(f), at + marker.length);
    at += marker.length + frameBytes;
  }
  return out;
}

/** Decodes a 4:2:0 8-bit clip (C420, C420jpeg, C420paldv, C420mpeg2 or no C tag). */
export function decodeY4m(bytes: Uint8Array): Y4mClip {
  const lineEnd = (from: number) => {
    const i = bytes.indexOf(0x0a, from);
    if (i < 0) throw new Y4mError("truncated y4m: a header line has no end");
    return i;
  };
  const end = lineEnd(0);
  const header = new TextDecoder().decode(bytes.subarray(0, end)).split(" ");
  if (header[0] !== "YUV4MPEG2") throw new Y4mError("not a y4m file (no YUV4MPEG2 signature)");
  let width = 0, height = 0, fps: [number, number] = [30, 1];
  for (const tag of header.slice(1)) {
    const value = tag.slice(1);
    if (tag[0] === "W") width = Number(value);
    else if (tag[0] === "H") height = Number(value);
    else if (tag[0] === "F") {
      const [n, d] = value.split(":").map(Number);
      if (n > 0 && d > 0) fps = [n, d];
    } else if (tag[0] === "C" && !value.startsWith("420")) {
      throw new Y4mError(`colour space C${value} is not supported (only 4:2:0 8-bit)`);
    }
  }
  if (!(width > 0 && height > 0 && width % 2 === 0 && height % 2 === 0)) {
    throw new Y4mError(`bad frame size ${width}×${height}`);
  }
  const frameBytes = width * height * 3 / 2;
  const frames: RgbaImage[] = [];
  let at = end + 1;
  while (at < bytes.length) {
    const e = lineEnd(at);
    if (!new TextDecoder().decode(bytes.subarray(at, at + 5)).startsWith("FRAME")) {
      throw new Y4mError(`expected FRAME at byte ${at}`);
    }
    const start = e + 1;
    if (start + frameBytes > bytes.length) {
      throw new Y4mError(`frame ${frames.length} is truncated`);
    }
    frames.push(i420ToRgba(bytes.subarray(start, start + frameBytes), width, height));
    at = start + frameBytes;
  }
  return { width, height, fps, frames };
}
