// Backward of 2× upsampling: each input pixel gathers the output gradients of the taps that read
// it, with the forward's weights (nearest: 4 outputs; bilinear align_corners=False: up to 4 rows ×
// 4 columns). The reference scatters instead, so the two are written independently.

import type { UpsampleAttrs } from "../../runtime/ops/resample.ts";
import { hostTensor, pad4, type Shape } from "../../runtime/tensor.ts";
import { workgroups1d } from "../../runtime/ops/types.ts";
import { uniformStruct } from "../../runtime/uniforms.ts";
import type { GradOpDef } from "./types.ts";

export type UpsampleGradAttrs = UpsampleAttrs & { inShape: Shape };

/** "in" is the forward input side (dx, written), "out" the forward output side (dy, read). */
export const UpsampleGradParams = uniformStruct("UpsampleGradParams", {
  batch: "u32",
  inH: "u32",
  inW: "u32",
  quads: "u32",
  dxStride: "u32",
  dxOffset: "u32",
  dyStride: "u32",
  dyOffset: "u32",
});

/** PyTorch's align_corners=False source taps at scale 2, as in the forward reference. */
function taps(dst: number, size: number): [number, number, number] {
  const s = Math.max((dst + 0.5) / 2 - 0.5, 0);
  const i0 = Math.floor(s);
  return [i0, Math.min(i0 + 1, size - 1), s - i0];
}

export const upsampleGradOp: GradOpDef<UpsampleGradAttrs> = {
  name: "upsample2x.grad",
  gpuInputs: 1,
  readsParams: [],
  writes: "tensor",
  outputShape([dy], a) {
    const [n, h, w, c] = a.inShape;
    if (dy[0] !== n || dy[1] !== 2 * h || dy[2] !== 2 * w || dy[3] !== c) {
      throw new Error(`upsample2x.grad: dy [${dy}] is not 2× [${a.inShape}]`);
    }
    return [...a.inShape];
  },
  reference([dy], _p, a) {
    const [n, h, w, c] = a.inShape;
    const oh = 2 * h, ow = 2 * w;
    const acc = new Float64Array(n * h * w * c);
    const at = (b: number, iy: number, ix: number) => ((b * h + iy) * w + ix) * c;
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        const [y0, y1, ly] = taps(oy, h);
        for (let ox = 0; ox < ow; ox++) {
          const g = ((b * oh + oy) * ow + ox) * c;
          if (a.mode === "nearest") {
            const to = at(b, oy >> 1, ox >> 1);
            for (let ch = 0; ch < c; ch++) acc[to + ch] += dy.data[g + ch];
            continue;
          }
          const [x0, x1, lx] = taps(ox, w);
          const spread: [number, number][] = [
            [at(b, y0, x0), (1 - ly) * (1 - lx)],
            [at(b, y0, x1), (1 - ly) * lx],
            [at(b, y1, x0), ly * (1 - lx)],
            [at(b, y1, x1), ly * lx],
          ];
          for (const [to, weight] of spread) {
            for (let ch = 0; ch < c; ch++) acc[to + ch] += weight * dy.data[g + ch];
          }
        }
      }
    }
    return hostTensor(a.inShape, Float32Array.from(acc));
  },
  struct: UpsampleGradParams,
  uniforms(ctx) {
    const [dy] = ctx.inputs;
    const dx = ctx.output!;
    return {
      batch: dx.shape[0],
      inH: dx.shape[1],
      inW: dx.shape[2],
      quads: pad4(dx.shape[3]) / 4,
      dxStride: dx.layout.pixelStride / 4,
      dxOffset: dx.layout.channelOffset / 4,
      dyStride: dy.layout.pixelStride / 4,
      dyOffset: dy.layout.channelOffset / 4,
    };
  },
  variants: [
    {
      name: "direct",
      kernel: "upsample2x_grad",
      overrides: (ctx) => ({
        WG: 64,
        MODE: ctx.attrs.mode === "nearest" ? 0 : 1,
        ACCUM: ctx.accumulate ? 1 : 0,
      }),
      workgroups: (ctx) => {
        const [n, h, w, c] = ctx.output!.shape;
        return workgroups1d(n * h * w * pad4(c) / 4, 64);
      },
    },
  ],
};
