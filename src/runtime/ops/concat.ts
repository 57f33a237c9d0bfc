// Channel concatenation of two tensors: the general-case copy. The planner avoids it where it can
// by writing producers straight into channel slices of one buffer.

import { hostTensor, pad4, type Shape } from "../tensor.ts";
import { uniformStruct } from "../uniforms.ts";
import { type OpDef, type StepContext, workgroups1d } from "./types.ts";

export type ConcatAttrs = Record<string, never>;

/** `aC`, `bC`: the parts' channel counts; `outQ`: output quads; strides/offsets in vec4s. */
export const ConcatParams = uniformStruct("ConcatParams", {
  pixels: "u32",
  aC: "u32",
  bC: "u32",
  outQ: "u32",
  aStride: "u32",
  aOffset: "u32",
  bStride: "u32",
  bOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
});

const pixelCount = (s: Shape) => s[0] * s[1] * s[2];

function threads(ctx: StepContext<ConcatAttrs>) {
  return pixelCount(ctx.output.shape) * pad4(ctx.output.shape[3]) / 4;
}

export const concat: OpDef<ConcatAttrs> = {
  name: "concat",
  gpuInputs: 2,
  outputShape(inputs) {
    const [a, b] = inputs;
    if (inputs.length !== 2) throw new Error(`concat takes 2 inputs, got ${inputs.length}`);
    if (a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2]) {
      throw new Error(`concat parts [${a}] and [${b}] differ outside the channel axis`);
    }
    return [a[0], a[1], a[2], a[3] + b[3]];
  },
  params: () => ({}),
  reference([a, b]) {
    const [n, h, w, ca] = a.shape;
    const cb = b.shape[3];
    const y = hostTensor([n, h, w, ca + cb]);
    for (let p = 0; p < n * h * w; p++) {
      y.data.set(a.data.subarray(p * ca, p * ca + ca), p * (ca + cb));
      y.data.set(b.data.subarray(p * cb, p * cb + cb), p * (ca + cb) + ca);
    }
    return y;
  },
  packParams: () => [],
  struct: ConcatParams,
  uniforms(ctx) {
    const [a, b] = ctx.inputs;
    const y = ctx.output;
    return {
      pixels: pixelCount(y.shape),
      aC: a.shape[3],
      bC: b.shape[3],
      outQ: pad4(y.shape[3]) / 4,
      aStride: a.layout.pixelStride / 4,
      aOffset: a.layout.channelOffset / 4,
      bStride: b.layout.pixelStride / 4,
      bOffset: b.layout.channelOffset / 4,
      outStride: y.layout.pixelStride / 4,
      outOffset: y.layout.channelOffset / 4,
    };
  },
  variants: [
    {
      // Whole-quad copies: only when b's channels start on a quad boundary.
      name: "quads",
      kernel: "concat",
      applies: (ctx) => ctx.inputs[0].shape[3] % 4 === 0,
      overrides: () => ({ WG: 64, ALIGNED: 1 }),
      workgroups: (ctx) => workgroups1d(threads(ctx), 64),
    },
    {
      name: "lanes",
      kernel: "concat",
      overrides: () => ({ WG: 64, ALIGNED: 0 }),
      workgroups: (ctx) => workgroups1d(threads(ctx), 64),
    },
  ],
  cost(ctx) {
    const values = pixelCount(ctx.output.shape) * ctx.output.shape[3];
    return { flops: 0, bytes: 4 * 2 * values };
  },
};
