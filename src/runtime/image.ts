// Images in and out of the network on the GPU: RGBA8 pixels (decoded images in a buffer on the
// server, a camera frame in a texture on the client) to normalised NHWC tensors, with a per-item
// affine warp for face alignment, and tensors back to RGBA8. Plus the CPU references of all three.
//
// Coordinates are pixels with pixel (row i, column j)'s centre at (j + 0.5, i + 0.5), as in
// texture coordinates × size and normalised landmarks × image size. A warp [a, b, c, d, e, f]
// maps an output (crop) point (u, v) to the source point (a·u + b·v + c, d·u + e·v + f); identity
// with equal sizes is a plain conversion. Sampling is bilinear; taps outside the source read as
// `border`, a value in normalised units (0 = the mean colour).

import type { TensorRef } from "./ops/types.ts";
import { workgroups1d } from "./ops/types.ts";
import { PipelineCache } from "./pipelines.ts";
import { type HostTensor, hostTensor } from "./tensor.ts";
import { uniformStruct } from "./uniforms.ts";

/** Per channel RGB: tensor = (v/255 − mean) / std. */
export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** [0, 255] → [−1, 1], the student's default. */
export const SIGNED_UNIT: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** Row-major 2×3 affine [a, b, c, d, e, f]: output point (u, v) → source (a·u+b·v+c, d·u+e·v+f). */
export type Affine = readonly [number, number, number, number, number, number];

export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

/** How one batch item is sampled: its transform, and which source image (buffer input only). */
export interface Warp {
  transform: Affine;
  /** Index of the source image in the pixel buffer; default 0. */
  image?: number;
}

/** A tensor on the GPU: its buffer and layout, e.g. `GpuExecutor.binding(id)`. */
export interface TensorBinding {
  buffer: GPUBuffer;
  tensor: TensorRef;
}

export interface ImageInOptions {
  normalization?: Normalization;
  /** Normalised value of samples outside the source; default 0. */
  border?: number;
}

/** Inputs of rgba_to_tensor and texture_to_tensor (the texture kernel reads its own size). */
export const ImageInParams = uniformStruct("ImageInParams", {
  batch: "u32",
  outH: "u32",
  outW: "u32",
  outStride: "u32",
  outOffset: "u32",
  srcW: "u32",
  srcH: "u32",
  mean0: "f32",
  mean1: "f32",
  mean2: "f32",
  std0: "f32",
  std1: "f32",
  std2: "f32",
  border: "f32",
});

export const ImageOutParams = uniformStruct("ImageOutParams", {
  pixels: "u32",
  inStride: "u32",
  inOffset: "u32",
  mean0: "f32",
  mean1: "f32",
  mean2: "f32",
  std0: "f32",
  std1: "f32",
  std2: "f32",
});

const WG = 64;
/** Bytes of one Warp in the kernels' `array<Warp>`. */
const WARP_BYTES = 32;

/** Compiles the three image kernels once; each stage then binds them to particular buffers. */
export class ImageKernels {
  private constructor(
    readonly device: GPUDevice,
    private readonly rgbaIn: GPUComputePipeline,
    private readonly textureIn: GPUComputePipeline,
    private readonly rgbaOut: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice, pipelines = new PipelineCache(device)) {
    const [rgbaIn, textureIn, rgbaOut] = await Promise.all([
      pipelines.get("rgba_to_tensor", ImageInParams, { WG }),
      pipelines.get("texture_to_tensor", ImageInParams, { WG }),
      pipelines.get("tensor_to_rgba", ImageOutParams, { WG }),
    ]);
    return new ImageKernels(device, rgbaIn, textureIn, rgbaOut);
  }

