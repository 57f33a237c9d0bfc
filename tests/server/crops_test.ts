// Crops: image size read from PNG/JPEG headers without decoding (bomb-proof), normalisation to
// the student's input and back (exact for the identity), and the raw RGB path.

import assert from "node:assert/strict";
import { encodeJpeg, encodePng } from "../../src/media/codec.ts";
import { encodeCrop, parseCrop, peekImageSize, toInput, toRgba } from "../../src/server/crops.ts";
import { HttpError } from "../../src/server/errors.ts";
import { testCrop } from "./fixture.ts";

const norm = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

Deno.test("peekImageSize reads PNG and JPEG headers, and gives up quietly on junk", () => {
  const img = { width: 40, height: 24, data: new Uint8Array(40 * 24 * 4) };
  assert.deepEqual(peekImageSize(encodePng(img)), { width: 40, height: 24 });
  assert.deepEqual(peekImageSize(encodeJpeg(img)), { width: 40, height: 24 });
  assert.equal(peekImageSize(new Uint8Array([1, 2, 3])), undefined);
  assert.equal(
    peekImageSize(new Uint8Array([0xff, 0xd8, 0xff, 0x00, 0, 0, 0, 0, 0, 0])),
    undefined,
  );
  assert.equal(peekImageSize(encodePng(img).subarray(0, 20)), undefined);
});

Deno.test("a PNG claiming a huge size is refused from its header, before decoding", () => {
  const png = encodePng({ width: 128, height: 128, data: testCrop(128) });
  const bomb = png.slice();
  new DataView(bomb.buffer).setUint32(16, 30000); // IHDR width
  assert.throws(
    () => parseCrop(bomb, "image/png", 128),
    (e: HttpError) => e.status === 422 && /30000×128/.test(e.message),
  );
});

Deno.test("toInput/toRgba invert each other exactly for any normalisation; alpha passes through", () => {
  const crop = testCrop(16, 5);
  crop[3] = 17;
  for (const n of [norm, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }]) {
    const x = toInput(crop, n);
    assert.equal(x.length, 16 * 16 * 3);
    assert.ok(Math.abs(x[0] - (crop[0] / 255 - n.mean[0]) / n.std[0]) < 1e-6);
    assert.deepEqual(toRgba(x, n, crop), crop);
  }
  const clamped = toRgba(new Float32Array([-5, 5, NaN]), norm);
  assert.deepEqual([...clamped], [0, 255, 0, 255]);
});

Deno.test("raw RGB crops expand to opaque RGBA and encode back to RGB", () => {
  const rgb = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => i);
  const crop = parseCrop(rgb, "application/octet-stream", 4, {
    width: "4",
    height: "4",
    channels: "3",
  });
  assert.equal(crop.format, "rgb");
  assert.deepEqual([...crop.rgba.subarray(0, 8)], [0, 1, 2, 255, 3, 4, 5, 255]);
  assert.deepEqual(encodeCrop(crop.rgba, 4, "rgb"), rgb);
});
