// Backward rows of the convolutions (dense k×k any stride/padding, and depthwise): the gradient
// w.r.t. the input (a transposed convolution of dz with the packed forward weights), w.r.t. the
// weights and w.r.t. the bias (reductions over batch × pixels, as partial sums over chunks of
// output rows plus a second pass: WGSL has no float atomics). dz is the gradient at the
// pre-activation; the epilogue's own backward (act', residual) is in eltwise.ts.

import { type Activation, activationId } from "../../runtime/activation.ts";
import { type ConvAttrs, type DepthwiseAttrs, forEachTap } from "../../runtime/ops/conv.ts";
import { activationGradFromOutput } from "../activation_grad.ts";
import type { Param } from "../../runtime/ops/types.ts";
import { type HostTensor, hostTensor, pad4, type Shape } from "../../runtime/tensor.ts";
import { workgroups1d } from "../../runtime/ops/types.ts";
import { uniformStruct } from "../../runtime/uniforms.ts";
import type { GradContext, GradOpDef, GradVariant } from "./types.ts";

/**
 * Grad-input rows also need the forward input's shape (a stride-2 conv loses odd sizes), and may
 * compute only the first `dxChannels` (a multiple of 4): a concat part that needs no gradient.
 */
export type ConvGradInputAttrs = ConvAttrs & { inShape: Shape; dxChannels?: number } & Epilogue;
export type DepthwiseGradInputAttrs = DepthwiseAttrs & { inShape: Shape } & Epilogue;

/**
 * A grad-input row may finish the previous layer's backward too: when its input x is the output
 * of an activation (a fused epilogue) that nothing else differentiates into, dx is multiplied by
 * act'(x) from x itself (the row's second input), and the separate epilogue.grad pass disappears.
 */
export interface Epilogue {
  dyAct?: Activation;
  dyAlpha?: number;
}
type Window = { k: number; stride: number; pad: number };

/**
 * One struct for every convolution backward kernel. "in" is the forward input side (x, or dx for
 * grad-input), "out" the forward output side (dz); Q counts vec4 quads; splits/rowsPerSplit cut
 * the batch × outH output rows of a weight reduction into partial sums.
 */
export const ConvGradParams = uniformStruct("ConvGradParams", {
  batch: "u32",
  inH: "u32",
  inW: "u32",
  inQ: "u32",
  outH: "u32",
  outW: "u32",
  outQ: "u32",
  cin: "u32",
  cout: "u32",
  xStride: "u32",
  xOffset: "u32",
  dzStride: "u32",
  dzOffset: "u32",
  pad: "u32",
  splits: "u32",
  rowsPerSplit: "u32",
  /** Grad-input: quads of dx to compute; the rest are written as 0. */
  dxQ: "u32",
  /** Grad-input epilogue: the activation output read for act', and its leaky slope. */
  actStride: "u32",
  actOffset: "u32",
  alpha: "f32",
});

const quads = (c: number) => pad4(c) / 4;

function gradUniforms(ctx: GradContext<Window & Epilogue>) {
  // Grad-input rows: inputs [dz, act?] and the output dx; the others: [x, dz] or [dz].
  const x = ctx.output ?? ctx.inputs[0];
  const dz = ctx.output ? ctx.inputs[0] : ctx.inputs[ctx.inputs.length - 1];
  const act = ctx.output ? ctx.inputs[1] : undefined;
  const rows = dz.shape[0] * dz.shape[1];
  return {
    batch: dz.shape[0],
    inH: x.shape[1],
    inW: x.shape[2],
    inQ: quads(x.shape[3]),
    outH: dz.shape[1],
    outW: dz.shape[2],
    outQ: quads(dz.shape[3]),
    cin: x.shape[3],
    cout: dz.shape[3],
    xStride: x.layout.pixelStride / 4,
    xOffset: x.layout.channelOffset / 4,
    dzStride: dz.layout.pixelStride / 4,
    dzOffset: dz.layout.channelOffset / 4,
    pad: ctx.attrs.pad,
    splits: ctx.splits,
    rowsPerSplit: Math.ceil(rows / ctx.splits),
    dxQ: quads((ctx.attrs as { dxChannels?: number }).dxChannels ?? x.shape[3]),
    actStride: act ? act.layout.pixelStride / 4 : 0,
    actOffset: act ? act.layout.channelOffset / 4 : 0,
    alpha: ctx.attrs.dyAlpha ?? 0.01,
  };
}

/** As the forward kernels: 64 lanes, fewer when that would leave under 4 workgroups. */
const groupSize = (threads: number) => threads >= 4 * 64 ? 64 : threads >= 4 * 32 ? 32 : 16;

