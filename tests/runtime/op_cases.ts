// The shared case list every op row runs against: each case runs on the CPU reference and on every
// applicable GPU variant, and the two must agree. Shapes include odd sizes, stride-2 edges, Cin = 3,
// channel counts that are not multiples of 4, and batch > 1.

import type { Shape } from "../../src/runtime/tensor.ts";

export interface OpCase {
  op: string;
  attrs: Record<string, unknown>;
  inputs: Shape[];
  /** Parameter names in op order; shapes come from the op row. */
  params: string[];
  /** Scale of random inputs (e.g. larger for activations with interesting ranges). */
  scale?: number;
}

const conv = (
  inputs: Shape[],
  attrs: Record<string, unknown>,
): OpCase => ({ op: "conv2d", attrs, inputs, params: ["weight", "bias"] });

export const OP_CASES: OpCase[] = [
  // The Cin = 3 stem: 3×3 stride 2 on an odd size.
  conv([[2, 17, 15, 3]], { cout: 16, k: 3, stride: 2, pad: 1, act: "relu6" }),
  // 3×3 stride 1, channels not multiples of 4 in and out.
  conv([[1, 9, 11, 6]], { cout: 7, k: 3, stride: 1, pad: 1, act: "hardswish" }),
  // Stride-2 edge without padding on an even size.
  conv([[1, 8, 8, 5]], { cout: 8, k: 3, stride: 2, pad: 0, act: "leaky_relu", alpha: 0.2 }),
  // Widths that the baked k×k tiles divide (4 only; 4 and 8): a fused residual, and stride 2
  // without padding at batch 2.
  conv([[1, 6, 12, 6], [1, 6, 12, 7]], { cout: 7, k: 3, stride: 1, pad: 1, act: "hardswish" }),
  conv([[2, 17, 17, 5]], { cout: 8, k: 3, stride: 2, pad: 0, act: "leaky_relu", alpha: 0.2 }),
  // Pointwise 1×1 (the GEMM) with a fused residual, batch 3.
  conv([[3, 7, 5, 12], [3, 7, 5, 10]], { cout: 10, k: 1, stride: 1, pad: 0, act: "none" }),
  conv([[2, 13, 13, 16]], { cout: 24, k: 1, stride: 1, pad: 0, act: "sigmoid" }),
  conv([[1, 6, 10, 8]], { cout: 3, k: 1, stride: 1, pad: 0, act: "tanh" }),
  conv([[1, 5, 6, 4]], { cout: 4, k: 1, stride: 2, pad: 0, act: "relu" }),
  // Decoder upsampling: odd sizes, C not a multiple of 4, batch > 1, and a 1-pixel-high edge.
  { op: "upsample2x", attrs: { mode: "nearest" }, inputs: [[2, 5, 7, 6]], params: [] },
  { op: "upsample2x", attrs: { mode: "bilinear" }, inputs: [[2, 5, 7, 6]], params: [] },
  { op: "upsample2x", attrs: { mode: "bilinear" }, inputs: [[3, 1, 3, 3]], params: [] },
  // Skip concat: aligned first part (both variants), then parts that straddle quads.
  { op: "concat", attrs: {}, inputs: [[2, 5, 7, 8], [2, 5, 7, 3]], params: [] },
  { op: "concat", attrs: {}, inputs: [[1, 6, 5, 3], [1, 6, 5, 6]], params: [] },
  { op: "concat", attrs: {}, inputs: [[2, 3, 9, 5], [2, 3, 9, 7]], params: [] },
  // Un-fused primitives of the graph IR.
  { op: "add", attrs: { act: "none" }, inputs: [[2, 7, 5, 6], [2, 7, 5, 6]], params: [] },
  {
    op: "add",
    attrs: { act: "relu6" },
    inputs: [[1, 9, 7, 12], [1, 9, 7, 12]],
    params: [],
    scale: 8,
  },
  {
    op: "add",
    attrs: { act: "leaky_relu", alpha: 0.3 },
    inputs: [[3, 4, 5, 3], [3, 4, 5, 3]],
    params: [],
  },
  ...(["none", "relu", "relu6", "hardswish", "sigmoid", "tanh"] as const).map((act): OpCase => ({
    op: "activation",
    attrs: { act },
    inputs: [[2, 9, 7, 5]],
    params: [],
    scale: 8,
  })),
  {
    op: "activation",
    attrs: { act: "leaky_relu", alpha: 0.1 },
    inputs: [[1, 3, 3, 4]],
    params: [],
  },
  // The output head: 3 image channels + (3 delta logits, 1 mask logit); also a non-RGB width.
  {
    op: "residual_mask",
    attrs: { deltaScale: 2 },
    inputs: [[2, 9, 7, 3], [2, 9, 7, 4]],
    params: [],
    scale: 4,
  },
  {
    op: "residual_mask",
    attrs: { deltaScale: 0.5 },
    inputs: [[1, 5, 3, 3], [1, 5, 3, 4]],
    params: [],
  },
  { op: "residual_mask", attrs: {}, inputs: [[1, 4, 5, 5], [1, 4, 5, 6]], params: [], scale: 3 },
];

