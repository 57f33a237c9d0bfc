// Tests for the pairs folder: write/read round trip with landmarks, and a clear PairsError naming
// the file for a missing partner, a size mismatch, an unreadable image and bad landmarks JSON.

import assert from "node:assert/strict";
import { join } from "node:path";
import { listPairs, PairsError, readPair, readPairs, writePair } from "../../src/distill/pairs.ts";
import { encodePng, type RgbaImage } from "../../src/media/codec.ts";

function image(w: number, h: number, v: number): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + v) % 256;
  return { width: w, height: h, data };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "pairs-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsPairs(p: Promise<unknown>, message: RegExp, file: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PairsError, `expected a PairsError, got ${e}`);
    assert.match(e.message, message);
    assert.match(e.file ?? "", file);
    return true;
  });
}

Deno.test("pairs round-trip: images and landmarks come back as written", async () => {
  await withDir(async (dir) => {
    const lm = new Float32Array([1.5, 2.25, 30, 40.125]);
    assert.equal(
      await writePair(dir, {
        name: "b.jpg",
        input: image(8, 6, 1),
        target: image(8, 6, 2),
        landmarks: lm,
      }),
      "b.png",
    );
    await writePair(dir, { name: "a.png", input: image(4, 4, 3), target: image(4, 4, 4) });
    assert.deepEqual(await listPairs(dir), ["a.png", "b.png"]);
    const pairs = await readPairs(dir);
    assert.deepEqual(pairs.map((p) => p.name), ["a.png", "b.png"]);
    assert.deepEqual(pairs[1].input, image(8, 6, 1));
    assert.deepEqual(pairs[1].target, image(8, 6, 2));
    assert.deepEqual(Array.from(pairs[1].landmarks!), Array.from(lm));
    assert.equal(pairs[0].landmarks, undefined);
  });
});

Deno.test("a missing partner is named, in either direction", async () => {
  await withDir(async (dir) => {
    await writePair(dir, { name: "ok.png", input: image(4, 4, 0), target: image(4, 4, 1) });
    await Deno.writeFile(join(dir, "input", "lonely.png"), encodePng(image(4, 4, 0)));
    await rejectsPairs(
      listPairs(dir),
      /input\/lonely\.png has no target\/lonely\.png/,
      /input\/lonely\.png$/,
    );
    await Deno.remove(join(dir, "input", "lonely.png"));
    await Deno.writeFile(join(dir, "target", "orphan.png"), encodePng(image(4, 4, 0)));
    await rejectsPairs(
      readPairs(dir),
      /target\/orphan\.png has no input\/orphan\.png/,
      /target\/orphan\.png$/,
    );
  });
});

Deno.test("size mismatch, unreadable image, missing folder and bad landmarks are PairsErrors", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      writePair(dir, { name: "x.png", input: image(4, 4, 0), target: image(5, 4, 0) }),
      PairsError,
    );
    await rejectsPairs(listPairs(dir), /no input\/ folder/, /input$/);
    await writePair(dir, { name: "x.png", input: image(4, 4, 0), target: image(4, 4, 0) });
    await Deno.writeFile(join(dir, "target", "x.png"), encodePng(image(4, 3, 0)));
    await rejectsPairs(
      readPair(dir, "x.png"),
      /size mismatch for x\.png: input\/x\.png is 4×4, target\/x\.png is 4×3/,
      /target\/x\.png$/,
    );
    await Deno.writeFile(join(dir, "target", "x.png"), new TextEncoder().encode("not a picture"));
    await rejectsPairs(readPairs(dir), /unreadable image .*target\/x\.png/, /target\/x\.png$/);
    await Deno.writeFile(join(dir, "target", "x.png"), encodePng(image(4, 4, 0)));
    await Deno.mkdir(join(dir, "landmarks"));
    await Deno.writeTextFile(join(dir, "landmarks", "x.json"), "{oops");
    await rejectsPairs(readPair(dir, "x.png"), /invalid JSON in .*landmarks\/x\.json/, /x\.json$/);
    await Deno.writeTextFile(join(dir, "landmarks", "x.json"), '{"landmarks": [1, 2, 3]}');
    await rejectsPairs(readPair(dir, "x.png"), /x\.json: expected/, /x\.json$/);
    await Deno.writeTextFile(join(dir, "landmarks", "x.json"), "[[1, 2], [3, 4]]");
    assert.deepEqual(Array.from((await readPair(dir, "x.png")).landmarks!), [1, 2, 3, 4]);
  });
});