  /**
   * RGBA8 images of `width` × `height` in a pixel buffer (owned by the stage unless given) → the
   * 3-channel `target`. Warps start as identity with item i reading image min(i, images − 1).
   */
  rgbaToTensor(
    target: TensorBinding,
    source: { width: number; height: number; images?: number; pixels?: GPUBuffer },
    options: ImageInOptions = {},
  ): RgbaToTensor {
    checkImageTensor(target.tensor, "the target tensor");
    const images = source.images ?? 1;
    const bytes = images * source.width * source.height * 4;
    if (!(images >= 1 && source.width >= 1 && source.height >= 1)) {
      throw new Error(`no source pixels: ${images} × ${source.width}×${source.height}`);
    }
    if (source.pixels && source.pixels.size < bytes) {
      throw new Error(`pixel buffer has ${source.pixels.size} bytes, the images need ${bytes}`);
    }
    const pixels = source.pixels ?? this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label: "rgba_to_tensor pixels",
    });
    const stage = new RgbaToTensor(
      this.device,
      this.rgbaIn,
      target,
      pixels,
      { width: source.width, height: source.height, images },
      options,
      source.pixels ? [] : [pixels],
    );
    const batch = target.tensor.shape[0];
    stage.setWarps(
      Array.from(
        { length: batch },
        (_, i) => ({ transform: IDENTITY, image: Math.min(i, images - 1) }),
      ),
    );
    return stage;
  }

  /**
   * A texture (rgba8unorm or bgra8unorm, TEXTURE_BINDING usage) → the 3-channel `target`, every
   * item warped from the same frame. Make a new stage when the texture is replaced (e.g. resized).
   */
  textureToTensor(
    target: TensorBinding,
    texture: GPUTexture,
    options: ImageInOptions = {},
  ): TextureToTensor {
    if (texture.format.endsWith("-srgb")) {
      // An sRGB view decodes to linear light; the network was trained on the encoded values.
      throw new Error(
        `texture format ${texture.format} would be linearised: use a non-sRGB format`,
      );
    }
    if (!(texture.usage & GPUTextureUsage.TEXTURE_BINDING)) {
      throw new Error("the texture needs GPUTextureUsage.TEXTURE_BINDING");
    }
    const stage = new TextureToTensor(this.device, this.textureIn, target, texture, options);
    stage.setWarps(Array.from({ length: target.tensor.shape[0] }, () => ({ transform: IDENTITY })));
    return stage;
  }

  /** The 3-channel `source` tensor → RGBA8 pixels in the stage's `pixels` buffer. */
  tensorToRgba(
    source: TensorBinding,
    options: { normalization?: Normalization } = {},
  ): TensorToRgba {
    return new TensorToRgba(this.device, this.rgbaOut, source, options.normalization);
  }
}

function checkImageTensor(t: TensorRef, role: string) {
  if (t.shape[3] !== 3) throw new Error(`${role} must have 3 channels, has shape [${t.shape}]`);
}

function normalizationFields(norm: Normalization) {
  const { mean, std } = norm;
  if (!std.every((s) => s > 0)) throw new Error(`normalization std [${std}] must be positive`);
  return {
    mean0: mean[0],
    mean1: mean[1],
    mean2: mean[2],
    std0: std[0],
    std1: std[1],
    std2: std[2],
  };
}

function uniformBuffer(device: GPUDevice, data: ArrayBuffer, label: string) {
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

function dispatch(
  encoder: GPUCommandEncoder,
  pipeline: GPUComputePipeline,
  bindGroup: GPUBindGroup,
  threads: number,
) {
  const pass = encoder.beginComputePass({ label: pipeline.label });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...workgroups1d(threads, WG));
  pass.end();
}

/** Shared by both input stages: the warp buffer, the uniforms and the output binding. */
abstract class ImageInStage {
  protected readonly warps: GPUBuffer;
  protected readonly params: GPUBuffer;
  protected abstract readonly bindGroup: GPUBindGroup;
  readonly batch: number;

  constructor(
    protected readonly device: GPUDevice,
    protected readonly pipeline: GPUComputePipeline,
    readonly target: TensorBinding,
    source: { width: number; height: number },
    options: ImageInOptions,
    protected readonly owned: GPUBuffer[],
  ) {
    checkImageTensor(target.tensor, "the target tensor");
    const [n, h, w] = target.tensor.shape;
    // Packed (and so validated) before any buffer exists, so a bad option leaks nothing.
    const params = ImageInParams.pack({
      batch: n,
      outH: h,
      outW: w,
      outStride: target.tensor.layout.pixelStride / 4,
      outOffset: target.tensor.layout.channelOffset / 4,
      srcW: source.width,
      srcH: source.height,
      border: options.border ?? 0,
      ...normalizationFields(options.normalization ?? SIGNED_UNIT),
    });
    this.batch = n;
    this.warps = device.createBuffer({
      size: n * WARP_BYTES,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label: "image warps",
    });
    this.params = uniformBuffer(device, params, "image in params");
    this.owned.push(this.warps, this.params);
  }

  /** Highest source image index a warp may name. */
  protected abstract get lastImage(): number;

  /** One warp per batch item; takes effect from the next submit (queue.writeBuffer). */
  setWarps(warps: readonly Warp[]): void {
    if (warps.length !== this.batch) {
      throw new Error(`${warps.length} warps for a batch of ${this.batch}`);
    }
    const data = new ArrayBuffer(this.batch * WARP_BYTES);
    const view = new DataView(data);
    warps.forEach(({ transform, image = 0 }, i) => {
      if (transform.length !== 6 || !transform.every(Number.isFinite)) {
        throw new Error(`warp ${i}: transform [${transform}] is not 6 finite numbers`);
      }
      if (!Number.isInteger(image) || image < 0 || image > this.lastImage) {
        throw new Error(`warp ${i}: image ${image} is not in 0..${this.lastImage}`);
      }
      const at = i * WARP_BYTES;
      [0, 1, 2].forEach((k) => view.setFloat32(at + 4 * k, transform[k], true));
      view.setUint32(at + 12, image, true);
      [3, 4, 5].forEach((k) => view.setFloat32(at + 16 + 4 * (k - 3), transform[k], true));
    });
    this.device.queue.writeBuffer(this.warps, 0, data);
  }

