// `deno task apply` as a user runs it (a subprocess): a picture with two faces comes out with both
// faces tinted and everything away from them untouched; a .y4m clip comes out as a clip.

import assert from "node:assert/strict";
import { decodeImage, encodePng } from "../../src/media/codec.ts";
import { decodeY4m, encodeY4m } from "../../src/media/y4m.ts";
import { needs, repoRoot, requireChromium, requireShared } from "../support/env.ts";
import { tempDir } from "../server/fixture.ts";
import { buildTintEffect, clipFrame } from "../client/fixture.ts";

const requirements = [
  requireChromium(),
  requireShared("models/face_landmarker.task", "data/faces/face1.jpg", "data/faces/face2.jpg"),
];

async function apply(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "src/cli/apply.ts", ...args],
    cwd: repoRoot,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).output();
  const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `apply failed:\n${out}\n${err}`);
  return out;
}

Deno.test(needs(requirements, {
  name: "apply: both faces of a picture tinted, the rest untouched; a clip stays a clip",
  async fn() {
    const fx = await buildTintEffect();
    const dir = await tempDir();
    const picture = clipFrame("two-faces");
    await Deno.writeFile(`${dir}/two.png`, encodePng(picture));
    const out = await apply([
      "--effect",
      "tint",
      "--weights",
      fx.dir,
      "--in",
      `${dir}/two.png`,
      "--out",
      `${dir}/two_tint.png`,
    ]);
    assert.match(out, /two\.png → .*two_tint\.png: 2 faces/);
    const result = decodeImage(await Deno.readFile(`${dir}/two_tint.png`));
    assert.deepEqual([result.width, result.height], [picture.width, picture.height]);
    const changed = [0, 0], delta = [0, 0, 0];
    let n = 0;
    for (let y = 0; y < result.height; y++) {
      for (let x = 0; x < result.width; x++) {
        const p = (y * result.width + x) * 4;
        const differs = [0, 1, 2, 3].some((c) => result.data[p + c] !== picture.data[p + c]);
        // The grey bands above and below the portraits hold no face: not a byte may change.
        if (y < 80 || y >= 400) assert.ok(!differs, `(${x}, ${y}) changed`);
        if (!differs) continue;
        changed[x < 320 ? 0 : 1]++;
        for (let c = 0; c < 3; c++) delta[c] += result.data[p + c] - picture.data[p + c];
        n++;
      }
    }
    assert.ok(changed.every((c) => c > 10_000), `changed pixels per face: ${changed}`);
    const mean = delta.map((d) => d / n);
    assert.ok(mean[0] > 25 && mean[1] < -10 && mean[2] < -15, `mean change ${mean}`);

    const frame = clipFrame("one-face");
    await Deno.writeFile(
      `${dir}/clip.y4m`,
      encodeY4m({ ...frame, fps: [25, 1], frames: [frame, frame, frame] }),
    );
    const video = await apply([
      "--effect",
      "tint",
      "--weights",
      fx.dir,
      "--in",
      `${dir}/clip.y4m`,
      "--out",
      `${dir}/clip_tint.y4m`,
    ]);
    assert.match(video, /3 frames → .*clip_tint\.y4m: faces per frame 1\.\.1/);
    const clip = decodeY4m(await Deno.readFile(`${dir}/clip_tint.y4m`));
    assert.deepEqual([clip.width, clip.height, clip.frames.length, clip.fps], [640, 480, 3, [
      25000,
      1000,
    ]]);
  },
}));
