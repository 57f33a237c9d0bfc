// Face crops in and out of the edge server: PNG, JPEG or raw RGBA/RGB bytes → RGBA8 pixels checked
// against the effect's input size, normalised NHWC tensors for the student, and the way back.
// Every bad input is an HttpError (400 undecodable, 415 type, 422 size/channels); nothing else escapes.

import { decodeImage, encodeJpeg, encodePng, ImageError, sniffImageType } from "../media/codec.ts";
import { HttpError } from "./errors.ts";

export type CropFormat = "png" | "jpeg" | "rgba" | "rgb";

export interface Crop {
  format: CropFormat;
  width: number;
  height: number;
  /** RGBA8, width × height × 4. */
  rgba: Uint8Array;
}

export const CONTENT_TYPES: Record<CropFormat, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  rgba: "application/octet-stream",
  rgb: "application/octet-stream",
};

/** Size and channel count of a raw body, from headers or the query (`width`, `height`, `channels`). */
export interface RawParams {
  width?: string | null;
  height?: string | null;
  channels?: string | null;
}

/** The media type without parameters, lower-cased: "Image/PNG; q=1" → "image/png". */
export const mediaType = (contentType: string | null | undefined) =>
  (contentType ?? "").split(";")[0].trim().toLowerCase();

/** Which crop format a part or body declares; undefined when the type is not one we take. */
export function formatOf(type: string): "png" | "jpeg" | "raw" | undefined {
  switch (type) {
    case "image/png":
      return "png";
    case "image/jpeg":
    case "image/jpg":
      return "jpeg";
    case "application/octet-stream":
      return "raw";
  }
}

const wrongSize = (w: number, h: number, size: number) =>
  new HttpError(422, "wrong_size", `crop is ${w}×${h}, this effect takes ${size}×${size}`);

/**
 * One crop body → RGBA8. `type` is the declared media type; PNG/JPEG bodies must be what they say.
 * Encoded images are size-checked from their headers before decoding, so a decompression bomb
 * costs nothing.
 */
export function parseCrop(
  bytes: Uint8Array,
  type: string,
  size: number,
  raw: RawParams = {},
): Crop {
  const format = formatOf(type);
  if (!format) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `unsupported content type "${type || "(none)"}": send image/png, image/jpeg, ` +
        "application/octet-stream (raw RGBA/RGB with its size) or multipart/form-data",
    );
  }
  if (bytes.length === 0) throw new HttpError(400, "bad_request", "the crop is empty");
  if (format === "raw") return parseRaw(bytes, size, raw);
  const sniffed = sniffImageType(bytes);
  if (sniffed !== CONTENT_TYPES[format]) {
    throw new HttpError(
      400,
      "undecodable_image",
      `the body is not a ${format.toUpperCase()} image`,
    );
  }
  const peeked = peekImageSize(bytes);
  if (peeked && (peeked.width !== size || peeked.height !== size)) {
    throw wrongSize(peeked.width, peeked.height, size);
  }
  let image;
  try {
    image = decodeImage(bytes);
  } catch (e) {
    const why = e instanceof ImageError ? e.message : `undecodable ${format}`;
    throw new HttpError(400, "undecodable_image", why);
  }
  if (image.width !== size || image.height !== size) {
    throw wrongSize(image.width, image.height, size);
  }
  return { format, width: image.width, height: image.height, rgba: image.data };
}

function parseRaw(bytes: Uint8Array, size: number, raw: RawParams): Crop {
  const int = (v: string | null | undefined, what: string) => {
    if (v === undefined || v === null || v === "") return undefined;
    if (!/^\d{1,6}$/.test(v.trim())) {
      throw new HttpError(
        400,
        "bad_request",
        `${what} must be a positive integer, got "${v.slice(0, 20)}"`,
      );
    }
    return Number(v.trim());
  };
  const width = int(raw.width, "width");
  const height = int(raw.height, "height");
  const channels = int(raw.channels, "channels") ?? 4;
  if (width === undefined || height === undefined) {
    throw new HttpError(
      400,
      "bad_request",
      "a raw crop needs its size: X-Image-Width and X-Image-Height headers (or ?width=&height=)",
    );
  }
  if (channels !== 3 && channels !== 4) {
    throw new HttpError(
      422,
      "wrong_channels",
      `a raw crop has 3 (RGB) or 4 (RGBA) channels, not ${channels}`,
    );
  }
  if (width !== size || height !== size) throw wrongSize(width, height, size);
  if (bytes.length !== width * height * channels) {
    const actual = bytes.length / (width * height);
    if (Number.isInteger(actual)) {
      throw new HttpError(
        422,
        "wrong_channels",
        `the body has ${actual} bytes per pixel for ${width}×${height}, the request says ${channels}`,
      );
    }
    throw new HttpError(
      422,
      "wrong_size",
      `the body has ${bytes.length} bytes, ${width}×${height}×${channels} needs ${
        width * height * channels
      }`,
    );
  }
  if (channels === 4) return { format: "rgba", width, height, rgba: bytes };
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0, q = 0; q < bytes.length; p += 4, q += 3) {
    rgba[p] = bytes[q];
    rgba[p + 1] = bytes[q + 1];
    rgba[p + 2] = bytes[q + 2];
    rgba[p + 3] = 255;
  }
  return { format: "rgb", width, height, rgba };
}

