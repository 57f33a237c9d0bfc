// y4m clips (the fake camera's input and `deno task apply`'s video format): a round trip keeps a
// smooth picture within a few levels, headers are honoured, and bad files fail with a reason.

import assert from "node:assert/strict";
import { decodeY4m, encodeY4m, i420ToRgba, rgbaToI420, Y4mError } from "../../src/media/y4m.ts";
import { smoothImage } from "../fixtures/faces.ts";

Deno.test("y4m round trip: size, rate and frames kept, colours within a few levels", () => {
  const a = smoothImage(64, 48), b = smoothImage(64, 48);
  b.data.forEach((v, i) => b.data[i] = i % 4 === 3 ? 255 : 255 - v);
  const bytes = encodeY4m({ width: 64, height: 48, fps: [30000, 1001], frames: [a, b] });
  assert.match(new TextDecoder().decode(bytes.subarray(0, 50)), /^YUV4MPEG2 W64 H48 F30000:1001 /);
  const clip = decodeY4m(bytes);
  assert.deepEqual([clip.width, clip.height, clip.fps, clip.frames.length], [
    64,
    48,
    [30000, 1001],
    2,
  ]);
  [a, b].forEach((original, f) => {
    let worst = 0, sum = 0;
    for (let i = 0; i < original.data.length; i++) {
      const d = Math.abs(clip.frames[f].data[i] - original.data[i]);
      worst = Math.max(worst, d);
      sum += d;
    }
    assert.ok(
      sum / original.data.length < 2,
      `frame ${f}: mean error ${sum / original.data.length}`,
    );
    assert.ok(worst <= 12, `frame ${f}: max error ${worst} (4:2:0 chroma on a smooth picture)`);
  });
});

Deno.test("grey levels survive the limited-range matrix exactly", () => {
  const img = { width: 2, height: 2, data: new Uint8Array(16) };
  for (const v of [0, 16, 128, 200, 255]) {
    img.data.fill(v);
    for (let i = 3; i < 16; i += 4) img.data[i] = 255;
    const back = i420ToRgba(rgbaToI420(img), 2, 2);
    for (let i = 0; i < 16; i++) {
      if (i % 4 !== 3) assert.ok(Math.abs(back.data[i] - v) <= 1, `grey ${v} → ${back.data[i]}`);
    }
  }
});

Deno.test("bad clips are refused with a reason", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.throws(() => decodeY4m(enc("RIFF....")), Y4mError);
  assert.throws(() => decodeY4m(enc("YUV4MPEG2 W4 H4 C444\n")), /4:2:0/);
  assert.throws(() => decodeY4m(enc("YUV4MPEG2 W3 H4\n")), /frame size/);
  assert.throws(() => decodeY4m(enc("YUV4MPEG2 W4 H4\nFRAME\n123")), /truncated/);
  assert.throws(
    () => encodeY4m({ width: 4, height: 4, fps: [30, 1], frames: [smoothImage(6, 4)] }),
    /frame 0 is 6×4/,
  );
});