/**
 * Partial sums for a reduction with `blocks` independent outputs: enough to give the adapter
 * `target` invocations, never more than one per output row.
 */
function splitsFor(blocks: number, rows: number, target: number): number {
  return Math.max(1, Math.min(rows, Math.ceil(target / blocks)));
}

const dzRows = (ctx: GradContext<Window>) => {
  const dz = ctx.inputs[ctx.inputs.length - 1];
  return dz.shape[0] * dz.shape[1];
};

const accum = (ctx: GradContext<unknown>) => (ctx.accumulate && ctx.splits === 1 ? 1 : 0);

/** Override constants of a grad-input kernel's act' epilogue. */
const epilogue = (ctx: GradContext<Epilogue>) => ({
  EPILOGUE: ctx.attrs.dyAct ? 1 : 0,
  ACT: activationId(ctx.attrs.dyAct ?? "none"),
});

/** The reference's side of the epilogue: dx · act'(x) from the activation output x. */
function applyEpilogue(dx: HostTensor, act: HostTensor | undefined, a: Epilogue): HostTensor {
  if (!a.dyAct) return dx;
  if (!act) throw new Error(`a grad-input with a ${a.dyAct} epilogue needs the activation`);
  for (let i = 0; i < dx.data.length; i++) {
    dx.data[i] *= activationGradFromOutput(act.data[i], a.dyAct, a.dyAlpha);
  }
  return dx;
}

// ---- references -------------------------------------------------------------------------------

function convGradInputRef(
  dz: { shape: Shape; data: Float32Array },
  weight: Param,
  a: Window,
  inShape: Shape,
  depthwise: boolean,
) {
  const [n, h, w, cin] = inShape;
  const cout = dz.shape[3], k = a.k;
  const acc = new Float64Array(n * h * w * cin);
  forEachTap(inShape, dz.shape, a, (o, i, ky, kx) => {
    const g = o * cout, at = i * cin;
    if (depthwise) {
      for (let c = 0; c < cin; c++) {
        acc[at + c] += dz.data[g + c] * weight.data[(c * k + ky) * k + kx];
      }
      return;
    }
    for (let co = 0; co < cout; co++) {
      const d = dz.data[g + co];
      for (let ci = 0; ci < cin; ci++) {
        acc[at + ci] += d * weight.data[((co * cin + ci) * k + ky) * k + kx];
      }
    }
  });
  return hostTensor(inShape, Float32Array.from(acc));
}

function convGradWeightRef(
  x: { shape: Shape; data: Float32Array },
  dz: { shape: Shape; data: Float32Array },
  a: Window,
  depthwise: boolean,
): Param {
  const cin = x.shape[3], cout = dz.shape[3], k = a.k;
  const shape = depthwise ? [cout, 1, k, k] : [cout, cin, k, k];
  const acc = new Float64Array(shape.reduce((p, q) => p * q, 1));
  forEachTap(x.shape, dz.shape, a, (o, i, ky, kx) => {
    const g = o * cout, at = i * cin;
    for (let co = 0; co < cout; co++) {
      const d = dz.data[g + co];
      if (depthwise) {
        acc[(co * k + ky) * k + kx] += d * x.data[at + co];
        continue;
      }
      for (let ci = 0; ci < cin; ci++) {
        acc[((co * cin + ci) * k + ky) * k + kx] += d * x.data[at + ci];
      }
    }
  });
  return { shape, data: Float32Array.from(acc) };
}

// ---- rows -------------------------------------------------------------------------------------

/**
 * Register-tiled 1×1 grad-input GEMM (pointwise_grad_input.wgsl): dx = dz · Wᵀ for TP pixels × TQ
 * input quads per invocation, reading the forward packing as-is.
 */
