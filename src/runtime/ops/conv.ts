// Convolution ops: dense conv2d (k×k, any stride, pointwise 1×1 as a GEMM) and depthwise conv2d,
// each with a fused epilogue out = act(conv(x) + bias) [+ residual].
//
// Variant order matters: the first applicable variant is the default on adapters without a tuning
// file, so register-tiled kernels without barriers (best on software adapters, measured on
// llvmpipe) come first; workgroup-memory kernels (best on real GPUs) are there for the tuner.

import { activate, type Activation, activationId } from "../activation.ts";
import { type HostTensor, hostTensor, pad4, type Shape } from "../tensor.ts";
import { uniformStruct } from "../uniforms.ts";
import { residualMask } from "./eltwise.ts";
import { upsample2x, type UpsampleMode } from "./resample.ts";
import {
  type GpuVariant,
  inF16,
  type OpDef,
  type Param,
  type StepContext,
  type TensorRef,
  UNIFORM_WEIGHT_BYTES,
  workgroups1d,
} from "./types.ts";

export interface ConvAttrs {
  cout: number;
  k: number;
  stride: number;
  pad: number;
  act: Activation;
  /** Leaky-ReLU slope. */
  alpha?: number;
}

/** Depthwise attrs: as conv2d, but the output has the input's channels (`cout`, if given, must match). */
export type DepthwiseAttrs = Omit<ConvAttrs, "cout"> & { cout?: number };

/** The attrs every convolution's shape, uniforms and epilogue read. */
type Window = Omit<ConvAttrs, "cout">;

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
  /** 1 when the step adds a residual input (read by RESIDUAL = 2 pipelines, see epilogue). */
  residual: "u32",
  pad: "u32",
  /** Clamp bounds of the epilogue (see epilogueOverrides). */
  lo: "f32",
  hi: "f32",
  alpha: "f32",
});

const convOut = (size: number, a: Window) => Math.floor((size + 2 * a.pad - a.k) / a.stride) + 1;

function convShape(inputs: Shape[], a: Window, cout: number): Shape {
  const [n, h, w] = inputs[0];
  const shape: Shape = [n, convOut(h, a), convOut(w, a), cout];
  if (shape[1] < 1 || shape[2] < 1) throw new Error(`conv output would be empty: [${shape}]`);
  if (inputs[1] && inputs[1].join() !== shape.join()) {
    throw new Error(`residual [${inputs[1]}] does not match conv output [${shape}]`);
  }
  return shape;
}

/**
 * Every tap of a k×k window over NHWC tensors: `fn(out, inp, ky, kx)` with the flat pixel indices
 * of the output pixel and of the input pixel under tap (ky, kx), padding skipped. The CPU
 * references of the convolutions and of their gradients all walk the window this way.
 */
export function forEachTap(
  inShape: Shape,
  outShape: Shape,
  a: { k: number; stride: number; pad: number },
  fn: (out: number, inp: number, ky: number, kx: number) => void,
): void {
  const [n, h, w] = inShape;
  const [, oh, ow] = outShape;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const out = (b * oh + oy) * ow + ox;
        for (let ky = 0; ky < a.k; ky++) {
          const iy = oy * a.stride + ky - a.pad;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < a.k; kx++) {
            const ix = ox * a.stride + kx - a.pad;
            if (ix < 0 || ix >= w) continue;
            fn(out, (b * h + iy) * w + ix, ky, kx);
          }
        }
      }
    }
  }
}

function convUniforms(ctx: StepContext<Window>) {
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
    residual: res ? 1 : 0,
    pad: ctx.attrs.pad,
    ...clampBounds(ctx.attrs.act),
    alpha: ctx.attrs.alpha ?? 0.01,
  };
}

const quads = (c: number) => pad4(c) / 4;
const outPixels = (ctx: { output: TensorRef }) => {
  const [n, h, w] = ctx.output.shape;
  return n * h * w;
};
const outQuads = (ctx: { output: TensorRef }) => quads(ctx.output.shape[3]);

/**
 * The fused epilogue: activate(clamp(acc, lo, hi)), then the residual. none, relu and relu6 are
 * the clamp alone, with bounds from the uniforms, so one pipeline serves all their layers: every
 * distinct pipeline is one more shader compile at load (~0.1 s on SwiftShader). The other
 * activations specialise the pipeline through ACT (a run-time switch over all of them, tried,
 * made the student 25 % slower on llvmpipe at 128²). The residual is specialised too (RESIDUAL 0
 * or 1), except in residualAtRunTime variants.
 */
const epilogueOverrides = (ctx: StepContext<Window>) => ({
  ACT: ctx.attrs.act in CLAMPS ? 0 : activationId(ctx.attrs.act),
  RESIDUAL: ctx.inputs.length > 1 ? 1 : 0,
});

/**
 * The variant with its residual add switched by the `residual` uniform (RESIDUAL = 2), so one
 * pipeline serves layers with and without a residual: one shader compile fewer at load (0.12-0.17
 * s for pointwise_reg on SwiftShader) for a branch per output. The tuner's pipeline sharing takes
 * it where it stays within its margin of the fastest.
 */
function residualAtRunTime(variant: GpuVariant<ConvAttrs>): GpuVariant<ConvAttrs> {
  return {
    ...variant,
    name: `${variant.name}_anyres`,
    overrides: (ctx) => ({ ...variant.overrides(ctx), RESIDUAL: 2 }),
  };
}

const F32_MAX = 3.4028234663852886e38;
const CLAMPS: Partial<Record<Activation, { lo: number; hi: number }>> = {
  none: { lo: -F32_MAX, hi: F32_MAX },
  relu: { lo: 0, hi: F32_MAX },
  relu6: { lo: 0, hi: 6 },
};
const clampBounds = (act: Activation) => CLAMPS[act] ?? CLAMPS.none!;

/** Bias padded to whole quads. */
const packBias = (bias: Param, cout: number) => {
  const out = new Float32Array(pad4(cout));
  out.set(bias.data);
  return out;
};

/** The epilogue every convolution reference shares. */
function epilogue(y: HostTensor, bias: Param, a: Window, residual?: HostTensor) {
  const c = y.shape[3];
  for (let i = 0; i < y.data.length; i++) {
    const v = activate(y.data[i] + bias.data[i % c], a.act, a.alpha);
    y.data[i] = residual ? v + residual.data[i] : v;
  }
  return y;
}

function convCost(ctx: StepContext<Window>, reduce: number, weights: number) {
  const [x] = ctx.inputs;
  const [n, h, w, c] = ctx.output.shape;
  const k = ctx.attrs.k;
  return {
    flops: 2 * n * h * w * c * reduce * k * k,
    bytes: 4 * (x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3] + n * h * w * c + weights),
  };
}

// ---- conv2d variants -------------------------------------------------------------------------

/** A 1×1 stride-1 unpadded conv is a GEMM over pixels: the pointwise kernels' domain. */
const isPointwise = (ctx: StepContext<ConvAttrs>) =>
  ctx.attrs.k === 1 && ctx.attrs.stride === 1 && ctx.attrs.pad === 0;

/**
 * Workgroup size for the register-tiled kernels: 64, but smaller when that would leave fewer than
 * 4 workgroups, so a small layer still spreads over a software adapter's threads (one workgroup
 * runs on one CPU thread).
 */
