// The binary frame format of the live fallback stream (GET /api/effects/:id/stream, a WebSocket):
// one crop per binary message, the same layout both ways; JSON text messages carry control.
//
// Binary frame = 16-byte header + payload, integers little-endian:
//
//   offset  size  field
//        0     2  magic "FX" (0x46 0x58)
//        2     1  version = 1
//        3     1  format: 1 = raw RGBA8, 2 = raw RGB8, 3 = PNG, 4 = JPEG
//        4     4  seq (u32): the client's frame number; a result carries its frame's seq
//        8     2  width  (u16): raw frames must give it; PNG/JPEG give it or 0 (read from the image)
//       10     2  height (u16)
//       12     4  payload length in bytes (u32) = message length − 16
//       16     …  payload: width × height × 4 (RGBA) or × 3 (RGB) bytes, or a PNG/JPEG file
//
// Server → client results use the input's format and size. Text messages from the server:
//   {"type":"hello","effect":id,"version":v,"inputSize":s,"formats":[…]}       once, on open
//   {"type":"dropped","seq":n,"reason":"superseded"|"stale"|"backpressure"|"overloaded"|"timeout"}
//   {"type":"error","seq":n|null,"code":c,"message":m}                           bad frame etc.
// Latest frame wins: while a frame is being processed, a newer one replaces any waiting one (the
// replaced frame is "superseded"); a frame whose seq is not above the last accepted one is "stale".
// Results therefore come back in seq order, at most one per accepted frame.

import type { CropFormat } from "./crops.ts";

export const FRAME_HEADER_BYTES = 16;
export const FRAME_VERSION = 1;
const MAGIC0 = 0x46, MAGIC1 = 0x58;

export const FRAME_FORMATS: Record<number, CropFormat> = {
  1: "rgba",
  2: "rgb",
  3: "png",
  4: "jpeg",
};
export const FORMAT_CODES: Record<CropFormat, number> = { rgba: 1, rgb: 2, png: 3, jpeg: 4 };

export interface Frame {
  seq: number;
  format: CropFormat;
  width: number;
  height: number;
  payload: Uint8Array;
}

export class FrameError extends Error {
  override name = "FrameError";
}

/** Parses one binary message; every malformation is a FrameError with a readable reason. */
export function decodeFrame(message: Uint8Array): Frame {
  if (message.length < FRAME_HEADER_BYTES) {
    throw new FrameError(
      `a frame needs a ${FRAME_HEADER_BYTES}-byte header, got ${message.length} bytes`,
    );
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (message[0] !== MAGIC0 || message[1] !== MAGIC1) {
    throw new FrameError('bad magic: expected "FX"');
  }
  if (message[2] !== FRAME_VERSION) {
    throw new FrameError(
      `unsupported frame version ${message[2]}, this server speaks ${FRAME_VERSION}`,
    );
  }
  const format = FRAME_FORMATS[message[3]];
  if (!format) {
    throw new FrameError(`unknown format code ${message[3]} (1 RGBA, 2 RGB, 3 PNG, 4 JPEG)`);
  }
  const seq = view.getUint32(4, true);
  const width = view.getUint16(8, true);
  const height = view.getUint16(10, true);
  const length = view.getUint32(12, true);
  if (length !== message.length - FRAME_HEADER_BYTES) {
    throw new FrameError(
      `header says ${length} payload bytes, the message carries ${
        message.length - FRAME_HEADER_BYTES
      }`,
    );
  }
  if ((format === "rgba" || format === "rgb") && (width === 0 || height === 0)) {
    throw new FrameError("a raw frame must give its width and height");
  }
  return { seq, format, width, height, payload: message.subarray(FRAME_HEADER_BYTES) };
}

export function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + frame.payload.length);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = FRAME_VERSION;
  out[3] = FORMAT_CODES[frame.format];
  view.setUint32(4, frame.seq >>> 0, true);
  view.setUint16(8, frame.width, true);
  view.setUint16(10, frame.height, true);
  view.setUint32(12, frame.payload.length, true);
  out.set(frame.payload, FRAME_HEADER_BYTES);
  return out;
}
