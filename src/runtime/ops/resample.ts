// Resampling ops: 2× spatial upsampling for the decoder, nearest or bilinear with PyTorch's
// align_corners=False semantics so a PyTorch-trained student imports without retraining.

import { type HostTensor, hostTensor, pad4, type Shape } from "../tensor.ts";
import { uniformStruct } from "../uniforms.ts";
import { type OpDef, type StepContext, workgroups1d } from "./types.ts";

export type UpsampleMode = "nearest" | "bilinear";

export interface UpsampleAttrs {
  mode: UpsampleMode;
}

const MODES: readonly UpsampleMode[] = ["nearest", "bilinear"];

/** Output is [batch, 2·inH, 2·inW, C]; `quads` counts vec4s of channels. */
export const UpsampleParams = uniformStruct("UpsampleParams", {
  batch: "u32",
  inH: "u32",
  inW: "u32",
  quads: "u32",
  inStride: "u32",
  inOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
});

/**
 * PyTorch's source index for align_corners=False at scale 2: (dst + 0.5)/2 − 0.5, clamped at 0;
 * returns the two taps and the second one's weight.
 */
function bilinearTaps(dst: number, size: number): [number, number, number] {
  const s = Math.max((dst + 0.5) / 2 - 0.5, 0);
  const i0 = Math.floor(s);
  return [i0, Math.min(i0 + 1, size - 1), s - i0];
}

function upsampleReference(x: HostTensor, mode: UpsampleMode): HostTensor {
  const [n, h, w, c] = x.shape;
  const oh = 2 * h, ow = 2 * w;
  const y = hostTensor([n, oh, ow, c]);
  const at = (b: number, iy: number, ix: number) => ((b * h + iy) * w + ix) * c;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const [y0, y1, ly] = bilinearTaps(oy, h);
      for (let ox = 0; ox < ow; ox++) {
        const out = ((b * oh + oy) * ow + ox) * c;
        if (mode === "nearest") {
          y.data.set(x.data.subarray(at(b, oy >> 1, ox >> 1), at(b, oy >> 1, ox >> 1) + c), out);
          continue;
        }
        const [x0, x1, lx] = bilinearTaps(ox, w);
        const p00 = at(b, y0, x0), p01 = at(b, y0, x1), p10 = at(b, y1, x0), p11 = at(b, y1, x1);
        for (let ch = 0; ch < c; ch++) {
          const top = x.data[p00 + ch] * (1 - lx) + x.data[p01 + ch] * lx;
          const bottom = x.data[p10 + ch] * (1 - lx) + x.data[p11 + ch] * lx;
          y.data[out + ch] = top * (1 - ly) + bottom * ly;
        }
      }
    }
  }
  return y;
}

export const upsample2x: OpDef<UpsampleAttrs> = {
  name: "upsample2x",
  gpuInputs: 1,
  outputShape([x], a) {
    if (!MODES.includes(a.mode)) {
      throw new Error(`upsample2x mode must be one of ${MODES.join(", ")}, got ${a.mode}`);
    }
    return [x[0], 2 * x[1], 2 * x[2], x[3]] as Shape;
  },
  params: () => ({}),
  reference: ([x], _params, a) => upsampleReference(x, a.mode),
  packParams: () => [],
  struct: UpsampleParams,
  uniforms(ctx: StepContext<UpsampleAttrs>) {
    const [x] = ctx.inputs;
    const y = ctx.output;
    return {
      batch: x.shape[0],
      inH: x.shape[1],
      inW: x.shape[2],
      quads: pad4(x.shape[3]) / 4,
      inStride: x.layout.pixelStride / 4,
      inOffset: x.layout.channelOffset / 4,
      outStride: y.layout.pixelStride / 4,
      outOffset: y.layout.channelOffset / 4,
    };
  },
  variants: [
    {
      // One input pixel × quad per invocation, writing its 2×2 output block: 9 loads per 4
      // outputs for bilinear instead of 16, and the index arithmetic once per block.
      name: "block2x2",
      kernel: "upsample2x_block",
      overrides: (ctx) => ({ WG: 64, MODE: MODES.indexOf(ctx.attrs.mode) }),
      workgroups: (ctx) => {
        const [n, h, w, c] = ctx.inputs[0].shape;
        return workgroups1d(n * h * w * pad4(c) / 4, 64);
      },
    },
    {
      name: "direct",
      kernel: "upsample2x",
      overrides: (ctx) => ({ WG: 64, MODE: MODES.indexOf(ctx.attrs.mode) }),
      workgroups: (ctx) => {
        const [n, h, w, c] = ctx.output.shape;
        return workgroups1d(n * h * w * pad4(c) / 4, 64);
      },
    },
  ],
  cost(ctx) {
    const [n, h, w, c] = ctx.output.shape;
    const out = n * h * w * c;
    // Bilinear: 3 lerps of 2 multiply-adds each per output value; reads are mostly cache hits.
    return {
      flops: ctx.attrs.mode === "bilinear" ? 6 * out : 0,
      bytes: 4 * (out + out / 4),
    };
  },
};
