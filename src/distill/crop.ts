// Aligned face crops on the CPU with exactly the client's math: template + similarity fit give the
// crop → frame warp, and the runtime's reference sampler (the GPU kernels' twin) cuts the crop.

import { alignFace, type FaceAlignment, transformLandmarks } from "../face/similarity.ts";
import { FACE_TEMPLATE, type FaceTemplate } from "../face/template.ts";
import type { Landmarks } from "../face/landmarks.ts";
import type { RgbaImage } from "../media/codec.ts";
import {
  type Affine,
  type ImageInOptions,
  rgbaToTensorReference,
  tensorToRgbaReference,
} from "../runtime/image.ts";

export interface FaceCrop {
  crop: RgbaImage;
  alignment: FaceAlignment;
  /** All landmarks mapped into the crop: interleaved (x, y) crop pixels. */
  landmarks: Float32Array;
}

/** Samples `image` through a crop → frame `warp` into a `size`×`size` RGBA crop (bilinear). */
export function warpImage(
  image: RgbaImage,
  warp: Affine,
  size: number | { width: number; height: number },
  options: ImageInOptions = {},
): RgbaImage {
  const out = typeof size === "number" ? { width: size, height: size } : size;
  const t = rgbaToTensorReference(image.data, image, [{ transform: warp }], out, options);
  return { ...out, data: tensorToRgbaReference(t, options.normalization) };
}

/** Cuts the aligned crop of the face whose landmarks (frame pixels) are given. */
export function cropFace(
  image: RgbaImage,
  landmarks: Landmarks,
  size = 256,
  template: FaceTemplate = FACE_TEMPLATE,
): FaceCrop {
  const alignment = alignFace(landmarks, template, size);
  return {
    crop: warpImage(image, alignment.warp, size),
    alignment,
    landmarks: transformLandmarks(alignment.inverse, landmarks),
  };
}