  /** Appends the conversion to a frame's encoder (its own compute pass). */
  encode(encoder: GPUCommandEncoder): void {
    const [n, h, w] = this.target.tensor.shape;
    dispatch(encoder, this.pipeline, this.bindGroup, n * h * w);
  }

  /** Frees the buffers this stage created (not the target, nor a pixel buffer it was given). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

/** RGBA8 pixel buffer → tensor; see ImageKernels.rgbaToTensor. */
export class RgbaToTensor extends ImageInStage {
  protected readonly bindGroup: GPUBindGroup;

  constructor(
    device: GPUDevice,
    pipeline: GPUComputePipeline,
    target: TensorBinding,
    /** Source images back to back, one u32 per pixel (bytes R, G, B, A). */
    readonly pixels: GPUBuffer,
    readonly source: { width: number; height: number; images: number },
    options: ImageInOptions,
    owned: GPUBuffer[],
  ) {
    super(device, pipeline, target, source, options, owned);
    this.bindGroup = device.createBindGroup({
      label: "rgba_to_tensor",
      layout: pipeline.getBindGroupLayout(0),
      entries: [pixels, this.warps, target.buffer, this.params].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
  }

  protected get lastImage(): number {
    return this.source.images - 1;
  }

  /** Uploads one source image's RGBA8 bytes (width × height × 4, e.g. a decoded PNG). */
  writeImage(image: number, rgba: Uint8Array | Uint8ClampedArray): void {
    const { width, height, images } = this.source;
    const bytes = width * height * 4;
    if (rgba.length !== bytes) {
      throw new Error(`image has ${rgba.length} bytes, ${width}×${height} RGBA needs ${bytes}`);
    }
    if (!Number.isInteger(image) || image < 0 || image >= images) {
      throw new Error(`image ${image} is not in 0..${images - 1}`);
    }
    this.device.queue.writeBuffer(this.pixels, image * bytes, rgba);
  }
}

/** Texture → tensor; see ImageKernels.textureToTensor. */
export class TextureToTensor extends ImageInStage {
  protected readonly bindGroup: GPUBindGroup;

  constructor(
    device: GPUDevice,
    pipeline: GPUComputePipeline,
    target: TensorBinding,
    readonly texture: GPUTexture,
    options: ImageInOptions,
  ) {
    super(device, pipeline, target, texture, options, []);
    this.bindGroup = device.createBindGroup({
      label: "texture_to_tensor",
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: texture.createView() },
        { binding: 1, resource: { buffer: this.warps } },
        { binding: 2, resource: { buffer: target.buffer } },
        { binding: 3, resource: { buffer: this.params } },
      ],
    });
  }

  protected get lastImage(): number {
    return 0;
  }
}

/** Tensor → RGBA8 pixels; see ImageKernels.tensorToRgba. */
export class TensorToRgba {
  /** n × h × w u32 pixels (bytes R, G, B, 255), items back to back. */
  readonly pixels: GPUBuffer;
  readonly #params: GPUBuffer;
  readonly #bindGroup: GPUBindGroup;
  #staging?: GPUBuffer;
  #pendingRead = false;

