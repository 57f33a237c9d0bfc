// The tracker in headless Chromium: exactly one face in each frontal portrait, all landmarks
// inside the image, VIDEO mode tracks a still frame, and IMAGE-mode results agree with the
// landmarks recorded for the tests (tests/fixtures/face1_landmarks.json); a face too small for one
// pass over the picture is found by the tiled search, where the recorded landmarks say.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { LANDMARK_COUNT } from "../../src/face/tracker.ts";
import { withBrowser } from "../../src/headless/chromium.ts";
import { needs, repoRoot, requireChromium, requireShared, sharedDir } from "../support/env.ts";
import { face1Landmarks } from "../fixtures/faces.ts";

const FACES = ["face1.jpg", "face2.jpg", "portrait.png"];
const PEOPLE = ["people/four_116292ef.jpg", "people/rock_18e20af8.jpg"];

interface Detected {
  model: string;
  images: { url: string; width: number; height: number; faces: number[][] }[];
}

Deno.test(
  needs([
    requireChromium(),
    requireShared("models/face_landmarker.task", ...FACES.map((f) => `data/faces/${f}`)),
  ], {
    name: "tracker finds exactly one face in each portrait, landmarks inside the image",
    async fn() {
      const mounts = {
        "/models/": `${sharedDir}/models`,
        "/mediapipe/wasm/": resolve(repoRoot, "node_modules/@mediapipe/tasks-vision/wasm"),
        "/data/": `${sharedDir}/data`,
      };
      await withBrowser(async (browser) => {
        const page = await browser.open(new URL("./tracker_entry.ts", import.meta.url));
        const result = await page.call<Detected>(
          "detectImages",
          FACES.map((f) => `/data/faces/${f}`),
        );
        assert.equal(result.model, "/models/face_landmarker.task");
        for (const img of result.images) {
          assert.equal(img.faces.length, 1, `${img.url}: ${img.faces.length} faces`);
          const lm = img.faces[0];
          assert.equal(lm.length, LANDMARK_COUNT * 3);
          for (let i = 0; i < LANDMARK_COUNT; i++) {
            const x = lm[3 * i], y = lm[3 * i + 1];
            assert.ok(
              x >= 0 && x <= img.width && y >= 0 && y <= img.height,
              `${img.url} point ${i}: (${x}, ${y})`,
            );
          }
          // Pixels, not normalised units: the face spans a good part of these portraits.
          const xs = lm.filter((_, k) => k % 3 === 0);
          assert.ok(
            Math.max(...xs) - Math.min(...xs) > img.width / 4,
            `${img.url}: face too narrow`,
          );
        }
        // The browser's JPEG decoder vs jpeg-js (prepare's path): the same face within a pixel or two.
        const ref = face1Landmarks(), got = result.images[0].faces[0];
        let sum = 0;
        for (let i = 0; i < LANDMARK_COUNT; i++) {
          sum += Math.hypot(got[3 * i] - ref[3 * i], got[3 * i + 1] - ref[3 * i + 1]);
        }
        assert.ok(sum / LANDMARK_COUNT < 2, `mean landmark difference ${sum / LANDMARK_COUNT} px`);

        const video = await page.call<{ counts: number[]; wrongMode: string }>(
          "detectVideo",
          "/data/faces/face2.jpg",
          [0, 33, 33, 66, 100],
        );
        assert.deepEqual(video.counts, [1, 1, 1, 1, 1]);
        assert.match(video.wrongMode, /IMAGE/);
        // MediaPipe logs INFO lines as console errors, and posts usage logs to
        // odml.pa.googleapis.com (unreachable here): neither is a failure of ours.
        const ignored = /^INFO:|odml\.pa\.googleapis\.com/;
        assert.deepEqual(page.errors.filter((e) => !ignored.test(e)), []);
      }, { mounts, timeoutMs: 60_000 });
    },
  }),
);

Deno.test(
  needs([
    requireChromium(),
    requireShared(
      "models/face_landmarker.task",
      "data/faces/face1.jpg",
      ...PEOPLE.map((f) => `data/${f}`),
    ),
  ], {
    name: "a face too small for one pass is found by the tiled search, landmarks in place",
    async fn() {
      const mounts = {
        "/models/": `${sharedDir}/models`,
        "/mediapipe/wasm/": resolve(repoRoot, "node_modules/@mediapipe/tasks-vision/wasm"),
        "/data/": `${sharedDir}/data`,
      };
      // face1 (IOD ≈ 125 px) at a fifth of its size: a person across a room.
      const scale = 0.2, at = [820, 530];
      await withBrowser(async (browser) => {
        const page = await browser.open(new URL("./tracker_entry.ts", import.meta.url));
        const r = await page.call<{ onePass: number[][]; tiled: number[][] }>(
          "detectSmall",
          "/data/faces/face1.jpg",
          scale,
          ...at,
        );
        assert.equal(r.onePass.length, 0, "one pass already finds it: make the face smaller");
        assert.equal(r.tiled.length, 1, `${r.tiled.length} faces with tiles`);
        const ref = face1Landmarks(), got = r.tiled[0];
        let sum = 0;
        for (let i = 0; i < LANDMARK_COUNT; i++) {
          const x = ref[3 * i] * scale + at[0], y = ref[3 * i + 1] * scale + at[1];
          sum += Math.hypot(got[3 * i] - x, got[3 * i + 1] - y);
        }
        // Within a tenth of the small face's inter-ocular distance (≈ 25 px), on average.
        const mean = sum / LANDMARK_COUNT;
        assert.ok(mean < 2.5, `mean landmark error ${mean.toFixed(2)} px`);
        // Full-length photos: the one small face is found, and the tiles invent none (a shirt's
        // folds fooled a single tile in the second one).
        const people = await page.call<Detected>("detectImages", PEOPLE.map((f) => `/data/${f}`));
        for (const img of people.images) {
          assert.equal(img.faces.length, 1, `${img.url}: ${img.faces.length} faces`);
        }
      }, { mounts, timeoutMs: 60_000 });
    },
  }),
);