// Convolution variants' tile tails (pointwise register tiles of 4/8 pixels × 1/2 quads, the
// 64-pixel × 8-quad workgroup tile with 4-quad input steps, 4/8-pixel rows of the k×k and
// depthwise register kernels): pixel, row and quad counts that no tile divides.
const depthwise = (inputs: Shape[], attrs: Record<string, unknown>): OpCase => ({
  op: "depthwise_conv2d",
  attrs,
  inputs,
  params: ["weight", "bias"],
});

OP_CASES.push(
  conv([[1, 9, 13, 20]], { cout: 36, k: 1, stride: 1, pad: 0, act: "relu6" }),
  conv([[2, 7, 9, 30], [2, 7, 9, 22]], { cout: 22, k: 1, stride: 1, pad: 0, act: "hardswish" }),
  conv([[1, 11, 12, 70]], { cout: 130, k: 1, stride: 1, pad: 0, act: "none" }),
  conv([[1, 3, 3, 7]], { cout: 1, k: 1, stride: 1, pad: 0, act: "relu" }),
  // 3×3 with more than 4 output quads (5: a partial quad tile) and a residual, batch 2.
  conv([[2, 10, 13, 8], [2, 10, 13, 20]], { cout: 20, k: 3, stride: 1, pad: 1, act: "relu6" }),
  // The final decoder conv's shape, small: 16 → 4 channels, 3×3, a width of 19.
  conv([[1, 12, 19, 16]], { cout: 4, k: 3, stride: 1, pad: 1, act: "none" }),
  // 3×3 with the most output quads one invocation of conv2d_few holds (4, the last one partial),
  // unpadded, with a residual, batch 2.
  conv([[2, 6, 10, 5], [2, 4, 8, 14]], { cout: 14, k: 3, stride: 1, pad: 0, act: "relu" }),
  // 5×5 stride 2: the k×k register kernel's columns at a stride, beyond the 3×3 the student uses.
  conv([[1, 9, 21, 4]], { cout: 8, k: 5, stride: 2, pad: 2, act: "relu" }),
  depthwise([[1, 9, 11, 6]], { k: 3, stride: 1, pad: 1, act: "relu6" }),
  depthwise([[2, 10, 13, 12], [2, 5, 7, 12]], { k: 3, stride: 2, pad: 1, act: "none" }),
  depthwise([[1, 8, 8, 9]], { cout: 9, k: 3, stride: 2, pad: 0, act: "hardswish" }),
  depthwise([[2, 7, 19, 16], [2, 7, 19, 16]], { k: 3, stride: 1, pad: 1, act: "relu6" }),
  depthwise([[1, 6, 9, 5]], { k: 5, stride: 1, pad: 2, act: "leaky_relu", alpha: 0.1 }),
  depthwise([[1, 17, 17, 4]], { k: 3, stride: 2, pad: 1, act: "sigmoid" }),
);

// The planner's fused depthwise 3×3 + 1×1 projection: both strides, odd sizes no tile divides,
// expanded and output channels that are not multiples of 4, output quads beyond one group (9:
// two groups, the last partial), a residual with batch 2, and projection activations.
const depthwiseProject = (inputs: Shape[], attrs: Record<string, unknown>): OpCase => ({
  op: "depthwise_project",
  attrs,
  inputs,
  params: ["dwWeight", "dwBias", "weight", "bias"],
});

OP_CASES.push(
  depthwiseProject([[1, 9, 11, 24]], { stride: 1, dwAct: "relu6", cout: 16, act: "none" }),
  depthwiseProject([[2, 7, 13, 18], [2, 7, 13, 6]], {
    stride: 1,
    dwAct: "relu",
    cout: 6,
    act: "none",
  }),
  depthwiseProject([[1, 11, 10, 20]], { stride: 2, dwAct: "relu6", cout: 36, act: "relu" }),
  depthwiseProject([[2, 5, 19, 8]], { stride: 2, dwAct: "none", cout: 3, act: "relu6" }),
  depthwiseProject([[1, 4, 3, 12]], { stride: 1, dwAct: "relu6", cout: 1, act: "none" }),
);

