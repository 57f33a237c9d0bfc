// Convolution ops: dense conv2d (k×k, any stride, pointwise 1×1 as a GEMM) and depthwise conv2d,
// each with a fused epilogue out = act(conv(x) + bias) [+ residual].

import { activate, type Activation, activationId } from "../activation.ts";
import { type HostTensor, hostTensor, pad4, type Shape } from "../tensor.ts";
import { uniformStruct } from "../uniforms.ts";
import { type OpDef, type Param, type StepContext, workgroups1d } from "./types.ts";

export interface ConvAttrs {
  cout: number;
  k: number;
  stride: number;
  pad: number;
  act: Activation;
  /** Leaky-ReLU slope. */
  alpha?: number;
}

/** Inputs: [x] or [x, residual]; `Q` counts vec4 quads of channels. */
export const ConvParams = uniformStruct("ConvParams", {
  batch: "u32",
  inH: "u32",
  inW: "u32",
  inQ: "u32",
  outH: "u32",
  outW: "u32",
  outQ: "u32",
  inStride: "u32",
  inOffset: "u32",
  outStride: "u32",
  outOffset: "u32",
  resStride: "u32",
  resOffset: "u32",
  pad: "u32",
  alpha: "f32",
});

const convOut = (size: number, a: ConvAttrs) => Math.floor((size + 2 * a.pad - a.k) / a.stride) + 1;

function convShape(inputs: Shape[], a: ConvAttrs, cout: number): Shape {
  const [n, h, w] = inputs[0];
  const shape: Shape = [n, convOut(h, a), convOut(w, a), cout];
  if (shape[1] < 1 || shape[2] < 1) throw new Error(`conv output would be empty: [${shape}]`);
  if (inputs[1] && inputs[1].join() !== shape.join()) {
    throw new Error(`residual [${inputs[1]}] does not match conv output [${shape}]`);
  }
  return shape;
}

function convUniforms(ctx: StepContext<ConvAttrs>) {
  const [x, res] = ctx.inputs;
  const y = ctx.output;
  return {
    batch: y.shape[0],
    inH: x.shape[1],
    inW: x.shape[2],
    inQ: pad4(x.shape[3]) / 4,
    outH: y.shape[1],
    outW: y.shape[2],
    outQ: pad4(y.shape[3]) / 4,
    inStride: x.layout.pixelStride / 4,
    inOffset: x.layout.channelOffset / 4,
    outStride: y.layout.pixelStride / 4,
    outOffset: y.layout.channelOffset / 4,
    resStride: res ? res.layout.pixelStride / 4 : 0,
    resOffset: res ? res.layout.channelOffset / 4 : 0,
    pad: ctx.attrs.pad,
    alpha: ctx.attrs.alpha ?? 0.01,
  };
}

const outputThreads = (ctx: StepContext<ConvAttrs>) => {
  const [n, h, w, c] = ctx.output.shape;
  return n * h * w * pad4(c) / 4;
};

/** Bias padded to whole quads. */
const packBias = (bias: Param, cout: number) => {
  const out = new Float32Array(pad4(cout));
  out.set(bias.data);
  return out;
};

/** The epilogue every convolution reference shares. */
function epilogue(y: HostTensor, bias: Param, a: ConvAttrs, residual?: HostTensor) {
  const c = y.shape[3];
  for (let i = 0; i < y.data.length; i++) {
    const v = activate(y.data[i] + bias.data[i % c], a.act, a.alpha);
    y.data[i] = residual ? v + residual.data[i] : v;
  }
  return y;
}

export const conv2d: OpDef<ConvAttrs> = {
  name: "conv2d",
  gpuInputs: 2,
  outputShape: (inputs, a) => convShape(inputs, a, a.cout),
  params: ([x], a) => ({ weight: [a.cout, x[3], a.k, a.k], bias: [a.cout] }),
  reference([x, residual], [weight, bias], a) {
    const [n, h, w, cin] = x.shape;
    const y = hostTensor(convShape([x.shape], a, a.cout));
    const [, oh, ow, cout] = y.shape;
    const k = a.k;
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const out = ((b * oh + oy) * ow + ox) * cout;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * a.stride + ky - a.pad;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * a.stride + kx - a.pad;
              if (ix < 0 || ix >= w) continue;
              const inp = ((b * h + iy) * w + ix) * cin;
              for (let co = 0; co < cout; co++) {
                let sum = 0;
                for (let ci = 0; ci < cin; ci++) {
                  sum += x.data[inp + ci] * weight.data[((co * cin + ci) * k + ky) * k + kx];
                }
                y.data[out + co] += sum;
              }
            }
          }
        }
      }
    }
    return epilogue(y, bias, a, residual);
  },
  packParams([weight, bias], ctx) {
    // [ky][kx][inQ][outQ] blocks of 4 vec4s; vec4 i holds the 4 outputs' weights for input i.
    const { k, cout } = ctx.attrs;
    const cin = ctx.inputs[0].shape[3];
    const inQ = pad4(cin) / 4, outQ = pad4(cout) / 4;
    const packed = new Float32Array(k * k * inQ * outQ * 16);
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const block = ((ky * k + kx) * inQ + (ci >> 2)) * outQ + (co >> 2);
            packed[block * 16 + (ci & 3) * 4 + (co & 3)] =
              weight.data[((co * cin + ci) * k + ky) * k + kx];
          }
        }
      }
    }
    return [packed, packBias(bias, cout)];
  },
  struct: ConvParams,
  uniforms: convUniforms,
  variants: [
    {
      name: "direct",
      kernel: "conv2d",
      overrides: (ctx) => ({
        WG: 64,
        K: ctx.attrs.k,
        STRIDE: ctx.attrs.stride,
        ACT: activationId(ctx.attrs.act),
        HAS_RESIDUAL: ctx.inputs.length > 1 ? 1 : 0,
      }),
      workgroups: (ctx) => workgroups1d(outputThreads(ctx), 64),
    },
  ],
  cost(ctx) {
    const [x] = ctx.inputs;
    const [n, h, w, c] = ctx.output.shape;
    const k = ctx.attrs.k;
    return {
      flops: 2 * n * h * w * c * x.shape[3] * k * k,
      bytes: 4 * (x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3] + n * h * w * c +
        c * x.shape[3] * k * k),
    };
  },
};