const groupSize = (threads: number) => threads >= 4 * 64 ? 64 : threads >= 4 * 32 ? 32 : 16;

/**
 * Register-tiled pointwise GEMM (pointwise_reg.wgsl): TP pixels × TQ output quads per invocation
 * (TQ shrinks to the output's quads, so a 4-channel output does not compute a wasted quad).
 */
function pointwiseReg(tp: number, tq: number): GpuVariant<ConvAttrs> {
  const tiles = (ctx: StepContext<ConvAttrs>) => {
    const q = Math.min(tq, outQuads(ctx));
    return { q, threads: Math.ceil(outPixels(ctx) / tp) * Math.ceil(outQuads(ctx) / q) };
  };
  return {
    name: `pw_reg_${tp}x${tq}`,
    kernel: "pointwise_reg",
    applies: isPointwise,
    overrides: (ctx) => {
      const { q, threads } = tiles(ctx);
      return { WG: groupSize(threads), TP: tp, TQ: q, ...epilogueOverrides(ctx) };
    },
    workgroups: (ctx) => {
      const { threads } = tiles(ctx);
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/** A pointwise conv whose weight blocks fit one uniform binding (UNIFORM_WEIGHT_BYTES). */
const isUniformPointwise = (ctx: StepContext<ConvAttrs>) =>
  isPointwise(ctx) && quads(ctx.inputs[0].shape[3]) * outQuads(ctx) * 64 <= UNIFORM_WEIGHT_BYTES;

/**
 * Register-tiled pointwise GEMM with its weights in a uniform buffer (pointwise_uniform.wgsl):
 * TP pixels × TQ ≤ 4 output quads, where the weights fit UNIFORM_WEIGHT_BYTES.
 */
function pointwiseUniform(tp: number, tq: number): GpuVariant<ConvAttrs> {
  const variant = pointwiseReg(tp, tq);
  return {
    ...variant,
    name: `pw_u_${tp}x${tq}`,
    kernel: "pointwise_uniform",
    uniformWeights: true,
    applies: isUniformPointwise,
  };
}

/**
 * TP pixels × every output quad per invocation with the step's weights compiled in as literals
 * (conv2d_baked.wgsl), where they fit the uniform-weights budget, which also bounds the
 * generated code (≤ 16 Ki weights) and its compile time.
 */
function pointwiseBaked(tp: number): GpuVariant<ConvAttrs> {
  const threads = (ctx: StepContext<ConvAttrs>) => Math.ceil(outPixels(ctx) / tp);
  return {
    name: `pw_baked_${tp}`,
    kernel: "conv2d_baked",
    applies: isUniformPointwise,
    bake: (ctx, packed) => bakePointwise(ctx, packed, tp),
    overrides: (ctx) => ({ WG: groupSize(threads(ctx)), TP: tp, ...epilogueOverrides(ctx) }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

/**
 * conv2d_baked.wgsl's `layer()` for one step: TP pixels × every output quad from conv2d's packed
 * weight blocks and bias, then, with `up`, the upsampled part's blend (as pointwise_uniform.wgsl's
 * addUpsampled: pixel 2m blends low-res columns m-1 and m, pixel 2m+1 columns m and m+1).
 */
function bakePointwise(
  ctx: StepContext<ConvAttrs>,
  [weights, bias]: Float32Array[],
  tp: number,
  up?: UpsampleMode,
): string {
  const inQ = quads(ctx.inputs[0].shape[3]), outQ = outQuads(ctx);
  const pixels = Array.from({ length: tp }, (_, k) => k);
  const lines = ["fn layer(pixel0: u32, pixels: u32, b: Bounds) {", "  let last = pixels - 1u;"];
  for (const k of pixels) {
    lines.push(`  let at${k} = min(pixel0 + ${k}u, last) * p.inStride + p.inOffset;`);
    for (let c = 0; c < inQ; c++) lines.push(`  let x${k}_${c} = x[at${k} + ${c}u];`);
  }
  if (up) lines.push("  let up = upRows(pixel0);");
  const column = (j: number) => `u${j < 0 ? "m" : ""}${Math.abs(j)}`;
  /** The upsampled part under pixel k: the low-res columns it reads (from col0) and its blend. */
  const blend = (k: number): { columns: number[]; expr: string } => {
    const m = k >> 1;
    if (up === "nearest") return { columns: [m], expr: column(m) };
    const [a, b, t] = k % 2 ? [m, m + 1, "upOdd(true)"] : [m - 1, m, "upEven(true)"];
    return { columns: [a, b], expr: `mix(${column(a)}, ${column(b)}, ${t})` };
  };
  for (let q = 0; q < outQ; q++) {
    lines.push("  {", `    let bias = vec4<f32>(${values(bias.subarray(q * 4, q * 4 + 4))});`);
    const used: number[] = [];
    for (let c = 0; c < inQ; c++) {
      const block = weights.subarray((c * outQ + q) * 16, (c * outQ + q + 1) * 16);
      // Zero blocks (padding channels) cost nothing to skip.
      if (block.some((v) => v !== 0)) {
        lines.push(`    let m${c} = mat4x4<f32>(${values(block)});`);
        used.push(c);
      }
    }
    if (up) {
      const columns = new Set(pixels.flatMap((k) => blend(k).columns));
      for (const j of [...columns].sort((a, b) => a - b)) {
        lines.push(`    let ${column(j)} = upColumn(up, ${j}, ${q}u);`);
      }
    }
    for (const k of pixels) {
      const terms = ["bias", ...used.map((c) => `m${c} * x${k}_${c}`)];
      if (up) terms.push(blend(k).expr);
      lines.push(`    store(pixel0 + ${k}u, pixels, ${q}u, ${terms.join(" + ")}, b);`);
    }
    lines.push("  }");
  }
  lines.push("}");
  return lines.join("\n");
}

/**
 * A k×k conv (stride any) with the step's weights compiled in: TX pixels along x × every output
 * quad per invocation (conv2d_baked.wgsl's shell, a generated `layer()` walking the window).
 * Meant for the stem, whose conv2d_reg tile gathers more weight vec4s from storage than it loads
 * input columns. At most 4 output quads (TX × 4 accumulators), TX dividing the output width.
 */
function convBaked(tx: number): GpuVariant<ConvAttrs> {
  const threads = (ctx: StepContext<ConvAttrs>) => outPixels(ctx) / tx;
  return {
    name: `baked_${tx}`,
    kernel: "conv2d_baked",
    applies: (ctx) =>
      !isPointwise(ctx) && ctx.output.shape[2] % tx === 0 && outQuads(ctx) <= 4 &&
      ctx.attrs.k ** 2 * quads(ctx.inputs[0].shape[3]) * outQuads(ctx) * 64 <= UNIFORM_WEIGHT_BYTES,
    bake: (ctx, packed) => bakeConv(ctx, packed, tx),
    overrides: (ctx) => ({ WG: groupSize(threads(ctx)), TP: tx, ...epilogueOverrides(ctx) }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

/**
 * conv2d_baked.wgsl's `layer()` for a k×k conv: TX pixels of one output row (pixel0 is the
 * first, TX divides the width) × every output quad, from conv2d's packed [ky][kx][inQ][outQ]
 * blocks; taps outside the input read the zero padding.
 */
function bakeConv(ctx: StepContext<ConvAttrs>, [weights, bias]: Float32Array[], tx: number) {
  const { k, stride, pad } = ctx.attrs;
  const inQ = quads(ctx.inputs[0].shape[3]), outQ = outQuads(ctx);
  const pixels = Array.from({ length: tx }, (_, j) => j);
  const lines = [
    "fn layer(pixel0: u32, pixels: u32, b: Bounds) {",
    "  let ox0 = pixel0 % p.outW;",
    "  let rowIndex = pixel0 / p.outW; // n · outH + oy",
    "  let oy = rowIndex % p.outH;",
    "  let n = rowIndex / p.outH;",
  ];
  for (let q = 0; q < outQ; q++) {
    const b = `vec4<f32>(${values(bias.subarray(q * 4, q * 4 + 4))})`;
    for (const j of pixels) lines.push(`  var a${j}_${q} = ${b};`);
  }
  for (let ky = 0; ky < k; ky++) {
    lines.push(
      "  {",
      `    let iy = i32(oy * ${stride}u + ${ky}u) - ${pad};`,
      "    if (iy >= 0 && iy < i32(p.inH)) {",
      "      let row = (n * p.inH + u32(iy)) * p.inW;",
    );
    for (let kx = 0; kx < k; kx++) {
      lines.push("      {");
      for (const j of pixels) {
        const ix = `ix${j}`;
        lines.push(
          `        let ${ix} = i32((ox0 + ${j}u) * ${stride}u + ${kx}u) - ${pad};`,
          `        let in${j} = ${ix} >= 0 && ${ix} < i32(p.inW);`,
          `        let at${j} = (row + u32(clamp(${ix}, 0, i32(p.inW) - 1))) * p.inStride + p.inOffset;`,
        );
      }
      for (let c = 0; c < inQ; c++) {
        const used: number[] = [];
        for (let q = 0; q < outQ; q++) {
          const at = ((ky * k + kx) * inQ + c) * outQ + q;
          const block = weights.subarray(at * 16, (at + 1) * 16);
          if (block.every((v) => v === 0)) continue;
          lines.push(`        let m${c}_${q} = mat4x4<f32>(${values(block)});`);
          used.push(q);
        }
        for (const j of pixels) {
          lines.push(`        { let v = select(vec4<f32>(0.0), x[at${j} + ${c}u], in${j});`);
          for (const q of used) lines.push(`          a${j}_${q} += m${c}_${q} * v;`);
          lines.push("        }");
        }
      }
      lines.push("      }");
    }
    lines.push("    }", "  }");
  }
  for (let q = 0; q < outQ; q++) {
    for (const j of pixels) lines.push(`  store(pixel0 + ${j}u, pixels, ${q}u, a${j}_${q}, b);`);
  }
  lines.push("}");
  return lines.join("\n");
}

/**
 * An f32 as a WGSL f32 literal: the shortest decimal that reads back as the same double, which is
 * nearer to the f32 than any other f32, so the shader gets exactly the weight.
 */
const literal = (v: number) => `${v}f`;
const values = (data: Float32Array) => Array.from(data, literal).join(", ");

/** Workgroup-memory tiled pointwise GEMM (pointwise_tiled.wgsl): 64 pixels × 8 quads per group. */
const pointwiseTiled: GpuVariant<ConvAttrs> = {
  name: "pw_tiled",
  kernel: "pointwise_tiled",
  applies: isPointwise,
  overrides: epilogueOverrides,
  workgroups: (ctx) =>
    workgroups1d(Math.ceil(outPixels(ctx) / 64) * Math.ceil(outQuads(ctx) / 8) * 64, 64),
};

/**
 * Register-tiled k×k conv (conv2d_reg.wgsl): TX pixels along x × TQ output quads. Correct for any
 * k, stride and padding; meant for dense k > 1 convs (the stem, the decoder's last conv) and
 * strided 1×1 ones, since stride-1 pointwise convs have the GEMM kernels.
 */
function convReg(tx: number, tq: number): GpuVariant<ConvAttrs> {
  const tiles = (ctx: StepContext<ConvAttrs>) => {
    const [n, h, w] = ctx.output.shape;
    const q = Math.min(tq, outQuads(ctx));
    return { q, threads: n * h * Math.ceil(w / tx) * Math.ceil(outQuads(ctx) / q) };
  };
  return {
    name: `reg_${tx}x${tq}`,
    kernel: "conv2d_reg",
    overrides: (ctx) => {
      const { q, threads } = tiles(ctx);
      return {
        WG: groupSize(threads),
        K: ctx.attrs.k,
        STRIDE: ctx.attrs.stride,
        TX: tx,
        TQ: q,
        ...epilogueOverrides(ctx),
      };
    },
    workgroups: (ctx) => {
      const { threads } = tiles(ctx);
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

/** Whether conv2d_few.wgsl takes a conv of `cin` inputs: stride 1, 3×3 or 1×1, ≤ 4 output quads. */
const fitsConvFew = (cin: number, a: ConvAttrs) =>
  (a.k === 3 || a.k === 1) && a.stride === 1 && quads(a.cout) <= 4 &&
  a.k * a.k * quads(cin) * quads(a.cout) * 64 <= UNIFORM_WEIGHT_BYTES;

/**
 * Stride-1 3×3 or 1×1 conv with at most 4 output quads (conv2d_few.wgsl): TX pixels × every output
 * quad per invocation, weights in a uniform buffer at constant indices (`uniformWeights`).
 */
function convFew(tx: number): GpuVariant<ConvAttrs> {
  const threads = (ctx: StepContext<ConvAttrs>) => {
    const [n, h, w] = ctx.output.shape;
    return n * h * Math.ceil(w / tx);
  };
  return {
    name: `few_${tx}`,
    kernel: "conv2d_few",
    uniformWeights: true,
    applies: (ctx) => fitsConvFew(ctx.inputs[0].shape[3], ctx.attrs),
    overrides: (ctx) => ({
      WG: groupSize(threads(ctx)),
      K: ctx.attrs.k,
      TX: tx,
      IN_Q: quads(ctx.inputs[0].shape[3]),
      OUT_Q: outQuads(ctx),
      ...epilogueOverrides(ctx),
    }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

export const conv2d: OpDef<ConvAttrs> = {
  name: "conv2d",
  gpuInputs: 2,
  outputShape: (inputs, a) => convShape(inputs, a, a.cout),
  params: ([x], a) => ({ weight: [a.cout, x[3], a.k, a.k], bias: [a.cout] }),
  reference([x, residual], [weight, bias], a) {
    const cin = x.shape[3];
    const y = hostTensor(convShape([x.shape], a, a.cout));
    const cout = y.shape[3], k = a.k;
    forEachTap(x.shape, y.shape, a, (o, i, ky, kx) => {
      const out = o * cout, inp = i * cin;
      for (let co = 0; co < cout; co++) {
        let sum = 0;
        for (let ci = 0; ci < cin; ci++) {
          sum += x.data[inp + ci] * weight.data[((co * cin + ci) * k + ky) * k + kx];
        }
        y.data[out + co] += sum;
      }
    });
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
    // Measured on llvmpipe (128² student shapes): pw_reg_8x2 runs 15-27 GFLOP/s where direct
    // runs 4-7 and pw_tiled 2-5; reg_8x2 runs the 3×3 stem and head 3-5× faster than direct.
    // The smaller tiles trade register reuse for more invocations, for the tuner.
    pointwiseReg(8, 2),
    pointwiseReg(4, 2),
    pointwiseReg(4, 1),
    residualAtRunTime(pointwiseReg(8, 2)),
    pointwiseUniform(8, 4),
    pointwiseUniform(8, 2),
    pointwiseBaked(1),
    // f16 arithmetic where the device has shader-f16, for GPUs with double-rate f16 (unmeasured
    // here: lavapipe runs these at half its f32 speed, so the tuner keeps f32 there).
    inF16(pointwiseReg(8, 2)),
    inF16(pointwiseReg(4, 2)),
    inF16(pointwiseUniform(8, 4)),
    convReg(8, 2),
    convReg(4, 1),
    convBaked(8),
    convBaked(4),
    residualAtRunTime(convReg(8, 2)),
    inF16(convReg(8, 2)),
    convFew(8),
    inF16(convFew(8)),
    {
      name: "direct",
      kernel: "conv2d",
      overrides: (ctx) => ({
        WG: 64,
        K: ctx.attrs.k,
        STRIDE: ctx.attrs.stride,
        ...epilogueOverrides(ctx),
      }),
      workgroups: (ctx) => workgroups1d(outPixels(ctx) * outQuads(ctx), 64),
    },
    pointwiseTiled,
  ],
  // Measured in Chromium on SwiftShader (student at 256²): the direct kernel everywhere compiles
  // in 0.34 s against 1.06 s for the tuned set, but runs the first frame in 0.74 s against 0.30;
  // small register tiles for the pointwise convs compile as fast and run it in 0.48 s.
  baseline: [{ variant: "pw_reg_4x1", wg: 64 }, { variant: "direct" }],
  cost: (ctx) => {
    const cin = ctx.inputs[0].shape[3], cout = ctx.output.shape[3], k = ctx.attrs.k;
    return convCost(ctx, cin, cin * cout * k * k);
  },
};

// ---- depthwise_conv2d ------------------------------------------------------------------------

const depthwiseChannels = (inputs: Shape[], a: DepthwiseAttrs) => {
  const c = inputs[0][3];
  if (a.cout !== undefined && a.cout !== c) {
    throw new Error(`depthwise conv keeps its ${c} channels, attrs ask for cout ${a.cout}`);
  }
  return c;
};

const depthwiseOverrides = (ctx: StepContext<DepthwiseAttrs>) => ({
  WG: 64,
  K: ctx.attrs.k,
  STRIDE: ctx.attrs.stride,
  ...epilogueOverrides(ctx),
});

/**
 * Register-blocked depthwise 3×3 (depthwise_reg.wgsl): TX output pixels along x × TY rows × one
 * quad. The kernel holds 10 input columns of a row: 8 pixels at stride 1, 4 at stride 2.
 */
function depthwiseReg(tx: number, ty: number): GpuVariant<DepthwiseAttrs> {
  const threads = (ctx: StepContext<DepthwiseAttrs>) => {
    const [n, h, w] = ctx.output.shape;
    return n * Math.ceil(h / ty) * Math.ceil(w / tx) * outQuads(ctx);
  };
  return {
    name: ty === 1 ? `reg_${tx}px` : `reg_${tx}x${ty}px`,
    kernel: "depthwise_reg",
    applies: ({ attrs: a }) => a.k === 3 && (a.stride === 1 || (a.stride === 2 && tx <= 4)),
    overrides: (ctx) => ({
      WG: groupSize(threads(ctx)),
      STRIDE: ctx.attrs.stride,
      TX: tx,
      TY: ty,
      ...epilogueOverrides(ctx),
    }),
    workgroups: (ctx) => workgroups1d(threads(ctx), groupSize(threads(ctx))),
  };
}

export const depthwiseConv2d: OpDef<DepthwiseAttrs> = {
  name: "depthwise_conv2d",
  gpuInputs: 2,
  outputShape: (inputs, a) => convShape(inputs, a, depthwiseChannels(inputs, a)),
  params: (inputs, a) => {
    const c = depthwiseChannels(inputs, a);
    return { weight: [c, 1, a.k, a.k], bias: [c] };
  },
  reference([x, residual], [weight, bias], a) {
    const c = x.shape[3];
    const y = hostTensor(convShape([x.shape], a, depthwiseChannels([x.shape], a)));
    const k = a.k;
    forEachTap(x.shape, y.shape, a, (o, i, ky, kx) => {
      const out = o * c, inp = i * c;
      for (let ch = 0; ch < c; ch++) {
        y.data[out + ch] += x.data[inp + ch] * weight.data[(ch * k + ky) * k + kx];
      }
    });
    return epilogue(y, bias, a, residual);
  },
  packParams([weight, bias], ctx) {
    // [ky][kx][quad] vec4s: one tap of 4 neighbouring channels is one load.
    const k = ctx.attrs.k;
    const c = ctx.inputs[0].shape[3];
    const q = quads(c);
    const packed = new Float32Array(k * k * q * 4);
    for (let ch = 0; ch < c; ch++) {
      for (let tap = 0; tap < k * k; tap++) {
        packed[(tap * q + (ch >> 2)) * 4 + (ch & 3)] = weight.data[ch * k * k + tap];
      }
    }
    return [packed, packBias(bias, c)];
  },
  struct: ConvParams,
  uniforms: convUniforms,
  variants: [
    // Measured on llvmpipe: reg_8px 6-8 GFLOP/s at stride 1, reg_4px 3-4 at stride 2, direct 2;
    // two rows 10-23 % faster than one (reg_8x2px at stride 1, reg_4x2px at stride 2).
    depthwiseReg(8, 2),
    depthwiseReg(8, 1),
    depthwiseReg(4, 2),
    depthwiseReg(4, 1),
    inF16(depthwiseReg(8, 2)),
    inF16(depthwiseReg(4, 2)),
    {
      name: "direct",
      kernel: "depthwise",
      overrides: depthwiseOverrides,
      workgroups: (ctx) => workgroups1d(outPixels(ctx) * outQuads(ctx), 64),
    },
  ],
  baseline: [{ variant: "direct" }],
  cost: (ctx) => {
    const c = ctx.output.shape[3], k = ctx.attrs.k;
    return convCost(ctx, 1, c * k * k);
  },
};

// ---- depthwise_project: a depthwise 3×3 and the 1×1 conv after it, fused by the planner --------

export interface DepthwiseProjectAttrs {
  /** The depthwise conv's stride (its window is 3×3 with padding 1). */
  stride: number;
  /** The depthwise conv's activation: a clamp (none, relu or relu6). */
  dwAct: Activation;
  /** The projection's output channels and activation, a clamp too (a linear bottleneck: none). */
  cout: number;
  act: Activation;
}

/** Activations the fused kernel applies (as clamps, see depthwise_project.wgsl). */
const DEPTHWISE_PROJECT_ACTS: readonly Activation[] = ["none", "relu", "relu6"];

export const DepthwiseProjectParams = uniformStruct("DepthwiseProjectParams", {
  ...ConvParams.fields,
  dwLo: "f32",
  dwHi: "f32",
});

const dwWindow = (a: DepthwiseProjectAttrs) => ({ k: 3, stride: a.stride, pad: 1, act: a.dwAct });
const projectWindow = (a: DepthwiseProjectAttrs) => ({ ...a, k: 1, stride: 1, pad: 0 });

/** vec4s of the fused kernel's uniform weights: taps, depthwise bias, projection blocks. */
const fusedWeightVec4s = (expanded: number, cout: number) =>
  10 * quads(expanded) + 4 * quads(expanded) * quads(cout);

/** Whether a depthwise conv with `expanded` channels and its projection fit the fused kernel. */
export const fitsDepthwiseProject = (
  expanded: number,
  a: Pick<DepthwiseProjectAttrs, "cout" | "dwAct" | "act">,
) =>
  DEPTHWISE_PROJECT_ACTS.includes(a.dwAct) && DEPTHWISE_PROJECT_ACTS.includes(a.act) &&
  fusedWeightVec4s(expanded, a.cout) * 16 <= UNIFORM_WEIGHT_BYTES;

/**
 * depthwise_project.wgsl: TX pixels × TY rows × `maxQ` output quads per invocation (fewer if the
 * output has fewer; more quads split into groups that each redo the depthwise conv).
 */
function depthwiseProjectReg(
  tx: number,
  ty: number,
  maxQ: number,
): GpuVariant<DepthwiseProjectAttrs> {
  const tiles = (ctx: StepContext<DepthwiseProjectAttrs>) => {
    const [n, h, w] = ctx.output.shape;
    const qpi = Math.min(maxQ, outQuads(ctx));
    const groups = Math.ceil(outQuads(ctx) / qpi);
    return { qpi, threads: n * Math.ceil(h / ty) * Math.ceil(w / tx) * groups };
  };
  return {
    name: `reg_${tx}x${ty}_q${maxQ}`,
    kernel: "depthwise_project",
    uniformWeights: true,
    applies: (ctx) => ctx.attrs.stride === 1 || tx <= 4,
    overrides: (ctx) => {
      const { qpi, threads } = tiles(ctx);
      return {
        WG: groupSize(threads),
        STRIDE: ctx.attrs.stride,
        TX: tx,
        TY: ty,
        QPI: qpi,
        RESIDUAL: ctx.inputs.length > 1 ? 1 : 0,
      };
    },
    workgroups: (ctx) => {
      const { threads } = tiles(ctx);
      return workgroups1d(threads, groupSize(threads));
    },
  };
}

export const depthwiseProject: OpDef<DepthwiseProjectAttrs> = {
  name: "depthwise_project",
  inferenceOnly: true,
  gpuInputs: 2,
  outputShape: ([x, residual], a) => {
    const dw = convShape([x], dwWindow(a), x[3]);
    return convShape(residual ? [dw, residual] : [dw], projectWindow(a), a.cout);
  },
  params: ([x], a) => ({
    dwWeight: [x[3], 1, 3, 3],
    dwBias: [x[3]],
    weight: [a.cout, x[3], 1, 1],
    bias: [a.cout],
  }),
  reference([x, residual], [dwWeight, dwBias, weight, bias], a) {
    const dw = depthwiseConv2d.reference([x], [dwWeight, dwBias], dwWindow(a));
    return conv2d.reference(residual ? [dw, residual] : [dw], [weight, bias], projectWindow(a));
  },
  packParams([dwWeight, dwBias, weight, bias], ctx) {
    const expanded = ctx.inputs[0].shape[3], cout = ctx.attrs.cout;
    const e = quads(expanded);
    const packed = new Float32Array(fusedWeightVec4s(expanded, cout) * 4);
    // Taps [e][ky·3 + kx] (the kernel walks one expanded quad at a time), then the biases.
    for (let ch = 0; ch < expanded; ch++) {
      for (let tap = 0; tap < 9; tap++) {
        packed[((ch >> 2) * 9 + tap) * 4 + (ch & 3)] = dwWeight.data[ch * 9 + tap];
      }
      packed[(9 * e + (ch >> 2)) * 4 + (ch & 3)] = dwBias.data[ch];
    }
    // The projection's blocks in conv2d's [inQ][outQ] order, after them.
    const [blocks] = conv2d.packParams([weight, bias], { ...ctx, attrs: projectWindow(ctx.attrs) });
    packed.set(blocks, 10 * e * 4);
    return [packed, packBias(bias, cout)];
  },
  struct: DepthwiseProjectParams,
  uniforms: (ctx) => {
    const { lo, hi } = clampBounds(ctx.attrs.dwAct);
    return {
      ...convUniforms({ ...ctx, attrs: { ...projectWindow(ctx.attrs), pad: 1 } }),
      dwLo: lo,
      dwHi: hi,
    };
  },
  variants: [
    // Measured on llvmpipe (student shapes at 128²): two rows always beat one; 8 pixels at
    // stride 1 and 4 at stride 2 mostly, 2 pixels for the 8×8 layers; one quad group where the
    // weights fit, since a second group redoes the depthwise conv.
    depthwiseProjectReg(8, 2, 8),
    depthwiseProjectReg(4, 2, 8),
    depthwiseProjectReg(2, 2, 8),
    depthwiseProjectReg(8, 2, 4),
    depthwiseProjectReg(4, 2, 4),
    // f16 arithmetic for devices with shader-f16 (lavapipe runs it 2.5-5× slower than f32).
    inF16(depthwiseProjectReg(8, 2, 8)),
    inF16(depthwiseProjectReg(4, 2, 8)),
    inF16(depthwiseProjectReg(2, 2, 8)),
    // The fast start's (depthwise_project_direct.wgsl): quick to compile (SwiftShader: 0.05 s,
    // reg_4x2_q4 0.46 s, reg_8x2_q8 1.7 s), one pipeline per stride for every shape.
    {
      name: "direct",
      kernel: "depthwise_project_direct",
      uniformWeights: true,
      overrides: (ctx) => ({ WG: 64, STRIDE: ctx.attrs.stride }),
      applies: (ctx) => outQuads(ctx) <= 16,
      workgroups: (ctx) => workgroups1d(outPixels(ctx), 64),
    },
  ],
  baseline: [{ variant: "direct" }],
  cost: (ctx) => {
    const [x] = ctx.inputs;
    const [n, h, w, c] = ctx.output.shape;
    const e = x.shape[3];
    return {
      flops: 2 * n * h * w * e * (9 + c),
      bytes: 4 * (x.shape[0] * x.shape[1] * x.shape[2] * e + n * h * w * c + e * (10 + c)),
    };
  },
};

// ---- conv2d_residual_mask: the head's conv and its residual + mask, fused by the planner ------

export type ConvResidualMaskAttrs = ConvAttrs & { deltaScale: number };

/** Whether the head conv (`cin` inputs, logits for ≤ 3 channels + the mask) fits the fused kernel. */
export const fitsConvResidualMask = (cin: number, a: ConvAttrs) =>
  a.act === "none" && a.cout <= 4 && fitsConvFew(cin, a);

/** conv2d_few.wgsl with its HEAD epilogue: the logits become residual_mask(image, logits). */
function headEpilogue(few: GpuVariant<ConvAttrs>): GpuVariant<ConvResidualMaskAttrs> {
  return {
    ...few,
    applies: (ctx) => fitsConvResidualMask(ctx.inputs[0].shape[3], ctx.attrs),
    overrides: (ctx) => ({
      ...few.overrides(ctx),
      RESIDUAL: 0, // the image input is read by the HEAD epilogue
      HEAD: 1,
      MASK_LANE: ctx.attrs.cout - 1,
    }),
  };
}

/** Inputs [features, image]: conv2d over the features, then residual_mask(image, logits). */
export const convResidualMask: OpDef<ConvResidualMaskAttrs> = {
  name: "conv2d_residual_mask",
  inferenceOnly: true,
  gpuInputs: 2,
  outputShape: ([x, image], a) =>
    residualMask.outputShape([image, convShape([x], a, a.cout)], { deltaScale: a.deltaScale }),
  params: ([x], a) => conv2d.params([x], a),
  reference([x, image], params, a) {
    const logits = conv2d.reference([x], params, a);
    return residualMask.reference([image, logits], [], { deltaScale: a.deltaScale });
  },
  packParams: (params, ctx) => conv2d.packParams(params, ctx),
  struct: ConvParams,
  uniforms: (ctx) => ({ ...convUniforms(ctx), alpha: ctx.attrs.deltaScale }),
  variants: [convFew(8), convFew(4), convFew(1), inF16(convFew(8))].map(headEpilogue),
  // One pixel per invocation compiles fast (SwiftShader: 0.07 s, few_8 0.17 s).
  baseline: [{ variant: "few_1" }],
  cost: (ctx) => {
    const [x, image] = ctx.inputs;
    const [n, h, w] = ctx.output.shape;
    const { cout, k } = ctx.attrs;
    const cin = x.shape[3];
    const mask = residualMask.cost(ctx);
    return {
      flops: 2 * n * h * w * cout * cin * k * k + mask.flops,
      bytes: 4 * (n * h * w * (cin + 2 * image.shape[3]) + cout * cin * k * k),
    };
  },
};

// ---- a 1×1 conv over [upsample2x(h), skip], fused by the planner: the upsample commutes ------
//
// A decoder block's expand is W · concat(up(h), s) + b = up(W_h · h) + W_s · s + b: bilinear and
// nearest upsampling are linear with weights summing to 1, so the upsampled part's share of the
// GEMM can run at the low resolution (a quarter of its multiply-adds, pointwise_part), and the
// expand then adds it upsampled in its epilogue (pointwise_add_upsampled). The upsampled tensor is
// never stored.

/** A pointwise conv whose weight has `cin` input channels, of which this step uses `from` onward. */
export type PointwiseSliceAttrs = ConvAttrs & { cin: number; from: number };

export type PointwiseAddUpsampledAttrs = PointwiseSliceAttrs & { mode: UpsampleMode };

/** A [cout, cin, k, k] weight's input channels [from, from + count). */
function inputSlice(weight: Param, from: number, count: number): Param {
  const [cout, cin, k] = weight.shape;
  const taps = k * k;
  const data = new Float32Array(cout * count * taps);
  for (let o = 0; o < cout; o++) {
    const src = (o * cin + from) * taps;
    data.set(weight.data.subarray(src, src + count * taps), o * count * taps);
  }
  return { shape: [cout, count, k, k], data };
}

const zeroBias = (cout: number): Param => ({ shape: [cout], data: new Float32Array(cout) });

function sliceParams(x: Shape, a: PointwiseSliceAttrs, op: string) {
  if (a.k !== 1 || a.stride !== 1 || a.pad !== 0) throw new Error(`${op} is a 1×1 stride-1 conv`);
  if (!(a.from >= 0 && a.from + x[3] <= a.cin)) {
    throw new Error(`${op}: channels ${a.from}..${a.from + x[3]} pass the weight's ${a.cin}`);
  }
  return { weight: [a.cout, a.cin, 1, 1] };
}

/** conv2d's GEMM variants (pointwise kernels) run a pointwise_part step: its epilogue is plain. */
const POINTWISE_VARIANTS = conv2d.variants.filter((v) =>
  v.kernel.startsWith("pointwise")
) as GpuVariant<PointwiseSliceAttrs>[];

/** W[:, from : from + C] · x, no bias, no activation: the low-res half of the commuted expand. */
export const pointwisePart: OpDef<PointwiseSliceAttrs> = {
  name: "pointwise_part",
  inferenceOnly: true,
  gpuInputs: 2,
  outputShape: ([x], a) => {
    sliceParams(x, a, "pointwise_part");
    return convShape([x], a, a.cout);
  },
  params: ([x], a) => sliceParams(x, a, "pointwise_part"),
  reference: ([x], [weight], a) =>
    conv2d.reference([x], [inputSlice(weight, a.from, x.shape[3]), zeroBias(a.cout)], a),
  packParams: ([weight], ctx) => {
    const c = ctx.inputs[0].shape[3];
    return conv2d.packParams(
      [inputSlice(weight, ctx.attrs.from, c), zeroBias(ctx.attrs.cout)],
      ctx,
    );
  },
  struct: ConvParams,
  uniforms: convUniforms,
  variants: POINTWISE_VARIANTS,
  // conv2d's fast-start pipeline: the same overrides, so no compile of its own.
  baseline: [{ variant: "pw_reg_4x1", wg: 64 }],
  cost: (ctx) => {
    const cin = ctx.inputs[0].shape[3], cout = ctx.output.shape[3];
    return convCost(ctx, cin, cin * cout);
  },
};

/** Whether pointwise_add_upsampled's weights (the skip's share) fit its uniform buffer. */
export const fitsPointwiseAddUpsampled = (skip: number, cout: number) =>
  quads(skip) * quads(cout) * 64 <= UNIFORM_WEIGHT_BYTES;

/**
 * pointwise_uniform.wgsl with the UP epilogue: tiles of TP pixels must lie in one output row, so
 * TP divides the width (even, being upsampled: TP = 2 always fits).
 */
function upsampledTile(tp: number, tq: number): GpuVariant<PointwiseAddUpsampledAttrs> {
  const variant = pointwiseUniform(tp, tq);
  return {
    ...variant,
    applies: (ctx) => ctx.output.shape[2] % tp === 0,
    overrides: (ctx) => ({
      ...variant.overrides(ctx),
      RESIDUAL: 0, // res holds the low-res part
      UP: ctx.attrs.mode === "nearest" ? 1 : 2,
    }),
  } as GpuVariant<PointwiseAddUpsampledAttrs>;
}

/** conv2d_baked.wgsl with the UP epilogue: TP pixels of one row (TP divides the width). */
function upsampledBaked(tp: number): GpuVariant<PointwiseAddUpsampledAttrs> {
  const variant = pointwiseBaked(tp) as unknown as GpuVariant<PointwiseAddUpsampledAttrs>;
  return {
    ...variant,
    applies: (ctx) => variant.applies!(ctx) && ctx.output.shape[2] % tp === 0,
    bake: (ctx, packed) => bakePointwise(ctx, packed, tp, ctx.attrs.mode),
    overrides: (ctx) => ({
      ...variant.overrides(ctx),
      RESIDUAL: 0, // res holds the low-res part
      UP: ctx.attrs.mode === "nearest" ? 1 : 2,
    }),
  };
}

/**
 * Inputs [skip, part]: act(W[:, from:] · skip + b + upsample2x(part)), part being pointwise_part's
 * output at half the size.
 */
export const pointwiseAddUpsampled: OpDef<PointwiseAddUpsampledAttrs> = {
  name: "pointwise_add_upsampled",
  inferenceOnly: true,
  gpuInputs: 2,
  outputShape: ([x, part], a) => {
    sliceParams(x, a, "pointwise_add_upsampled");
    const y = convShape([x], a, a.cout);
    const expected = [y[0], y[1] / 2, y[2] / 2, a.cout];
    if (part?.join() !== expected.join()) {
      throw new Error(`pointwise_add_upsampled: part [${part}] must be [${expected}]`);
    }
    return y;
  },
  params: ([x], a) => ({ ...sliceParams(x, a, "pointwise_add_upsampled"), bias: [a.cout] }),
  reference([x, part], [weight, bias], a) {
    const y = conv2d.reference([x], [inputSlice(weight, a.from, x.shape[3]), zeroBias(a.cout)], {
      ...a,
      act: "none",
    });
    const up = upsample2x.reference([part], [], { mode: a.mode });
    for (let i = 0; i < y.data.length; i++) {
      y.data[i] = activate(y.data[i] + up.data[i] + bias.data[i % a.cout], a.act, a.alpha);
    }
    return y;
  },
  packParams: ([weight, bias], ctx) => {
    const c = ctx.inputs[0].shape[3];
    return conv2d.packParams([inputSlice(weight, ctx.attrs.from, c), bias], ctx);
  },
  struct: ConvParams,
  uniforms: convUniforms,
  variants: [
    upsampledTile(8, 4),
    upsampledTile(8, 2),
    upsampledTile(4, 4),
    upsampledTile(2, 4),
    upsampledTile(2, 1),
    upsampledBaked(8),
    upsampledBaked(4),
    upsampledBaked(2),
    inF16(upsampledTile(8, 4)),
    inF16(upsampledTile(2, 4)),
  ],
  baseline: [{ variant: "pw_u_2x1", wg: 64 }],
  cost: (ctx) => {
    const [x] = ctx.inputs;
    const [n, h, w, c] = ctx.output.shape;
    const cin = x.shape[3];
    return {
      // The GEMM, then per output 3 blends (2 each) and the add.
      flops: 2 * n * h * w * c * cin + 7 * n * h * w * c,
      bytes: 4 * (n * h * w * (cin + c) + (n * h * w * c) / 4 + cin * c + c),
    };
  },
};

// ---- upsample_conv2d_residual_mask: the head without its full-resolution upsample ------------

/**
 * The head's conv over concat(upsample2x(h), skip) (channels [upFrom, +h) and [skipFrom, +skip) of
 * its weight), then the residual + mask over the image.
 */
export type UpsampleConvResidualMaskAttrs = ConvResidualMaskAttrs & {
  cin: number;
  upFrom: number;
  skipFrom: number;
  mode: UpsampleMode;
};

export const UpsampleConvParams = uniformStruct("UpsampleConvParams", {
  ...ConvParams.fields,
  skipStride: "u32",
  skipOffset: "u32",
  skipQ: "u32",
});

/** Weight blocks of upsample_conv_head.wgsl: composed 36 per h quad, 9 per skip quad, plain 9. */
const upsampleConvBlocks = (h: number, skip: number) => 45 * quads(h) + 9 * quads(skip);

/** Whether the head conv (`h` upsampled channels, `skip` others, ≤ 4 outputs) fits the kernel. */
export const fitsUpsampleConvResidualMask = (h: number, skip: number, a: ConvAttrs) =>
  a.k === 3 && a.stride === 1 && a.pad === 1 && a.act === "none" && a.cout <= 4 &&
  upsampleConvBlocks(h, skip) * 64 <= UNIFORM_WEIGHT_BYTES;

/**
 * Coefficients of low-res rows i-1, i, i+1 in upsampled row 2i + a + k - 1 (tap k of output row
 * 2i + a), with the kernels' blends: row 2m = mix(v[m-1], v[m], even), 2m+1 = mix(v[m], v[m+1],
 * odd).
 */
function upsampleTaps(mode: UpsampleMode): number[][][] {
  const even = mode === "bilinear" ? 0.75 : 1, odd = mode === "bilinear" ? 0.25 : 0;
  const row = (t: number) =>
    [[1 - odd, odd, 0], [1 - even, even, 0], [0, 1 - odd, odd], [0, 1 - even, even]][t + 1];
  return [0, 1].map((a) => [0, 1, 2].map((k) => row(a + k - 1)));
}

/** Tiles of upsample_conv_head(_baked).wgsl: 2 output rows × 2·TL columns (TL divides h's width). */
const headTiles = (ctx: StepContext<UpsampleConvResidualMaskAttrs>, tl: number) => {
  const [n, h, w] = ctx.inputs[0].shape;
  return n * h * (w / tl);
};

/** The overrides both head tiles take: the tile, the upsampling and the mask's lane. */
const headOverrides = (ctx: StepContext<UpsampleConvResidualMaskAttrs>, tl: number) => ({
  WG: groupSize(headTiles(ctx, tl)),
  TL: tl,
  MODE: ctx.attrs.mode === "nearest" ? 0 : 1,
  MASK_LANE: ctx.attrs.cout - 1,
});

/** upsample_conv_head.wgsl: the tile with its weight blocks in a uniform buffer. */
function upsampleConvHead(tl: number): GpuVariant<UpsampleConvResidualMaskAttrs> {
  return {
    name: `up_${2 * tl}`,
    kernel: "upsample_conv_head",
    uniformWeights: true,
    applies: (ctx) => ctx.inputs[0].shape[2] % tl === 0,
    overrides: (ctx) => ({
      ...headOverrides(ctx, tl),
      UP_Q: quads(ctx.inputs[0].shape[3]),
      S_Q: quads(ctx.inputs[1].shape[3]),
    }),
    workgroups: (ctx) => workgroups1d(headTiles(ctx, tl), groupSize(headTiles(ctx, tl))),
  };
}

/** upsample_conv_head_baked.wgsl: the same tile with the step's blocks compiled in (f32). */
function upsampleConvHeadBaked(tl: number): GpuVariant<UpsampleConvResidualMaskAttrs> {
  const { applies, workgroups } = upsampleConvHead(tl);
  return {
    name: `up_baked_${2 * tl}`,
    kernel: "upsample_conv_head_baked",
    applies,
    bake: bakeUpsampleHead,
    overrides: (ctx) => headOverrides(ctx, tl),
    workgroups,
  };
}

/**
 * upsample_conv_head_baked.wgsl's `layer()` for one step: the uniform kernel's main with its loops
 * over quads unrolled and every block of the op's packing (composed, skip, plain) a literal.
 */
function bakeUpsampleHead(
  ctx: StepContext<UpsampleConvResidualMaskAttrs>,
  [weights, bias]: Float32Array[],
): string {
  const hq = quads(ctx.inputs[0].shape[3]), sq = quads(ctx.inputs[1].shape[3]);
  const block = (i: number) => `mat4x4<f32>(${values(weights.subarray(i * 16, (i + 1) * 16))})`;
  const taps = [0, 1, 2].flatMap((ky) => [0, 1, 2].map((kx) => [ky, kx]));
  const lines = [
    "fn layer(t: Tile) -> Pair {",
    `  var acc = biasPair(vec4<f32>(${values(bias.subarray(0, 4))}));`,
  ];
  for (let q = 0; q < hq; q++) {
    lines.push("  {");
    ["A", "B", "C"].forEach((row, dy) =>
      lines.push(`    let l${dy} = lowColumns(t.row${row}, t.ix0, ${q}u);`)
    );
    for (const [dy, dx] of taps) {
      const columns = [0, 1, 2, 3].map((k) => `l${dy}.p${dx + k}`);
      // Phase (a, b) of composed tap (dy, dx): block ((a·2 + b)·9 + dy·3 + dx)·hq + q.
      const phases = [0, 1, 2, 3].map((ab) => block(((ab * 3 + dy) * 3 + dx) * hq + q));
      lines.push(`    acc = addComposed(acc, ${[...columns, ...phases].join(", ")});`);
    }
    lines.push("  }");
  }
  const plain = (q: number) =>
    taps.filter(([ky, kx]) => ky !== 1 || kx !== 1)
      .map(([ky, kx]) => block(36 * hq + 9 * sq + (ky * 3 + kx) * hq + q));
  lines.push("  if (t.top || t.bottom || t.left || t.right) {");
  for (let q = 0; q < hq; q++) {
    lines.push(`    acc = addEdges(t, ${q}u, acc, ${plain(q).join(", ")});`);
  }
  lines.push("  }");
  for (let q = 0; q < sq; q++) {
    const skip = taps.map(([ky, kx]) => block(36 * hq + (ky * 3 + kx) * sq + q));
    lines.push(`  acc = addSkip(t, ${q}u, acc, ${skip.join(", ")});`);
  }
  lines.push("  return acc;", "}");
  return lines.join("\n");
}

/** Inputs [h, skip, image]: residual_mask(image, conv2d(concat(upsample2x(h), skip))). */
export const upsampleConvResidualMask: OpDef<UpsampleConvResidualMaskAttrs> = {
  name: "upsample_conv2d_residual_mask",
  inferenceOnly: true,
  gpuInputs: 3,
  outputShape: ([h, skip, image], a) => {
    const [n, hh, hw, hc] = h;
    if (skip?.join() !== [n, 2 * hh, 2 * hw, skip[3]].join()) {
      throw new Error(`upsample_conv2d_residual_mask: skip [${skip}] is not h [${h}] upsampled`);
    }
    if (a.cin !== hc + skip[3]) {
      throw new Error(`upsample_conv2d_residual_mask: cin ${a.cin} is not ${hc} + ${skip[3]}`);
    }
    return convResidualMask.outputShape([skip, image], a);
  },
  params: (_inputs, a) => ({ weight: [a.cout, a.cin, a.k, a.k], bias: [a.cout] }),
  reference([h, skip, image], params, a) {
    const up = upsample2x.reference([h], [], { mode: a.mode });
    const [n, oh, ow] = skip.shape;
    const cat = hostTensor([n, oh, ow, a.cin]);
    for (let p = 0; p < n * oh * ow; p++) {
      const c = h.shape[3], s = skip.shape[3];
      cat.data.set(up.data.subarray(p * c, (p + 1) * c), p * a.cin + a.upFrom);
      cat.data.set(skip.data.subarray(p * s, (p + 1) * s), p * a.cin + a.skipFrom);
    }
    return convResidualMask.reference([cat, image], params, a);
  },
  packParams([weight, bias], ctx) {
    const [h, skip] = ctx.inputs;
    const a = ctx.attrs;
    const window = { ...a, k: 3, stride: 1, pad: 1 };
    const slice = (from: number, t: TensorRef) =>
      conv2d.packParams([inputSlice(weight, from, t.shape[3]), zeroBias(a.cout)], {
        ...ctx,
        inputs: [t],
        attrs: window,
      })[0];
    // Plain blocks [ky][kx][q] (conv2d's packing with one output quad), then composed per phase.
    const plain = slice(a.upFrom, h), skipBlocks = slice(a.skipFrom, skip);
    const hq = quads(h.shape[3]);
    const taps = upsampleTaps(a.mode);
    const composed = new Float32Array(36 * hq * 16);
    for (let pa = 0; pa < 2; pa++) {
      for (let pb = 0; pb < 2; pb++) {
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            for (let dy = 0; dy < 3; dy++) {
              for (let dx = 0; dx < 3; dx++) {
                const c = taps[pa][ky][dy] * taps[pb][kx][dx];
                if (c === 0) continue;
                for (let q = 0; q < hq; q++) {
                  const to = ((((pa * 2 + pb) * 3 + dy) * 3 + dx) * hq + q) * 16;
                  const from = ((ky * 3 + kx) * hq + q) * 16;
                  for (let e = 0; e < 16; e++) composed[to + e] += c * plain[from + e];
                }
              }
            }
          }
        }
      }
    }
    const packed = new Float32Array(upsampleConvBlocks(h.shape[3], skip.shape[3]) * 16);
    packed.set(composed);
    packed.set(skipBlocks, composed.length);
    packed.set(plain, composed.length + skipBlocks.length);
    return [packed, packBias(bias, a.cout)];
  },
  struct: UpsampleConvParams,
  uniforms: (ctx) => {
    const [h, skip, image] = ctx.inputs;
    return {
      ...convUniforms({ ...ctx, inputs: [h, image] }),
      skipStride: skip.layout.pixelStride / 4,
      skipOffset: skip.layout.channelOffset / 4,
      skipQ: quads(skip.shape[3]),
      alpha: ctx.attrs.deltaScale,
    };
  },
  variants: [
    upsampleConvHead(4),
    upsampleConvHead(2),
    upsampleConvHead(1),
    upsampleConvHeadBaked(4),
    upsampleConvHeadBaked(2),
    upsampleConvHeadBaked(1),
    inF16(upsampleConvHead(4)),
    inF16(upsampleConvHead(1)),
    // The fast start's (SwiftShader compiles up_8 in 1.9 s).
    {
      name: "direct",
      kernel: "upsample_conv_head_direct",
      uniformWeights: true,
      overrides: (ctx) => ({
        WG: 64,
        MODE: ctx.attrs.mode === "nearest" ? 0 : 1,
        MASK_LANE: ctx.attrs.cout - 1,
      }),
      workgroups: (ctx) => workgroups1d(outPixels(ctx), 64),
    },
  ],
  baseline: [{ variant: "direct" }],
  cost: (ctx) => {
    const [h, skip, image] = ctx.inputs;
    const [n, oh, ow] = ctx.output.shape;
    const { cout } = ctx.attrs;
    const cin = h.shape[3] + skip.shape[3];
    return {
      flops: 2 * n * oh * ow * cout * cin * 9 + residualMask.cost(ctx).flops,
      bytes: 4 *
        (n * oh * ow * (skip.shape[3] + 2 * image.shape[3]) + h.shape.reduce((p, q) => p * q) +
          cout * cin * 9),
    };
  },
};
