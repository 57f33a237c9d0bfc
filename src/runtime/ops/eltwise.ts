// Elementwise ops: add (with an optional fused activation), a standalone activation, and the
// student's residual + mask output head. The first two are the un-fused primitives the graph IR
// emits; the planner folds most of them into convolution epilogues.

import { activate, type Activation, activationId, ACTIVATIONS } from "../activation.ts";
import { type HostTensor, hostTensor, pad4, type Shape } from "../tensor.ts";
import { uniformStruct } from "../uniforms.ts";
import { type OpDef, type StepContext, workgroups1d } from "./types.ts";

export interface AddAttrs {
  /** Applied after the sum; default "none". */
  act?: Activation;
  /** Leaky-ReLU slope. */
  alpha?: number;
}

export interface ActivationAttrs {
  act: Activation;
  /** Leaky-ReLU slope. */
  alpha?: number;
}

export interface ResidualMaskAttrs {
  /**
   * Largest step tanh can move a value (default 2): images are normalised to [−1, 1], so 2 lets an
   * edit go from white to black where the mask is 1.
   */
  deltaScale?: number;
}

/** Inputs a (and b for add) and the output, strides/offsets in vec4s; b's unused by activation. */
export const EltwiseParams = uniformStruct("EltwiseParams", {
  pixels: "u32",
  quads: "u32",
  aStride: "u32",
  aOffset: "u32",
  bStride: "u32",
  bOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
  alpha: "f32",
});

/** `channels` is C, the output's channel count; h holds C delta logits then the mask logit. */
export const ResidualMaskParams = uniformStruct("ResidualMaskParams", {
  pixels: "u32",
  channels: "u32",
  quads: "u32",
  xStride: "u32",
  xOffset: "u32",
  hStride: "u32",
  hOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
  deltaScale: "f32",
});

const pixelCount = (s: Shape) => s[0] * s[1] * s[2];
const sameShape = (a: Shape, b: Shape) => a.join() === b.join();
/** One invocation per output pixel × quad. */
const quadThreads = (ctx: StepContext<unknown>) =>
  pixelCount(ctx.output.shape) * pad4(ctx.output.shape[3]) / 4;

function checkActivation(op: string, act: Activation) {
  if (!ACTIVATIONS.includes(act)) {
    throw new Error(`${op}: unknown activation "${act}" (one of ${ACTIVATIONS.join(", ")})`);
  }
}

/** Uniforms of add and activation: b's fields repeat a's when there is no b. */
function eltwiseUniforms(ctx: StepContext<{ alpha?: number }>) {
  const [a, b = a] = ctx.inputs;
  const y = ctx.output;
  return {
    pixels: pixelCount(y.shape),
    quads: pad4(y.shape[3]) / 4,
    aStride: a.layout.pixelStride / 4,
    aOffset: a.layout.channelOffset / 4,
    bStride: b.layout.pixelStride / 4,
    bOffset: b.layout.channelOffset / 4,
    outStride: y.layout.pixelStride / 4,
    outOffset: y.layout.channelOffset / 4,
    alpha: ctx.attrs.alpha ?? 0.01,
  };
}

function map(x: HostTensor, f: (v: number, i: number) => number): HostTensor {
  const y = hostTensor(x.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = f(x.data[i], i);
  return y;
}

export const add: OpDef<AddAttrs> = {
  name: "add",
  gpuInputs: 2,
  outputShape([a, b], attrs) {
    if (!b || !sameShape(a, b)) {
      throw new Error(`add needs two equal shapes, got [${a}] and [${b}]`);
    }
    checkActivation("add", attrs.act ?? "none");
    return a;
  },
  params: () => ({}),
  reference: ([a, b], _params, attrs) =>
    map(a, (v, i) => activate(v + b.data[i], attrs.act ?? "none", attrs.alpha)),
  packParams: () => [],
  struct: EltwiseParams,
  uniforms: eltwiseUniforms,
  variants: [
    {
      name: "direct",
      kernel: "add",
      overrides: (ctx) => ({ WG: 64, ACT: activationId(ctx.attrs.act ?? "none") }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
  ],
  cost(ctx) {
    const values = pixelCount(ctx.output.shape) * ctx.output.shape[3];
    return { flops: values, bytes: 4 * 3 * values };
  },
};

export const activation: OpDef<ActivationAttrs> = {
  name: "activation",
  gpuInputs: 1,
  outputShape([x], attrs) {
    checkActivation("activation", attrs.act);
    return x;
  },
  params: () => ({}),
  reference: ([x], _params, attrs) => map(x, (v) => activate(v, attrs.act, attrs.alpha)),
  packParams: () => [],
  struct: EltwiseParams,
  uniforms: eltwiseUniforms,
  variants: [
    {
      name: "direct",
      kernel: "activation",
      overrides: (ctx) => ({ WG: 64, ACT: activationId(ctx.attrs.act) }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
  ],
  cost(ctx) {
    const values = pixelCount(ctx.output.shape) * ctx.output.shape[3];
    return { flops: values, bytes: 4 * 2 * values };
  },
};

export const residualMask: OpDef<ResidualMaskAttrs> = {
  name: "residual_mask",
  gpuInputs: 2,
  outputShape([x, h], attrs) {
    if (!h || h[0] !== x[0] || h[1] !== x[1] || h[2] !== x[2] || h[3] !== x[3] + 1) {
      const want = `${x[3] + 1} channels (delta logits, then the mask logit)`;
      throw new Error(`residual_mask over x [${x}] needs h with ${want}, got [${h}]`);
    }
    if (!((attrs.deltaScale ?? 2) > 0)) {
      throw new Error(`residual_mask deltaScale ${attrs.deltaScale} is not positive`);
    }
    return x;
  },
  params: () => ({}),
  reference([x, h], _params, attrs) {
    const c = x.shape[3];
    const scale = attrs.deltaScale ?? 2;
    const y = hostTensor(x.shape);
    for (let p = 0; p < pixelCount(x.shape); p++) {
      const mask = 1 / (1 + Math.exp(-h.data[p * (c + 1) + c]));
      for (let ch = 0; ch < c; ch++) {
        const delta = Math.tanh(h.data[p * (c + 1) + ch]);
        y.data[p * c + ch] = x.data[p * c + ch] + mask * scale * delta;
      }
    }
    return y;
  },
  packParams: () => [],
  struct: ResidualMaskParams,
  uniforms(ctx) {
    const [x, h] = ctx.inputs;
    const y = ctx.output;
    return {
      pixels: pixelCount(y.shape),
      channels: y.shape[3],
      quads: pad4(y.shape[3]) / 4,
      xStride: x.layout.pixelStride / 4,
      xOffset: x.layout.channelOffset / 4,
      hStride: h.layout.pixelStride / 4,
      hOffset: h.layout.channelOffset / 4,
      outStride: y.layout.pixelStride / 4,
      outOffset: y.layout.channelOffset / 4,
      deltaScale: ctx.attrs.deltaScale ?? 2,
    };
  },
  variants: [
    {
      name: "direct",
      kernel: "residual_mask",
      overrides: () => ({ WG: 64 }),
      workgroups: (ctx) => workgroups1d(quadThreads(ctx), 64),
    },
  ],
  cost(ctx) {
    const pixels = pixelCount(ctx.output.shape);
    const c = ctx.output.shape[3];
    // Per value: tanh (~10), a multiply-add; per pixel: the sigmoid (~10).
    return { flops: pixels * (12 * c + 10), bytes: 4 * pixels * (3 * c + 1) };
  },
};