// The planner's fused head conv + residual + mask: 3×3 on the student's 20 features at an odd size
// with batch 2, a 1×1 one, and a narrower image (2 channels + mask: the mask in lane 2).
const convResidualMask = (inputs: Shape[], attrs: Record<string, unknown>): OpCase => ({
  op: "conv2d_residual_mask",
  attrs,
  inputs,
  params: ["weight", "bias"],
  scale: 3,
});

OP_CASES.push(
  convResidualMask([[2, 9, 13, 20], [2, 9, 13, 3]], {
    cout: 4,
    k: 3,
    stride: 1,
    pad: 1,
    act: "none",
    deltaScale: 2,
  }),
  convResidualMask([[1, 6, 11, 8], [1, 6, 11, 3]], {
    cout: 4,
    k: 1,
    stride: 1,
    pad: 0,
    act: "none",
    deltaScale: 0.5,
  }),
  convResidualMask([[1, 5, 7, 6], [1, 5, 7, 2]], {
    cout: 3,
    k: 3,
    stride: 1,
    pad: 1,
    act: "none",
    deltaScale: 1,
  }),
);

// The planner's commuted decoder expand: the upsampled channels' share of the 1×1 conv at low
// resolution (pointwise_part), then the skip's share adding it upsampled (pointwise_add_upsampled):
// both modes, the upsampled part first or second in the weight, odd low-res sizes, widths that 8
// pixels do not divide (14) or do (16), a partial last quad tile (5 quads), a 1-row low-res edge.
const slice = (cout: number, cin: number, from: number, act = "none") => ({
  cout,
  k: 1,
  stride: 1,
  pad: 0,
  act,
  cin,
  from,
});
OP_CASES.push(
  { op: "pointwise_part", attrs: slice(10, 20, 8), inputs: [[2, 5, 7, 12]], params: ["weight"] },
  { op: "pointwise_part", attrs: slice(7, 9, 0), inputs: [[1, 3, 4, 5]], params: ["weight"] },
  {
    op: "pointwise_add_upsampled",
    attrs: { ...slice(10, 18, 12, "relu6"), mode: "bilinear" },
    inputs: [[2, 10, 14, 6], [2, 5, 7, 10]],
    params: ["weight", "bias"],
    scale: 4,
  },
  {
    op: "pointwise_add_upsampled",
    attrs: { ...slice(20, 28, 20, "hardswish"), mode: "nearest" },
    inputs: [[1, 6, 16, 8], [1, 3, 8, 20]],
    params: ["weight", "bias"],
    scale: 3,
  },
  {
    op: "pointwise_add_upsampled",
    attrs: { ...slice(7, 12, 0), mode: "bilinear" },
    inputs: [[1, 2, 16, 5], [1, 1, 8, 7]],
    params: ["weight", "bias"],
  },
  {
    op: "pointwise_add_upsampled",
    attrs: { ...slice(16, 40, 24, "relu6"), mode: "bilinear" },
    inputs: [[1, 8, 24, 16], [1, 4, 12, 16]],
    params: ["weight", "bias"],
    scale: 4,
  },
);

// The planner's head without its full-resolution upsample: the conv over [upsample2x(h), skip]
// with composed weights and the zero padding restored on the outermost rows and columns. Both
// modes, the upsampled part first or second, low-res widths every tile (4, 2, 1) or only some
// (6) divide, a 1×1 low-res input (every edge and corner at once), a narrower image, batch 2.
const upsampleHead = (
  inputs: Shape[],
  mode: string,
  cout: number,
  upFirst: boolean,
): OpCase => {
  const [h, skip] = [inputs[0][3], inputs[1][3]];
  return {
    op: "upsample_conv2d_residual_mask",
    attrs: {
      cout,
      k: 3,
      stride: 1,
      pad: 1,
      act: "none",
      deltaScale: 2,
      cin: h + skip,
      upFrom: upFirst ? 0 : skip,
      skipFrom: upFirst ? h : 0,
      mode,
    },
    inputs,
    params: ["weight", "bias"],
    scale: 3,
  };
};
OP_CASES.push(
  upsampleHead([[2, 5, 4, 8], [2, 10, 8, 3], [2, 10, 8, 3]], "bilinear", 4, true),
  upsampleHead([[1, 3, 6, 5], [1, 6, 12, 2], [1, 6, 12, 2]], "nearest", 3, false),
  upsampleHead([[1, 1, 1, 4], [1, 2, 2, 3], [1, 2, 2, 3]], "bilinear", 4, true),
  upsampleHead([[1, 8, 8, 16], [1, 16, 16, 3], [1, 16, 16, 3]], "bilinear", 4, true),
);
