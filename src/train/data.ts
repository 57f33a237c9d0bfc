// Training data: (input, target) crops as normalised tensors, a seeded sampler whose whole state
// (RNG state, epoch order, position) fits in a checkpoint so a resumed run draws the same batches,
// and conversions between RGBA images and tensors.

import type { RgbaImage } from "../media/codec.ts";
import { type HostTensor, hostTensor } from "../runtime/tensor.ts";

export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

/** One training pair, each H × W × 3 normalised floats. */
export interface Sample {
  input: Float32Array;
  target: Float32Array;
}

export interface Dataset {
  size: number;
  height: number;
  width: number;
  get(index: number): Sample;
}

/** RGBA8 → H × W × 3, (v/255 − mean)/std per channel. */
export function rgbaToTensor(img: RgbaImage, n: Normalization): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = (img.data[p * 4 + c] / 255 - n.mean[c]) / n.std[c];
  }
  return out;
}

/** H × W × 3 normalised → RGBA8 (clamped, rounded, opaque). */
export function tensorToRgba(
  data: Float32Array,
  width: number,
  height: number,
  n: Normalization,
): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (data[p * 3 + c] * n.std[c] + n.mean[c]) * 255;
      out[p * 4 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
    out[p * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/** A dataset over image pairs (e.g. src/distill/pairs.ts's readPairs), converted once. */
export function datasetFromImages(
  pairs: readonly { input: RgbaImage; target: RgbaImage }[],
  n: Normalization,
): Dataset {
  if (pairs.length === 0) throw new Error("the dataset is empty");
  const { width, height } = pairs[0].input;
  const samples = pairs.map((p, i) => {
    for (const img of [p.input, p.target]) {
      if (img.width !== width || img.height !== height) {
        throw new Error(`pair ${i} is ${img.width}×${img.height}, the first is ${width}×${height}`);
      }
    }
    return { input: rgbaToTensor(p.input, n), target: rgbaToTensor(p.target, n) };
  });
  return { size: samples.length, width, height, get: (i) => samples[i] };
}

/**
 * mulberry32 with its state in the open: a checkpoint stores `state` and a resumed run continues
 * the very same sequence.
 */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export interface SamplerState {
  rng: number;
  epoch: number;
  /** Next index into `order`. */
  position: number;
  order: number[];
  flip: boolean;
}

/**
 * Batches in a seeded random order, reshuffled every epoch; optional horizontal flips (of input
 * and target together) drawn from the same generator.
 */
export class Sampler {
  #rng: Rng;
  #state: Omit<SamplerState, "rng">;

  constructor(readonly data: Dataset, seed: number, options: { flip?: boolean } = {}) {
    this.#rng = new Rng(seed);
    this.#state = { epoch: 0, position: 0, order: [], flip: options.flip ?? false };
    this.#shuffle();
  }

  static restore(data: Dataset, state: SamplerState): Sampler {
    if (state.order.length !== data.size || state.order.some((i) => !(i >= 0 && i < data.size))) {
      throw new Error(
        `the sampler state is for a dataset of ${state.order.length}, not ${data.size}`,
      );
    }
    const s = new Sampler(data, 0, { flip: state.flip });
    s.#rng.state = state.rng >>> 0;
    s.#state = {
      epoch: state.epoch,
      position: state.position,
      order: [...state.order],
      flip: state.flip,
    };
    return s;
  }

  get state(): SamplerState {
    return { rng: this.#rng.state, ...this.#state, order: [...this.#state.order] };
  }

  get epoch(): number {
    return this.#state.epoch;
  }

  #shuffle() {
    const order = Array.from({ length: this.data.size }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.#rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    this.#state.order = order;
    this.#state.position = 0;
  }

  /** The next `batch` samples as [batch, H, W, 3] tensors. */
  next(batch: number): { inputs: HostTensor; targets: HostTensor; indices: number[] } {
    const { height: h, width: w } = this.data;
    const shape = [batch, h, w, 3] as const;
    const inputs = hostTensor(shape), targets = hostTensor(shape);
    const indices: number[] = [];
    for (let b = 0; b < batch; b++) {
      if (this.#state.position >= this.#state.order.length) {
        this.#state.epoch++;
        this.#shuffle();
      }
      const index = this.#state.order[this.#state.position++];
      indices.push(index);
      const s = this.data.get(index);
      const flip = this.#state.flip && this.#rng.next() < 0.5;
      place(inputs.data, s.input, b, w, h, flip);
      place(targets.data, s.target, b, w, h, flip);
    }
    return { inputs, targets, indices };
  }
}

function place(
  dst: Float32Array,
  src: Float32Array,
  b: number,
  w: number,
  h: number,
  flip: boolean,
) {
  const base = b * w * h * 3;
  if (!flip) {
    dst.set(src, base);
    return;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + (w - 1 - x)) * 3, to = base + (y * w + x) * 3;
      dst[to] = src[from];
      dst[to + 1] = src[from + 1];
      dst[to + 2] = src[from + 2];
    }
  }
}

/** Stacks samples into one [n, H, W, 3] pair of tensors (validation batches). */
export function stack(
  data: Dataset,
  indices: readonly number[],
): { inputs: HostTensor; targets: HostTensor } {
  const shape = [indices.length, data.height, data.width, 3] as const;
  const inputs = hostTensor(shape), targets = hostTensor(shape);
  indices.forEach((index, b) => {
    const s = data.get(index);
    inputs.data.set(s.input, b * s.input.length);
    targets.data.set(s.target, b * s.target.length);
  });
  return { inputs, targets };
}