  constructor(
    readonly device: GPUDevice,
    private readonly pipeline: GPUComputePipeline,
    readonly source: TensorBinding,
    normalization: Normalization = SIGNED_UNIT,
  ) {
    checkImageTensor(source.tensor, "the source tensor");
    const [n, h, w] = source.tensor.shape;
    const params = ImageOutParams.pack({
      pixels: n * h * w,
      inStride: source.tensor.layout.pixelStride / 4,
      inOffset: source.tensor.layout.channelOffset / 4,
      ...normalizationFields(normalization),
    });
    this.pixels = device.createBuffer({
      size: n * h * w * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      label: "tensor_to_rgba pixels",
    });
    this.#params = uniformBuffer(device, params, "image out params");
    this.#bindGroup = device.createBindGroup({
      label: "tensor_to_rgba",
      layout: pipeline.getBindGroupLayout(0),
      entries: [source.buffer, this.pixels, this.#params].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
  }

  get byteLength(): number {
    const [n, h, w] = this.source.tensor.shape;
    return n * h * w * 4;
  }

  /**
   * Appends the conversion to a frame's encoder; with `readback`, also the copy that `read()`
   * maps after the caller submits.
   */
  encode(encoder: GPUCommandEncoder, { readback = false } = {}): void {
    dispatch(encoder, this.pipeline, this.#bindGroup, this.byteLength / 4);
    if (!readback) return;
    this.#staging ??= this.device.createBuffer({
      size: this.byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "tensor_to_rgba readback",
    });
    encoder.copyBufferToBuffer(this.pixels, 0, this.#staging, 0, this.byteLength);
    this.#pendingRead = true;
  }

  /** The RGBA8 bytes of every item, once the encoder given `readback: true` was submitted. */
  async read(): Promise<Uint8Array> {
    if (!this.#staging || !this.#pendingRead) {
      throw new Error("read() needs encode(encoder, { readback: true }) submitted first");
    }
    this.#pendingRead = false;
    await this.#staging.mapAsync(GPUMapMode.READ);
    const bytes = new Uint8Array(this.#staging.getMappedRange().slice(0));
    this.#staging.unmap();
    return bytes;
  }

  /**
   * Copies the pixels into a 2-D (array) texture, item i into layer i, e.g. for the client's
   * composite to sample. WebGPU needs rows of a multiple of 256 bytes: width a multiple of 64.
   */
  copyToTexture(encoder: GPUCommandEncoder, texture: GPUTexture): void {
    const [n, h, w] = this.source.tensor.shape;
    if ((w * 4) % 256 !== 0) {
      throw new Error(`copyToTexture needs a width that is a multiple of 64, got ${w}`);
    }
    encoder.copyBufferToTexture(
      { buffer: this.pixels, bytesPerRow: w * 4, rowsPerImage: h },
      { texture },
      { width: w, height: h, depthOrArrayLayers: n },
    );
  }

  destroy(): void {
    this.pixels.destroy();
    this.#params.destroy();
    this.#staging?.destroy();
  }
}

// ---- CPU references: the same sampling math, written out in plain TS for the tests. ----

/**
 * RGBA8 source images (back to back, `width` × `height` each) → a normalised [n, h, w, 3] tensor,
 * n = warps.length. Also the reference of texture_to_tensor, given the frame's bytes.
 */
export function rgbaToTensorReference(
  pixels: Uint8Array | Uint8ClampedArray,
  source: { width: number; height: number },
  warps: readonly Warp[],
  out: { width: number; height: number },
  options: ImageInOptions = {},
): HostTensor {
  const { width: sw, height: sh } = source;
  const { mean, std } = options.normalization ?? SIGNED_UNIT;
  const border = options.border ?? 0;
  const y = hostTensor([warps.length, out.height, out.width, 3]);
  const tap = (image: number, sx: number, sy: number, c: number) =>
    sx < 0 || sy < 0 || sx >= sw || sy >= sh
      ? border
      : (pixels[((image * sh + sy) * sw + sx) * 4 + c] / 255 - mean[c]) / std[c];
  const lerp = (a: number, b: number, t: number) => a * (1 - t) + b * t;
  warps.forEach(({ transform: [a, b, c, d, e, f], image = 0 }, n) => {
    for (let oy = 0; oy < out.height; oy++) {
      for (let ox = 0; ox < out.width; ox++) {
        const u = ox + 0.5, v = oy + 0.5;
        // Source point, shifted so pixel centres sit on integers.
        const fx = a * u + b * v + c - 0.5, fy = d * u + e * v + f - 0.5;
        const x0 = Math.floor(fx), y0 = Math.floor(fy);
        const tx = fx - x0, ty = fy - y0;
        const at = ((n * out.height + oy) * out.width + ox) * 3;
        for (let ch = 0; ch < 3; ch++) {
          const top = lerp(tap(image, x0, y0, ch), tap(image, x0 + 1, y0, ch), tx);
          const bottom = lerp(tap(image, x0, y0 + 1, ch), tap(image, x0 + 1, y0 + 1, ch), tx);
          y.data[at + ch] = lerp(top, bottom, ty);
        }
      }
    }
  });
  return y;
}

/** A normalised [n, h, w, 3] tensor → RGBA8 bytes: clamped, rounded half up, alpha 255. */
export function tensorToRgbaReference(
  t: HostTensor,
  normalization: Normalization = SIGNED_UNIT,
): Uint8Array {
  const [n, h, w, c] = t.shape;
  if (c !== 3) throw new Error(`tensor must have 3 channels, has shape [${t.shape}]`);
  const { mean, std } = normalization;
  const out = new Uint8Array(n * h * w * 4);
  for (let p = 0; p < n * h * w; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = Math.min(Math.max(t.data[p * 3 + ch] * std[ch] + mean[ch], 0), 1);
      out[p * 4 + ch] = Math.floor(0.5 + 255 * v);
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}
