// Paste-back of the network's edit into the frame: two kernels (kernels/wgsl/face_mask.wgsl draws
// each face's blend mask in crop pixels, kernels/wgsl/composite.wgsl samples the mask and the edit,
// output crop − input crop, at every frame pixel's crop point and adds it under the mask) bound to a
// frame texture, a result texture and the network's input and output tensors; and their CPU
// reference, which is also the client's composite without a GPU (the edge path).
//
// Why the edit and not the output: the crop is small (128² for a whole head), so pasting the output
// would blur every face larger than that; adding output − input puts back only what the network
// changed, at crop resolution, over the frame's own detail (and an unchanged crop changes nothing).
//
// Geometry as in image.ts: pixel (i, j)'s centre is (j + 0.5, i + 0.5). Per face, `inverse` maps a
// frame point to its crop point (the inverse of the crop warp) and `outline` is the face region's
// polygon in crop pixels. The mask is 0 until MASK_INSET crop pixels inside the outline and rises to
// 1 over `feather` pixels further in (smoothstep when feather > 1); sampled bilinearly it is exactly
// 0 everywhere outside the outline, so every pixel outside the faces keeps the frame's exact bytes.
// Drawing the mask once per crop pixel, not per frame pixel, keeps the polygon distance (36 edges)
// off the per-pixel path: a large face covers many more frame pixels than crop pixels.

import type { Affine, Normalization, TensorBinding } from "./image.ts";
import { SIGNED_UNIT } from "./image.ts";
import { workgroups1d } from "./ops/types.ts";
import { PipelineCache } from "./pipelines.ts";
import type { HostTensor } from "./tensor.ts";
import { uniformStruct } from "./uniforms.ts";

/** One face to paste: how frame and crop relate, and where its region is. */
export interface CompositeFace {
  /** Crop pixel → frame pixel (the crop warp). Only used to bound the work. */
  warp: Affine;
  /** Frame pixel → crop pixel. */
  inverse: Affine;
  /** Closed outline of the blended region, crop pixels, interleaved x, y (≥ 3 points). */
  outline: ArrayLike<number>;
}

export interface CompositeOptions {
  /** Width of the mask's soft edge, in crop pixels. */
  feather: number;
  normalization?: Normalization;
}

/** The network's input and output crops, both [n, s, s, 3] (normalised), on the GPU. */
export interface CropBindings {
  input: TensorBinding;
  output: TensorBinding;
}

/** A pixel rectangle of the frame: the only pixels the kernel may write. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Crop pixels between the outline and where the mask starts to rise (√2: see the header). */
export const MASK_INSET = Math.SQRT2;

export const CompositeParams = uniformStruct("CompositeParams", {
  faces: "u32",
  size: "u32",
  cropStride: "u32",
  cropOffset: "u32",
  inputStride: "u32",
  inputOffset: "u32",
  boxX: "u32",
  boxY: "u32",
  boxW: "u32",
  boxH: "u32",
  feather: "f32",
  mean0: "f32",
  mean1: "f32",
  mean2: "f32",
  std0: "f32",
  std1: "f32",
  std2: "f32",
});

const WG = 64;
const FACE_BYTES = 32;

/**
 * The frame pixels any face's outline can reach: the outlines mapped to the frame, their bounding
 * box grown by a pixel, clipped to the frame. Empty (width 0) when no face is on screen.
 */
export function compositeBox(
  faces: readonly CompositeFace[],
  width: number,
  height: number,
): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const f of faces) {
    const [a, b, c, d, e, g] = f.warp;
    for (let k = 0; k + 1 < f.outline.length; k += 2) {
      const u = f.outline[k], v = f.outline[k + 1];
      const x = a * u + b * v + c, y = d * u + e * v + g;
      x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
    }
  }
  const left = Math.max(0, Math.floor(x0) - 1), top = Math.max(0, Math.floor(y0) - 1);
  const right = Math.min(width, Math.ceil(x1) + 1), bottom = Math.min(height, Math.ceil(y1) + 1);
  if (!(right > left && bottom > top)) return { x: 0, y: 0, width: 0, height: 0 };
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/** The two composite pipelines, compiled once per device. */
export class Compositor {
  private constructor(
    readonly device: GPUDevice,
    readonly maskPipeline: GPUComputePipeline,
    readonly pastePipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice, pipelines = new PipelineCache(device)) {
    const [mask, paste] = await Promise.all([
      pipelines.get("face_mask", CompositeParams, { WG }),
      pipelines.get("composite", CompositeParams, { WG }),
    ]);
    return new Compositor(device, mask, paste);
  }

