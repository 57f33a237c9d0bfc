// Tensors on the host: logical NHWC f32 arrays, and the channel-padded layout the GPU uses.
// A GPU tensor stores each pixel as `pixelStride` floats (a multiple of 4) starting at `channelOffset`.

/** Logical NHWC shape: batch, height, width, channels. */
export type Shape = readonly [n: number, h: number, w: number, c: number];

export interface HostTensor {
  shape: Shape;
  data: Float32Array;
}

/** Rounds a channel count up to the next multiple of 4 (one vec4). */
export const pad4 = (c: number): number => Math.ceil(c / 4) * 4;

export const elementCount = (s: Shape): number => s[0] * s[1] * s[2] * s[3];

export function hostTensor(shape: Shape, data?: Float32Array): HostTensor {
  const size = elementCount(shape);
  if (data && data.length !== size) {
    throw new Error(`tensor data has ${data.length} values, shape [${shape}] needs ${size}`);
  }
  return { shape, data: data ?? new Float32Array(size) };
}

export const shapeText = (s: Shape): string => `${s[0]}x${s[1]}x${s[2]}x${s[3]}`;

/** Where a tensor lives inside a GPU buffer: channels padded, optionally a slice of a wider tensor. */
export interface Layout {
  pixelStride: number; // floats per pixel in the buffer, multiple of 4
  channelOffset: number; // first float of this tensor within a pixel, multiple of 4
}

export const denseLayout = (s: Shape): Layout => ({ pixelStride: pad4(s[3]), channelOffset: 0 });

/** Floats a buffer needs to hold a tensor of `shape` laid out as `layout`. */
export const layoutFloats = (s: Shape, layout: Layout): number =>
  s[0] * s[1] * s[2] * layout.pixelStride;

/** Writes a logical tensor into padded storage (padding channels stay as they are: zero). */
export function pack(t: HostTensor, layout: Layout = denseLayout(t.shape), out?: Float32Array) {
  const [n, h, w, c] = t.shape;
  const dst = out ?? new Float32Array(layoutFloats(t.shape, layout));
  for (let p = 0; p < n * h * w; p++) {
    dst.set(t.data.subarray(p * c, p * c + c), p * layout.pixelStride + layout.channelOffset);
  }
  return dst;
}

/** Reads a logical tensor back out of padded storage. */
export function unpack(src: Float32Array, shape: Shape, layout: Layout = denseLayout(shape)) {
  const [n, h, w, c] = shape;
  const t = hostTensor(shape);
  for (let p = 0; p < n * h * w; p++) {
    const at = p * layout.pixelStride + layout.channelOffset;
    t.data.set(src.subarray(at, at + c), p * c);
  }
  return t;
}
