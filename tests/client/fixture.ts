// Test inputs for the client: a "tint" effect whose output is known exactly (every weight zero but
// the head's bias: a constant colour delta under an open mask), fake-camera clips made from
// ../shared/data, and the expected composite computed on the CPU.

import { FACE_TEMPLATE } from "../../src/face/template.ts";
import { DEFAULT_SMOOTHING } from "../../src/face/one_euro.ts";
import type { EffectManifest } from "../../src/graph/manifest.ts";
import { sha256Hex } from "../../src/graph/safetensors.ts";
import { decodeImage, type RgbaImage } from "../../src/media/codec.ts";
import { encodeY4m } from "../../src/media/y4m.ts";
import { rgbaToTensorReference, tensorToRgbaReference } from "../../src/runtime/image.ts";
import {
  compositeReference,
  MASK_INSET,
  polygonSignedDistance,
} from "../../src/runtime/composite.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { rng } from "../../src/graph/random.ts";
import { sharedDir } from "../support/env.ts";
import { tintWeights } from "../../src/distill/drift.ts";
import { tempDir, TEST_STUDENT, testManifest } from "../server/fixture.ts";

/** The tint in normalised units ([−1, 1] per channel): R up 51 levels, G down 25.5, B down 38.25. */
export const TINT: readonly [number, number, number] = [0.4, -0.2, -0.3];

export interface TintEffect {
  dir: string;
  id: string;
  manifest: EffectManifest;
}

/**
 * The tint effect as int8 safetensors + manifest in a temp weights dir: the student's output is
 * crop + TINT (up to 6e-6) whatever the crop, since every weight is zero and the head's bias
 * gives delta logits atanh(TINT / deltaScale) and an open mask.
 */
export async function buildTintEffect(
  id = "tint",
  dir?: string,
  tint: readonly [number, number, number] = TINT,
): Promise<TintEffect> {
  const config = TEST_STUDENT;
  const bytes = tintWeights(config, tint);
  const sha256 = await sha256Hex(bytes);
  const manifest: EffectManifest = {
    ...testManifest(id, config.inputSize, { sha256, bytes: bytes.length, dtype: "int8" }),
    name: id === "tint" ? "Tint (test)" : `Tint "${id}" (test)`,
    description: `Adds a fixed colour [${tint}] to the face: output = crop + tint (client tests).`,
    template: {
      landmarks: FACE_TEMPLATE.landmarks.map((p) => ({ ...p })),
      cropScale: FACE_TEMPLATE.cropScale,
    },
    blend: { feather: 0.08 },
    smoothing: { ...DEFAULT_SMOOTHING },
    provenance: { teacher: "none (tests)", note: "zero weights, head bias = constant tint" },
  };
  const out = dir ?? await tempDir();
  await Deno.writeFile(`${out}/${sha256}.safetensors`, bytes);
  await Deno.writeTextFile(`${out}/${id}.json`, JSON.stringify(manifest, null, 2));
  return { dir: out, id, manifest };
}

export const CLIP_WIDTH = 640, CLIP_HEIGHT = 480;

function scaled(img: RgbaImage, width: number, height: number): RgbaImage {
  const s = Math.max(img.width / width, img.height / height);
  const t = rgbaToTensorReference(
    img.data,
    img,
    [{ transform: [s, 0, 0, 0, s, 0] }],
    { width, height },
  );
  return { width, height, data: tensorToRgbaReference(t) };
}

function paste(frame: RgbaImage, img: RgbaImage, x0: number, y0: number): void {
  for (let y = 0; y < img.height; y++) {
    frame.data.set(
      img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4),
      ((y0 + y) * frame.width + x0) * 4,
    );
  }
}

export type ClipKind = "one-face" | "two-faces" | "scene" | "one-face-noisy";