function pointwiseGradInput(tp: number, tq: number): GradVariant<ConvGradInputAttrs> {
  const tiles = (ctx: GradContext<ConvGradInputAttrs>) => {
    const [n, h, w, c] = ctx.attrs.inShape;
    const q = Math.min(tq, quads(c));
    return { q, threads: Math.ceil((n * h * w) / tp) * Math.ceil(quads(c) / q) };
  };
  return {
    name: `pw_reg_${tp}x${tq}`,
    kernel: "pointwise_grad_input",
    applies: ({ attrs: a }) => a.k === 1 && a.stride === 1 && a.pad === 0,
    overrides: (ctx) => {
      const { q, threads } = tiles(ctx);
      return { WG: groupSize(threads), TP: tp, TQ: q, ACCUM: accum(ctx), ...epilogue(ctx) };
    },
    workgroups: (ctx) => {
      const { threads } = tiles(ctx);
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/**
 * Gathered grad-input (conv2d_grad_input / depthwise_grad_input.wgsl), one invocation per input
 * pixel × quad; `pixelFastest` orders invocations pixel-major (weight loads shared by a SIMD
 * vector on CPU adapters) rather than quad-major (coalesced on GPUs).
 */
const directGradInput = (
  kernel: string,
  pixelFastest: boolean,
): GradVariant<ConvGradInputAttrs | DepthwiseGradInputAttrs> => ({
  name: pixelFastest ? "direct_px" : "direct",
  kernel,
  overrides: (ctx) => ({
    WG: 64,
    K: ctx.attrs.k,
    STRIDE: ctx.attrs.stride,
    ACCUM: accum(ctx),
    PIXEL_FASTEST: pixelFastest ? 1 : 0,
    ...epilogue(ctx),
  }),
  workgroups: (ctx) => {
    const [n, h, w, c] = ctx.attrs.inShape;
    return workgroups1d(n * h * w * quads(c), 64);
  },
});

/**
 * Register-blocked 3×3 stride-1 grad-input (conv2d_grad_input_reg.wgsl): TX input pixels along x ×
 * one input quad; dz columns and weight blocks loaded once per tap row.
 */
function convGradInputReg(tx: number): GradVariant<ConvGradInputAttrs> {
  const threads = (ctx: GradContext<ConvGradInputAttrs>) => {
    const [n, h, w, c] = ctx.attrs.inShape;
    return n * h * Math.ceil(w / tx) * quads(c);
  };
  return {
    name: `reg_${tx}px`,
    kernel: "conv2d_grad_input_reg",
    applies: ({ attrs: a }) => a.k === 3 && a.stride === 1,
    overrides: (ctx) => ({
      WG: groupSize(threads(ctx)),
      TX: tx,
      ACCUM: accum(ctx),
      ...epilogue(ctx),
    }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

export const conv2dGradInput: GradOpDef<ConvGradInputAttrs> = {
  name: "conv2d.grad_input",
  gpuInputs: 2,
  readsParams: [0],
  writes: "tensor",
  outputShape: (_inputs, a) => [...a.inShape],
  reference([dz, act], [weight], a) {
    const dx = convGradInputRef(dz, weight, a, a.inShape, false);
    const c = a.inShape[3], keep = a.dxChannels ?? c;
    for (let i = 0; i < dx.data.length; i++) if (i % c >= keep) dx.data[i] = 0;
    return applyEpilogue(dx, act, a);
  },
  struct: ConvGradParams,
  uniforms: gradUniforms,
  variants: [
    pointwiseGradInput(8, 2),
    pointwiseGradInput(4, 1),
    convGradInputReg(8),
    convGradInputReg(4),
    directGradInput("conv2d_grad_input", true) as GradVariant<ConvGradInputAttrs>,
    directGradInput("conv2d_grad_input", false) as GradVariant<ConvGradInputAttrs>,
  ],
};

/**
 * Weight gradient (conv2d_grad_weight.wgsl): one invocation per packed 4×4 block (input quad ×
 * TO output quads, one tap) and chunk of output rows. `target` is how many invocations to aim for
 * (a software adapter wants a few per core; a GPU wants thousands).
 */
function convGradWeight(to: number, target: number, splitFastest = false): GradVariant<ConvAttrs> {
  const blocks = (ctx: GradContext<ConvAttrs>) => {
    const [x, dz] = ctx.inputs;
    const o = Math.min(to, quads(dz.shape[3]));
    return { o, count: ctx.attrs.k ** 2 * quads(x.shape[3]) * Math.ceil(quads(dz.shape[3]) / o) };
  };
  return {
    name: `split${target}_${to}q${splitFastest ? "_sf" : ""}`,
    kernel: "conv2d_grad_weight",
    splits: (ctx) => splitsFor(blocks(ctx).count, dzRows(ctx), target),
    overrides: (ctx) => {
      const { o, count } = blocks(ctx);
      return {
        WG: groupSize(count * ctx.splits),
        K: ctx.attrs.k,
        STRIDE: ctx.attrs.stride,
        TO: o,
        ACCUM: accum(ctx),
        SPLIT_FASTEST: splitFastest ? 1 : 0,
      };
    },
    workgroups: (ctx) => {
      const threads = blocks(ctx).count * ctx.splits;
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/**
 * Register-tiled pointwise weight gradient (pointwise_grad_weight.wgsl): TI input × TO output
 * quads per invocation over a chunk of pixels.
 */
function pointwiseGradWeight(ti: number, to: number, target: number): GradVariant<ConvAttrs> {
  const blocks = (ctx: GradContext<ConvAttrs>) => {
    const [x, dz] = ctx.inputs;
    const i = Math.min(ti, quads(x.shape[3])), o = Math.min(to, quads(dz.shape[3]));
    const count = Math.ceil(quads(x.shape[3]) / i) * Math.ceil(quads(dz.shape[3]) / o);
    return { i, o, count };
  };
  return {
    name: `pw_reg_${ti}x${to}_split${target}`,
    kernel: "pointwise_grad_weight",
    applies: ({ attrs: a }) => a.k === 1 && a.stride === 1 && a.pad === 0,
    splits: (ctx) => splitsFor(blocks(ctx).count, dzRows(ctx), target),
    overrides: (ctx) => {
      const { i, o, count } = blocks(ctx);
      return { WG: groupSize(count * ctx.splits), TI: i, TO: o, ACCUM: accum(ctx) };
    },
    workgroups: (ctx) => {
      const threads = blocks(ctx).count * ctx.splits;
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/**
 * Register-blocked 3×3 weight gradient (conv2d_grad_weight_reg.wgsl): one tap row × input quad ×
 * output quad per invocation, sliding a 3-column window along the input rows.
 */
function convGradWeightReg(target: number): GradVariant<ConvAttrs> {
  return splitWeightGradReg("conv2d_grad_weight_reg", target, (ctx) => {
    const [x, dz] = ctx.inputs;
    return 3 * quads(x.shape[3]) * quads(dz.shape[3]);
  });
}

/**
 * A 3×3 weight-gradient kernel whose `blocks` independent accumulators each sum a share of the dz
 * rows (`splits` per block, reduced afterwards): the row split is sized so blocks × splits fills the
 * adapter, which is what the convolution and depthwise kernels have in common.
 */
function splitWeightGradReg<A extends ConvAttrs | DepthwiseAttrs>(
  kernel: string,
  target: number,
  blocks: (ctx: GradContext<A>) => number,
): GradVariant<A> {
  return {
    name: `reg_split${target}`,
    kernel,
    applies: ({ attrs: a }) => a.k === 3 && (a.stride === 1 || a.stride === 2),
    splits: (ctx) => splitsFor(blocks(ctx), dzRows(ctx), target),
    overrides: (ctx) => ({
      WG: groupSize(blocks(ctx) * ctx.splits),
      STRIDE: ctx.attrs.stride,
      ACCUM: accum(ctx),
    }),
    workgroups: (ctx) => {
      const threads = blocks(ctx) * ctx.splits;
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

export const conv2dGradWeight: GradOpDef<ConvAttrs> = {
  name: "conv2d.grad_weight",
  gpuInputs: 2,
  readsParams: [],
  writes: "param",
  outputShape: ([x], a) => [a.cout, x[3], a.k, a.k],
  reference: ([x, dz], _params, a) => convGradWeightRef(x, dz, a, false),
  struct: ConvGradParams,
  uniforms: gradUniforms,
  variants: [
    // Measured on llvmpipe (student decoder/encoder 1×1 layers, 128², batch 4): the 2×4 tile with
    // few chunks runs 1.3-1.8× faster than the per-block kernel; 2×2 is for smaller register files.
    pointwiseGradWeight(2, 4, 64),
    pointwiseGradWeight(2, 2, 64),
    pointwiseGradWeight(2, 2, 256),
    convGradWeightReg(128),
    convGradWeightReg(512),
    convGradWeight(2, 256),
    convGradWeight(2, 256, true),
    convGradWeight(1, 256),
    convGradWeight(2, 8192),
  ],
};

/** Bias gradient of either convolution: the sum of dz over batch × pixels, per channel. */
function biasGrad(target: number): GradVariant<Window> {
  const blocks = (ctx: GradContext<Window>) => quads(ctx.inputs[0].shape[3]);
  return {
    name: `split${target}`,
    kernel: "bias_grad",
    splits: (ctx) => splitsFor(blocks(ctx), dzRows(ctx), target),
    overrides: (ctx) => ({ WG: groupSize(blocks(ctx) * ctx.splits), ACCUM: accum(ctx) }),
    workgroups: (ctx) => {
      const threads = blocks(ctx) * ctx.splits;
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

export const convGradBias: GradOpDef<Window> = {
  name: "conv.grad_bias",
  gpuInputs: 1,
  readsParams: [],
  writes: "param",
  outputShape: ([dz]) => [dz[3]],
  reference([dz]) {
    const c = dz.shape[3];
    const acc = new Float64Array(c);
    for (let i = 0; i < dz.data.length; i++) acc[i % c] += dz.data[i];
    return { shape: [c], data: Float32Array.from(acc) };
  },
  struct: ConvGradParams,
  uniforms: gradUniforms,
  variants: [biasGrad(256), biasGrad(8192)],
};

/**
 * Register-blocked 3×3 grad-input (depthwise_grad_input_reg.wgsl), stride 1 or stride 2 with pad
 * 1: TX input pixels along x × one quad, each dz column and weight loaded once per tap row.
 */
function depthwiseGradInputReg(tx: number): GradVariant<DepthwiseGradInputAttrs> {
  const threads = (ctx: GradContext<DepthwiseGradInputAttrs>) => {
    const [n, h, w, c] = ctx.attrs.inShape;
    return n * h * Math.ceil(w / tx) * quads(c);
  };
  return {
    name: `reg_${tx}px`,
    kernel: "depthwise_grad_input_reg",
    // Stride 2 only with pad 1 (even and odd columns then read 1 and 2 taps).
    applies: ({ attrs: a }) => a.k === 3 && (a.stride === 1 || (a.stride === 2 && a.pad === 1)),
    overrides: (ctx) => ({
      WG: groupSize(threads(ctx)),
      TX: tx,
      STRIDE: ctx.attrs.stride,
      ACCUM: accum(ctx),
      ...epilogue(ctx),
    }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

export const depthwiseGradInput: GradOpDef<DepthwiseGradInputAttrs> = {
  name: "depthwise_conv2d.grad_input",
  gpuInputs: 2,
  readsParams: [0],
  writes: "tensor",
  outputShape: (_inputs, a) => [...a.inShape],
  reference: ([dz, act], [weight], a) =>
    applyEpilogue(convGradInputRef(dz, weight, a, a.inShape, true), act, a),
  struct: ConvGradParams,
  uniforms: gradUniforms,
  variants: [
    depthwiseGradInputReg(8),
    depthwiseGradInputReg(4),
    directGradInput("depthwise_grad_input", true) as GradVariant<DepthwiseGradInputAttrs>,
    directGradInput("depthwise_grad_input", false) as GradVariant<DepthwiseGradInputAttrs>,
  ],
};

function depthwiseGradWeightVariant(
  target: number,
  splitFastest = false,
): GradVariant<DepthwiseAttrs> {
  const blocks = (ctx: GradContext<DepthwiseAttrs>) =>
    ctx.attrs.k ** 2 * quads(ctx.inputs[1].shape[3]);
  return {
    name: `split${target}${splitFastest ? "_sf" : ""}`,
    kernel: "depthwise_grad_weight",
    splits: (ctx) => splitsFor(blocks(ctx), dzRows(ctx), target),
    overrides: (ctx) => ({
      WG: groupSize(blocks(ctx) * ctx.splits),
      K: ctx.attrs.k,
      STRIDE: ctx.attrs.stride,
      ACCUM: accum(ctx),
      SPLIT_FASTEST: splitFastest ? 1 : 0,
    }),
    workgroups: (ctx) => {
      const threads = blocks(ctx) * ctx.splits;
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/**
 * Register-blocked 3×3 weight gradient (depthwise_grad_weight_reg.wgsl): one quad, all 9 taps and a
 * chunk of rows per invocation, sliding a 3-column window along each input row.
 */
function depthwiseGradWeightReg(target: number): GradVariant<DepthwiseAttrs> {
  return splitWeightGradReg(
    "depthwise_grad_weight_reg",
    target,
    (ctx) => quads(ctx.inputs[1].shape[3]),
  );
}

export const depthwiseGradWeight: GradOpDef<DepthwiseAttrs> = {
  name: "depthwise_conv2d.grad_weight",
  gpuInputs: 2,
  readsParams: [],
  writes: "param",
  outputShape: ([x], a) => [x[3], 1, a.k, a.k],
  reference: ([x, dz], _params, a) => convGradWeightRef(x, dz, a, true),
  struct: ConvGradParams,
  uniforms: gradUniforms,
  variants: [
    // Measured on llvmpipe (student 3×3 layers, 128², batch 4): 2-6× the per-tap kernel.
    depthwiseGradWeightReg(128),
    depthwiseGradWeightReg(512),
    depthwiseGradWeightVariant(2048),
    depthwiseGradWeightVariant(256),
    depthwiseGradWeightVariant(256, true),
  ],
};
