// The stream's binary frame format: encode/decode round trip for every format, and a clear
// FrameError for each malformation.

import assert from "node:assert/strict";
import {
  decodeFrame,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameError,
} from "../../src/server/frames.ts";

Deno.test("frames round-trip in every format", () => {
  for (const format of ["rgba", "rgb", "png", "jpeg"] as const) {
    const payload = Uint8Array.from({ length: 37 }, (_, i) => i * 7);
    const bytes = encodeFrame({ seq: 0xfffffffe, format, width: 128, height: 64, payload });
    assert.equal(bytes.length, FRAME_HEADER_BYTES + 37);
    assert.deepEqual([...bytes.subarray(0, 3)], [0x46, 0x58, 1]);
    const frame = decodeFrame(bytes);
    assert.deepEqual(frame, { seq: 0xfffffffe, format, width: 128, height: 64, payload });
  }
});

Deno.test("every malformed frame is a FrameError with its reason", () => {
  const good = encodeFrame({
    seq: 1,
    format: "rgba",
    width: 2,
    height: 2,
    payload: new Uint8Array(16),
  });
  const edit = (at: number, value: number) => {
    const b = good.slice();
    b[at] = value;
    return b;
  };
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /16-byte header/],
    [good.subarray(0, 15), /16-byte header/],
    [edit(0, 0x47), /magic/],
    [edit(2, 2), /version 2/],
    [edit(3, 0), /format code 0/],
    [edit(3, 9), /format code 9/],
    [edit(12, 15), /15 payload bytes, the message carries 16/],
    [good.subarray(0, 20), /16 payload bytes, the message carries 4/],
    [
      encodeFrame({ seq: 1, format: "rgb", width: 0, height: 2, payload: new Uint8Array(0) }),
      /width and height/,
    ],
  ];
  for (const [bytes, reason] of cases) {
    assert.throws(
      () => decodeFrame(bytes),
      (e: Error) => e instanceof FrameError && reason.test(e.message),
    );
  }
  // PNG/JPEG may leave the size to the image.
  const png = decodeFrame(
    encodeFrame({ seq: 3, format: "png", width: 0, height: 0, payload: new Uint8Array(4) }),
  );
  assert.equal(png.width, 0);
});