/** One 640×480 frame for a clip: face1 large; face1 + face2 side by side; a face-less scene. */
export function clipFrame(kind: ClipKind): RgbaImage {
  const frame: RgbaImage = {
    width: CLIP_WIDTH,
    height: CLIP_HEIGHT,
    data: new Uint8Array(CLIP_WIDTH * CLIP_HEIGHT * 4).fill(96),
  };
  const read = (p: string) => decodeImage(Deno.readFileSync(`${sharedDir}/data/${p}`));
  if (kind === "one-face" || kind === "one-face-noisy") {
    paste(frame, scaled(read("faces/face1.jpg"), 480, 480), 80, 0);
  } else if (kind === "two-faces") {
    paste(frame, scaled(read("faces/face1.jpg"), 320, 320), 0, 80);
    paste(frame, scaled(read("faces/face2.jpg"), 320, 320), 320, 80);
  } else paste(frame, scaled(read("scenes/000000000072.jpg"), 640, 480), 0, 0);
  return frame;
}

/** Sensor-like noise: ±`amplitude` levels, uniform, per pixel and channel, seeded. */
function noisy(frame: RgbaImage, seed: number, amplitude: number): RgbaImage {
  const random = rng(seed);
  const data = frame.data.map((v, i) =>
    i % 4 === 3 ? v : Math.max(0, Math.min(255, Math.round(v + (random() * 2 - 1) * amplitude)))
  );
  return { ...frame, data };
}

/**
 * A clip as a temp .y4m file (Chromium's fake camera loops it). "one-face-noisy" is one still
 * picture with fresh sensor-like noise in each of 30 frames: a still face as a real camera sees it.
 */
export async function writeClip(kind: ClipKind): Promise<string> {
  const path = `${await tempDir()}/${kind}.y4m`;
  const frame = clipFrame(kind);
  const frames = kind === "one-face-noisy"
    ? Array.from({ length: 30 }, (_, i) => noisy(frame, i + 1, 6))
    : [frame];
  await Deno.writeFile(path, encodeY4m({ ...frame, fps: [30, 1], frames }));
  return path;
}

export interface SnapshotFace {
  warp: number[];
  inverse: number[];
  outline: ArrayLike<number>;
}

/**
 * What the tint effect must produce for a frame: each face's crop cut from `before` (the GPU crop's
 * reference sampler), tinted, and its edit composited back (the composite's reference).
 */
export function expectedTint(
  before: RgbaImage,
  faces: readonly SnapshotFace[],
  manifest: EffectManifest,
): Uint8Array {
  const size = manifest.inputSize;
  const norm = manifest.normalization;
  const inputs = hostTensor([faces.length, size, size, 3]);
  const crops = hostTensor([faces.length, size, size, 3]);
  faces.forEach((f, n) => {
    const t = rgbaToTensorReference(
      before.data,
      before,
      [{ transform: f.warp as unknown as [number, number, number, number, number, number] }],
      { width: size, height: size },
      { normalization: norm },
    );
    for (let i = 0; i < t.data.length; i++) {
      inputs.data[n * size * size * 3 + i] = t.data[i];
      crops.data[n * size * size * 3 + i] = t.data[i] + TINT[i % 3];
    }
  });
  return compositeReference(
    before,
    inputs,
    crops,
    faces.map((f) => ({
      warp: f.warp as unknown as [number, number, number, number, number, number],
      inverse: f.inverse as unknown as [number, number, number, number, number, number],
      outline: f.outline,
    })),
    { feather: manifest.blend.feather * size, normalization: norm },
  );
}

/**
 * Where frame pixel (x, y) is relative to the faces: "outside" every outline, "deep" inside one
 * (far enough in that the blend mask is 1 all around), or in between.
 */
export function placeOf(
  faces: readonly SnapshotFace[],
  feather: number,
  x: number,
  y: number,
): "outside" | "edge" | "deep" {
  let best = Infinity;
  for (const f of faces) {
    const [a, b, c, d, e, g] = f.inverse;
    const u = a * (x + 0.5) + b * (y + 0.5) + c, v = d * (x + 0.5) + e * (y + 0.5) + g;
    best = Math.min(best, polygonSignedDistance(f.outline, u, v));
  }
  if (best >= 0) return "outside";
  return best < -(MASK_INSET + feather + 1.5) ? "deep" : "edge";
}
