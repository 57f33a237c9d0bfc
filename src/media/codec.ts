// Image codecs for the edge server, tools and tests: PNG and JPEG to and from RGBA8 pixels, via
// well-kept pure-JS libraries so the same code runs in Deno and the browser.

import { decode as decodePngLib, encode as encodePngLib } from "fast-png";
import jpeg from "jpeg-js";

export interface RgbaImage {
  width: number;
  height: number;
  /** RGBA8, row-major, width × height × 4 bytes. */
  data: Uint8Array;
}

export class ImageError extends Error {
  override name = "ImageError";
}

/** Larger images are refused before decoding: a 40 MP frame is not a face crop. */
export const MAX_PIXELS = 40_000_000;

export type ImageType = "image/png" | "image/jpeg";

export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e) {
    return "image/png";
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "image/jpeg";
  }
  return undefined;
}

export function decodeImage(bytes: Uint8Array): RgbaImage {
  const type = sniffImageType(bytes);
  if (!type) throw new ImageError("not a PNG or JPEG image");
  try {
    return type === "image/png" ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`undecodable ${type}: ${(e as Error).message ?? e}`);
  }
}

function decodeJpeg(bytes: Uint8Array): RgbaImage {
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_PIXELS / 1e6,
    maxMemoryUsageInMB: 512,
  });
  return { width: img.width, height: img.height, data: img.data };
}

function decodePng(bytes: Uint8Array): RgbaImage {
  const png = decodePngLib(bytes);
  if (png.width * png.height > MAX_PIXELS) throw new ImageError("image is larger than 40 MP");
  const pixels = png.width * png.height;
  const rgba = new Uint8Array(pixels * 4);
  const src = png.data;
  const depth = png.depth;
  const channels = png.palette ? 1 : png.channels;
  // Normalise every PNG flavour (grey, grey+alpha, RGB, palette, 16-bit) to RGBA8.
  const at = (i: number) => depth === 16 ? (src[i] as number) >> 8 : src[i] as number;
  for (let p = 0; p < pixels; p++) {
    let r: number, g: number, b: number, a = 255;
    if (png.palette) {
      const entry = png.palette[src[p] as number] ?? [0, 0, 0];
      [r, g, b] = entry;
      a = entry[3] ?? 255;
    } else if (channels <= 2) {
      r = g = b = at(p * channels);
      if (channels === 2) a = at(p * 2 + 1);
    } else {
      r = at(p * channels);
      g = at(p * channels + 1);
      b = at(p * channels + 2);
      if (channels === 4) a = at(p * 4 + 3);
    }
    rgba.set([r, g, b, a], p * 4);
  }
  return { width: png.width, height: png.height, data: rgba };
}

export function encodePng(img: RgbaImage): Uint8Array {
  return encodePngLib({
    width: img.width,
    height: img.height,
    data: img.data,
    channels: 4,
    depth: 8,
  });
}

export function encodeJpeg(img: RgbaImage, quality = 90): Uint8Array {
  const out = jpeg.encode({ width: img.width, height: img.height, data: img.data }, quality);
  return new Uint8Array(out.data);
}