  /**
   * Binds a frame texture (TEXTURE_BINDING | COPY_SRC, rgba8unorm), a result texture of the same
   * size (STORAGE_BINDING | COPY_DST, rgba8unorm) and the network's input and output tensors
   * (each [n, s, s, 3]) for up to
   * `maxFaces` faces with outlines of up to `maxPoints` points.
   */
  bind(
    frame: GPUTexture,
    result: GPUTexture,
    crops: CropBindings,
    limits: { maxFaces?: number; maxPoints?: number } = {},
  ): CompositeStage {
    return new CompositeStage(this, frame, result, crops, limits);
  }
}

export class CompositeStage {
  readonly maxFaces: number;
  readonly maxPoints: number;
  readonly device: GPUDevice;
  readonly #faces: GPUBuffer;
  readonly #outline: GPUBuffer;
  readonly #masks: GPUBuffer;
  readonly #params: GPUBuffer;
  readonly #maskGroup: GPUBindGroup;
  readonly #pasteGroup: GPUBindGroup;
  #box: Box = { x: 0, y: 0, width: 0, height: 0 };
  #count = 0;

  constructor(
    private readonly compositor: Compositor,
    readonly frame: GPUTexture,
    readonly result: GPUTexture,
    readonly crops: CropBindings,
    limits: { maxFaces?: number; maxPoints?: number },
  ) {
    const device = this.device = compositor.device;
    const [n, h, w, c] = crops.output.tensor.shape;
    if (h !== w || c !== 3) {
      throw new Error(`crops must be [n, s, s, 3], got [${crops.output.tensor.shape}]`);
    }
    if (String(crops.input.tensor.shape) !== String(crops.output.tensor.shape)) {
      throw new Error(
        `input crops [${crops.input.tensor.shape}] differ from output crops [${crops.output.tensor.shape}]`,
      );
    }
    if (frame.width !== result.width || frame.height !== result.height) {
      throw new Error(
        `result ${result.width}×${result.height} differs from frame ${frame.width}×${frame.height}`,
      );
    }
    if (result.format !== "rgba8unorm" || !(result.usage & GPUTextureUsage.STORAGE_BINDING)) {
      throw new Error("the result texture must be rgba8unorm with STORAGE_BINDING");
    }
    this.maxFaces = Math.min(limits.maxFaces ?? n, n);
    this.maxPoints = limits.maxPoints ?? 64;
    const storage = (size: number, label: string) =>
      device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label });
    this.#faces = storage(this.maxFaces * FACE_BYTES, "composite faces");
    this.#outline = storage(this.maxFaces * this.maxPoints * 8, "composite outlines");
    this.#masks = storage(this.maxFaces * h * w * 4, "composite masks");
    this.#params = device.createBuffer({
      size: CompositeParams.byteSize,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "composite params",
    });
    this.#maskGroup = device.createBindGroup({
      label: "face_mask",
      layout: compositor.maskPipeline.getBindGroupLayout(0),
      entries: [this.#faces, this.#outline, this.#masks, this.#params].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    this.#pasteGroup = device.createBindGroup({
      label: "composite",
      layout: compositor.pastePipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: frame.createView() },
        { binding: 1, resource: { buffer: crops.output.buffer } },
        { binding: 2, resource: { buffer: this.#faces } },
        { binding: 3, resource: { buffer: this.#masks } },
        { binding: 4, resource: result.createView() },
        { binding: 5, resource: { buffer: this.#params } },
        { binding: 6, resource: { buffer: crops.input.buffer } },
      ],
    });
  }

  /** The pixels the next encode may change. */
  get box(): Box {
    return { ...this.#box };
  }

  /** Face i pastes crop i; takes effect from the next submit (queue.writeBuffer). */
  setFaces(faces: readonly CompositeFace[], options: CompositeOptions): void {
    const size = this.crops.output.tensor.shape[1];
    if (faces.length > this.maxFaces) {
      throw new Error(`${faces.length} faces, the stage takes at most ${this.maxFaces}`);
    }
    const faceData = new ArrayBuffer(Math.max(1, faces.length) * FACE_BYTES);
    const view = new DataView(faceData);
    const points = new Float32Array(Math.max(1, faces.length) * this.maxPoints * 2);
    faces.forEach((f, i) => {
      const count = f.outline.length / 2;
      if (!Number.isInteger(count) || count < 3 || count > this.maxPoints) {
        throw new Error(`face ${i}: an outline needs 3..${this.maxPoints} points, got ${count}`);
      }
      if (f.inverse.length !== 6 || !f.inverse.every(Number.isFinite)) {
        throw new Error(`face ${i}: inverse [${f.inverse}] is not 6 finite numbers`);
      }
      const at = i * FACE_BYTES;
      [0, 1, 2].forEach((k) => view.setFloat32(at + 4 * k, f.inverse[k], true));
      view.setUint32(at + 12, i * this.maxPoints, true);
      [3, 4, 5].forEach((k) => view.setFloat32(at + 16 + 4 * (k - 3), f.inverse[k], true));
      view.setUint32(at + 28, count, true);
      for (let k = 0; k < count * 2; k++) points[i * this.maxPoints * 2 + k] = f.outline[k];
    });
    this.#box = faces.length
      ? compositeBox(faces, this.frame.width, this.frame.height)
      : { x: 0, y: 0, width: 0, height: 0 };
    this.#count = faces.length;
    const { mean, std } = options.normalization ?? SIGNED_UNIT;
    const params = CompositeParams.pack({
      faces: faces.length,
      size,
      cropStride: this.crops.output.tensor.layout.pixelStride / 4,
      cropOffset: this.crops.output.tensor.layout.channelOffset / 4,
      inputStride: this.crops.input.tensor.layout.pixelStride / 4,
      inputOffset: this.crops.input.tensor.layout.channelOffset / 4,
      boxX: this.#box.x,
      boxY: this.#box.y,
      boxW: this.#box.width,
      boxH: this.#box.height,
      feather: options.feather,
      mean0: mean[0],
      mean1: mean[1],
      mean2: mean[2],
      std0: std[0],
      std1: std[1],
      std2: std[2],
    });
    this.device.queue.writeBuffer(this.#faces, 0, faceData);
    this.device.queue.writeBuffer(this.#outline, 0, points);
    this.device.queue.writeBuffer(this.#params, 0, params);
  }

  /** Copies the frame into the result, then draws the masks and pastes the faces. */
  encode(encoder: GPUCommandEncoder): void {
    encoder.copyTextureToTexture(
      { texture: this.frame },
      { texture: this.result },
      [this.frame.width, this.frame.height],
    );
    const threads = this.#box.width * this.#box.height;
    if (this.#count === 0 || threads === 0) return;
    const size = this.crops.output.tensor.shape[1];
    const pass = encoder.beginComputePass({ label: "composite" });
    pass.setPipeline(this.compositor.maskPipeline);
    pass.setBindGroup(0, this.#maskGroup);
    pass.dispatchWorkgroups(...workgroups1d(this.#count * size * size, WG));
    pass.setPipeline(this.compositor.pastePipeline);
    pass.setBindGroup(0, this.#pasteGroup);
    pass.dispatchWorkgroups(...workgroups1d(threads, WG));
    pass.end();
  }

  destroy(): void {
    for (const b of [this.#faces, this.#outline, this.#masks, this.#params]) b.destroy();
  }
}

// ---- CPU reference (and the client's composite without a GPU) ----

/** Signed distance from (x, y) to a closed polygon (interleaved x, y), negative inside. */
export function polygonSignedDistance(outline: ArrayLike<number>, x: number, y: number): number {
  const n = outline.length / 2;
  let inside = false, d2 = Infinity;
  let ax = outline[2 * n - 2], ay = outline[2 * n - 1];
  for (let k = 0; k < n; k++) {
    const bx = outline[2 * k], by = outline[2 * k + 1];
    if ((ay > y) !== (by > y) && x < ax + ((y - ay) * (bx - ax)) / (by - ay)) inside = !inside;
    const ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
    const t = len2 > 0 ? Math.min(1, Math.max(0, ((x - ax) * ex + (y - ay) * ey) / len2)) : 0;
    const rx = x - ax - t * ex, ry = y - ay - t * ey;
    d2 = Math.min(d2, rx * rx + ry * ry);
    ax = bx, ay = by;
  }
  const d = Math.sqrt(d2);
  return inside ? -d : d;
}

/**
 * A face's blend mask: `size` × `size` values, one per crop pixel centre (see the header), as
 * face_mask.wgsl draws it.
 */
export function faceMaskReference(
  outline: ArrayLike<number>,
  size: number,
  feather: number,
): Float32Array {
  const f = Math.max(feather, 1e-3);
  const mask = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = polygonSignedDistance(outline, x + 0.5, y + 0.5);
      let v = Math.min(1, Math.max(0, -(d + MASK_INSET) / f));
      if (f > 1) v = v * v * (3 - 2 * v);
      mask[y * size + x] = v;
    }
  }
  return mask;
}

/**
 * The composite on the CPU: RGBA8 `frame` (width × height) with face i's edit pasted: at each
 * pixel's crop point the face mask and crops i of `inputs` and `outputs` ([n, s, s, 3], normalised;
 * texels de-normalised and clamped to [0, 1]) are sampled bilinearly, and mask × (output − input) is
 * added to the frame. Returns a new RGBA8 array; pixels where every mask is 0 are copied unchanged.
 * Rounds as the GPU's unorm store does.
 */
export function compositeReference(
  frame: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  inputs: HostTensor,
  outputs: HostTensor,
  faces: readonly CompositeFace[],
  options: CompositeOptions,
): Uint8Array {
  const { width, height } = frame;
  const [n, size] = outputs.shape;
  if (faces.length > n) throw new Error(`${faces.length} faces but ${n} crops`);
  if (String(inputs.shape) !== String(outputs.shape)) {
    throw new Error(`input crops [${inputs.shape}] differ from output crops [${outputs.shape}]`);
  }
  const out = new Uint8Array(frame.data);
  const { mean, std } = options.normalization ?? SIGNED_UNIT;
  const box = compositeBox(faces, width, height);
  const masks = faces.map((f) => faceMaskReference(f.outline, size, options.feather));
  const clampTexel = (v: number) => Math.min(size - 1, Math.max(0, v));
  // A texel as a colour, clamped to [0, 1] before interpolation (as the kernel does).
  const colour = (t: HostTensor, at: number, c: number) =>
    Math.min(1, Math.max(0, t.data[at] * std[c] + mean[c]));
  const tap = (i: number, x: number, y: number, c: number) => {
    const at = ((i * size + clampTexel(y)) * size + clampTexel(x)) * 3 + c;
    return colour(outputs, at, c) - colour(inputs, at, c);
  };
  const maskTap = (i: number, x: number, y: number) =>
    masks[i][clampTexel(y) * size + clampTexel(x)];
  const rgb = [0, 0, 0];
  for (let py = box.y; py < box.y + box.height; py++) {
    for (let px = box.x; px < box.x + box.width; px++) {
      const at = (py * width + px) * 4;
      let touched = false;
      for (let i = 0; i < faces.length; i++) {
        const [a, b, c0, d, e, g] = faces[i].inverse;
        const cx = px + 0.5, cy = py + 0.5;
        const u = a * cx + b * cy + c0, v = d * cx + e * cy + g;
        if (u < 0 || v < 0 || u >= size || v >= size) continue;
        const sx = u - 0.5, sy = v - 0.5;
        const x0 = Math.floor(sx), y0 = Math.floor(sy), tx = sx - x0, ty = sy - y0;
        const lerp2 = (f: (x: number, y: number) => number) =>
          (f(x0, y0) * (1 - tx) + f(x0 + 1, y0) * tx) * (1 - ty) +
          (f(x0, y0 + 1) * (1 - tx) + f(x0 + 1, y0 + 1) * tx) * ty;
        const m = lerp2((x, y) => maskTap(i, x, y));
        if (m <= 0) continue;
        if (!touched) { for (let c = 0; c < 3; c++) rgb[c] = frame.data[at + c] / 255; }
        for (let c = 0; c < 3; c++) {
          const edit = lerp2((x, y) => tap(i, x, y, c));
          rgb[c] = Math.min(1, Math.max(0, rgb[c] + m * edit));
        }
        touched = true;
      }
      if (!touched) continue;
      for (let c = 0; c < 3; c++) out[at + c] = Math.round(255 * rgb[c]);
    }
  }
  return out;
}