/** Width and height from a PNG IHDR or a JPEG SOF marker, without decoding; undefined if not found. */
export function peekImageSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (sniffImageType(bytes) === "image/png") {
    // 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") return;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (sniffImageType(bytes) === "image/jpeg") {
    let at = 2;
    // Walk the marker segments up to the first start-of-frame; bounded by the body length.
    while (at + 9 <= bytes.length) {
      if (bytes[at] !== 0xff) return;
      const marker = bytes[at + 1];
      if (marker === 0xff) {
        at++;
        continue;
      }
      const length = view.getUint16(at + 2);
      const isSof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
      if (isSof) return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
      if (marker === 0xd9 || marker === 0xda || length < 2) return;
      at += 2 + length;
    }
  }
}

/** RGBA8 crop → one normalised crop, s × s × 3: (v / 255 − mean) / std per channel. */
export function toInput(
  rgba: Uint8Array,
  normalization: { mean: readonly number[]; std: readonly number[] },
): Float32Array {
  const pixels = rgba.length >> 2;
  const out = new Float32Array(pixels * 3);
  const [m0, m1, m2] = normalization.mean;
  // Multiply by reciprocals: one division per channel instead of one per value.
  const k0 = 1 / (255 * normalization.std[0]), k1 = 1 / (255 * normalization.std[1]);
  const k2 = 1 / (255 * normalization.std[2]);
  const b0 = m0 / normalization.std[0], b1 = m1 / normalization.std[1];
  const b2 = m2 / normalization.std[2];
  for (let p = 0, q = 0; p < pixels; p++, q += 4) {
    out[p * 3] = rgba[q] * k0 - b0;
    out[p * 3 + 1] = rgba[q + 1] * k1 - b1;
    out[p * 3 + 2] = rgba[q + 2] * k2 - b2;
  }
  return out;
}

/** One output crop (s × s × 3) → RGBA8: de-normalised, clamped, rounded; alpha from `alpha`. */
export function toRgba(
  output: Float32Array,
  normalization: { mean: readonly number[]; std: readonly number[] },
  alpha?: Uint8Array,
): Uint8Array {
  const pixels = output.length / 3;
  const rgba = new Uint8Array(pixels * 4);
  const { mean, std } = normalization;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const v = output[p * 3 + c] * std[c] + mean[c];
      // Clamp to [0, 1] (NaN → 0), then round half up, as tensor_to_rgba does on the GPU.
      const clamped = v > 0 ? (v < 1 ? v : 1) : 0;
      rgba[p * 4 + c] = Math.floor(0.5 + 255 * clamped);
    }
    // The crop's own alpha passes through: the network only edits colour.
    rgba[p * 4 + 3] = alpha ? alpha[p * 4 + 3] : 255;
  }
  return rgba;
}

/** Encodes a result crop in the format its input came in. */
export function encodeCrop(rgba: Uint8Array, size: number, format: CropFormat): Uint8Array {
  switch (format) {
    case "png":
      return encodePng({ width: size, height: size, data: rgba });
    case "jpeg":
      return encodeJpeg({ width: size, height: size, data: rgba }, 92);
    case "rgba":
      return rgba;
    case "rgb": {
      const rgb = new Uint8Array((rgba.length / 4) * 3);
      for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
        rgb[q] = rgba[p];
        rgb[q + 1] = rgba[p + 1];
        rgb[q + 2] = rgba[p + 2];
      }
      return rgb;
    }
  }
}
