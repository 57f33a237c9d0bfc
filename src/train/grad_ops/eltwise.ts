// Backward rows of the elementwise ops and of the fused conv epilogue: activation' (from the
// pre-activation, or from the output for the epilogue a conv already applied), add, the
// residual + mask head, and `slice`, the gradient copy that splits a concat and carries a residual.

import type { Activation } from "../../runtime/activation.ts";
import type { ActivationAttrs, AddAttrs, ResidualMaskAttrs } from "../../runtime/ops/eltwise.ts";
import { type HostTensor, hostTensor, pad4 } from "../../runtime/tensor.ts";
import { activationId } from "../../runtime/activation.ts";
import { workgroups1d } from "../../runtime/ops/types.ts";
import { uniformStruct } from "../../runtime/uniforms.ts";
import {
  activationGrad,
  activationGradFromOutput,
  gradFromOutputExact,
} from "../activation_grad.ts";
import type { GradContext, GradOpDef } from "./types.ts";

/** dy, then up to two activations a and b (b: add's second summand), the output; vec4 units. */
export const EltGradParams = uniformStruct("EltGradParams", {
  pixels: "u32",
  quads: "u32",
  channels: "u32",
  dyStride: "u32",
  dyOffset: "u32",
  aStride: "u32",
  aOffset: "u32",
  bStride: "u32",
  bOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
  /** slice: first channel of dy copied (any lane, not only a quad boundary). */
  start: "u32",
  alpha: "f32",
});

export interface SliceAttrs {
  start: number;
  channels: number;
}

const pixelCount = (s: readonly number[]) => s[0] * s[1] * s[2];

function eltUniforms(ctx: GradContext<{ alpha?: number; start?: number }>) {
  const [dy, a = dy, b = a] = ctx.inputs;
  const y = ctx.output!;
  return {
    pixels: pixelCount(y.shape),
    quads: pad4(y.shape[3]) / 4,
    channels: y.shape[3],
    dyStride: dy.layout.pixelStride / 4,
    dyOffset: dy.layout.channelOffset / 4,
    aStride: a.layout.pixelStride / 4,
    aOffset: a.layout.channelOffset / 4,
    bStride: b.layout.pixelStride / 4,
    bOffset: b.layout.channelOffset / 4,
    outStride: y.layout.pixelStride / 4,
    outOffset: y.layout.channelOffset / 4,
    start: ctx.attrs.start ?? 0,
    alpha: ctx.attrs.alpha ?? 0.01,
  };
}

const quadThreads = (ctx: GradContext<unknown>) =>
  pixelCount(ctx.output!.shape) * pad4(ctx.output!.shape[3]) / 4;

function actGradVariant<A extends { act?: Activation }>(fromOutput: boolean, hasB: boolean) {
  return {
    name: "direct",
    kernel: "act_grad",
    overrides: (ctx: GradContext<A>) => ({
      WG: 64,
      ACT: activationId(ctx.attrs.act ?? "none"),
      FROM_OUTPUT: fromOutput ? 1 : 0,
      HAS_B: hasB ? 1 : 0,
      ACCUM: ctx.accumulate ? 1 : 0,
    }),
    workgroups: (ctx: GradContext<A>) => workgroups1d(quadThreads(ctx), 64),
  };
}

function mapGrad(dy: HostTensor, f: (i: number) => number): HostTensor {
  const out = hostTensor(dy.shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = dy.data[i] * f(i);
  return out;
}

/** Standalone activation: dx = dy · act'(x). */
export const activationGradOp: GradOpDef<ActivationAttrs> = {
  name: "activation.grad",
  gpuInputs: 3,
  readsParams: [],
  writes: "tensor",
  outputShape: ([dy]) => [...dy],
  reference: ([dy, x], _p, a) => mapGrad(dy, (i) => activationGrad(x.data[i], a.act, a.alpha)),
  struct: EltGradParams,
  uniforms: eltUniforms,
  variants: [actGradVariant(false, false)],
};

/**
 * The activation a conv applied in its epilogue, differentiated from that conv's output y (no
 * pre-activation is kept): dz = dy · act'(y). Only for activations where y determines act'.
 */
export const epilogueGradOp: GradOpDef<ActivationAttrs> = {
  name: "epilogue.grad",
  gpuInputs: 3,
  readsParams: [],
  writes: "tensor",
  outputShape([dy], a) {
    if (!gradFromOutputExact(a.act, a.alpha)) {
      throw new Error(`epilogue.grad: ${a.act}' is not a function of its output`);
    }
    return [...dy];
  },
  reference: ([dy, y], _p, a) =>
    mapGrad(dy, (i) => activationGradFromOutput(y.data[i], a.act, a.alpha)),
  struct: EltGradParams,
  uniforms: eltUniforms,
  variants: [actGradVariant(true, false)],
};

/** out = act(a + b): both summands receive dy · act'(a + b); this row writes one of them. */
export const addGradOp: GradOpDef<AddAttrs> = {
  name: "add.grad",
  gpuInputs: 3,
  readsParams: [],
  writes: "tensor",
  outputShape: ([dy]) => [...dy],
  reference: ([dy, a, b], _p, attrs) =>
    mapGrad(dy, (i) => activationGrad(a.data[i] + b.data[i], attrs.act ?? "none", attrs.alpha)),
  struct: EltGradParams,
  uniforms: eltUniforms,
  variants: [actGradVariant(false, true)],
};

/**
 * Channels [start, start + channels) of dy: a concat's gradient split into its parts (where the
 * planner did not alias them into slices), and a residual's pass-through gradient.
 */
export const sliceGradOp: GradOpDef<SliceAttrs> = {
  name: "slice",
  gpuInputs: 1,
  readsParams: [],
  writes: "tensor",
  outputShape([dy], a) {
    if (a.start < 0 || a.channels < 1 || a.start + a.channels > dy[3]) {
      throw new Error(`slice [${a.start}, +${a.channels}) is outside ${dy[3]} channels`);
    }
    return [dy[0], dy[1], dy[2], a.channels];
  },
  reference([dy], _p, a) {
    const c = dy.shape[3];
    const out = hostTensor([dy.shape[0], dy.shape[1], dy.shape[2], a.channels]);
    for (let p = 0; p < pixelCount(dy.shape); p++) {
      out.data.set(dy.data.subarray(p * c + a.start, p * c + a.start + a.channels), p * a.channels);
    }
    return out;
  },
  struct: EltGradParams,
  uniforms: eltUniforms,
  variants: [
    {
      name: "quads",
      kernel: "slice_grad",
      applies: (ctx) => ctx.attrs.start % 4 === 0,
      overrides: (ctx) => ({ WG: 64, ALIGNED: 1, ACCUM: ctx.accumulate ? 1 : 0 }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
    {
      name: "lanes",
      kernel: "slice_grad",
      overrides: (ctx) => ({ WG: 64, ALIGNED: 0, ACCUM: ctx.accumulate ? 1 : 0 }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
  ],
};

export const ResidualMaskGradParams = uniformStruct("ResidualMaskGradParams", {
  pixels: "u32",
  channels: "u32",
  hQuads: "u32",
  dyStride: "u32",
  dyOffset: "u32",
  hStride: "u32",
  hOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
  deltaScale: "f32",
});

/**
 * out = x + σ(m)·s·tanh(d) w.r.t. h = [d, m] (x's gradient is dy itself, a `slice`):
 * dd_c = dy_c·σ(m)·s·(1 − tanh²d_c), dm = Σ_c dy_c·s·tanh(d_c)·σ(m)(1 − σ(m)).
 */
export const residualMaskGradOp: GradOpDef<ResidualMaskAttrs> = {
  name: "residual_mask.grad_h",
  gpuInputs: 2,
  readsParams: [],
  writes: "tensor",
  outputShape: ([_dy, h]) => [...h],
  reference([dy, h], _p, attrs) {
    const c = dy.shape[3];
    const s = attrs.deltaScale ?? 2;
    const out = hostTensor(h.shape);
    for (let p = 0; p < pixelCount(dy.shape); p++) {
      const mask = 1 / (1 + Math.exp(-h.data[p * (c + 1) + c]));
      let dm = 0;
      for (let ch = 0; ch < c; ch++) {
        const t = Math.tanh(h.data[p * (c + 1) + ch]);
        const g = dy.data[p * c + ch];
        out.data[p * (c + 1) + ch] = g * mask * s * (1 - t * t);
        dm += g * s * t;
      }
      out.data[p * (c + 1) + c] = dm * mask * (1 - mask);
    }
    return out;
  },
  struct: ResidualMaskGradParams,
  uniforms(ctx) {
    const [dy, h] = ctx.inputs;
    const out = ctx.output!;
    return {
      pixels: pixelCount(dy.shape),
      channels: dy.shape[3],
      hQuads: pad4(h.shape[3]) / 4,
      dyStride: dy.layout.pixelStride / 4,
      dyOffset: dy.layout.channelOffset / 4,
      hStride: h.layout.pixelStride / 4,
      hOffset: h.layout.channelOffset / 4,
      outStride: out.layout.pixelStride / 4,
      outOffset: out.layout.channelOffset / 4,
      deltaScale: ctx.attrs.deltaScale ?? 2,
    };
  },
  variants: [
    {
      name: "direct",
      kernel: "residual_mask_grad",
      overrides: (ctx) => ({ WG: 64, ACCUM: ctx.accumulate ? 1 : 0 }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
  ],
};
