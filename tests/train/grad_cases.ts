// The forward-op cases every backward test runs: each goes through the training plan, so the
// backward rows are exercised exactly as the trainer composes them. Small shapes with stride 2,
// odd sizes, channel counts that are not multiples of 4, batch 2, residuals, every activation.

import type { Shape } from "../../src/runtime/tensor.ts";

export interface FdCase {
  op: string;
  attrs: Record<string, unknown>;
  inputs: Shape[];
  scale?: number;
}

const conv = (inputs: Shape[], attrs: Record<string, unknown>): FdCase => ({
  op: "conv2d",
  attrs,
  inputs,
});
const dw = (inputs: Shape[], attrs: Record<string, unknown>): FdCase => ({
  op: "depthwise_conv2d",
  attrs,
  inputs,
});

export const FD_CASES: FdCase[] = [
  // The stem: Cin = 3, 3×3 stride 2 on odd sizes, batch 2, fused relu6.
  conv([[2, 7, 9, 3]], { cout: 5, k: 3, stride: 2, pad: 1, act: "relu6" }),
  // hardswish cannot be differentiated from its output: the plan splits it off.
  conv([[1, 6, 7, 6]], { cout: 7, k: 3, stride: 1, pad: 1, act: "hardswish" }),
  conv([[1, 8, 8, 5]], { cout: 8, k: 3, stride: 2, pad: 0, act: "leaky_relu", alpha: 0.2 }),
  // The projection with its fused residual, batch 2.
  conv([[2, 5, 4, 12], [2, 5, 4, 10]], { cout: 10, k: 1, stride: 1, pad: 0, act: "none" }),
  conv([[1, 5, 6, 8]], { cout: 6, k: 1, stride: 1, pad: 0, act: "sigmoid" }),
  conv([[1, 4, 6, 8]], { cout: 3, k: 1, stride: 1, pad: 0, act: "tanh" }),
  conv([[1, 5, 6, 4]], { cout: 4, k: 1, stride: 2, pad: 0, act: "relu" }),
  // Activation and residual together: split into conv → add.
  conv([[2, 6, 5, 8], [2, 6, 5, 6]], { cout: 6, k: 3, stride: 1, pad: 1, act: "relu6" }),
  conv([[1, 9, 11, 4]], { cout: 5, k: 5, stride: 2, pad: 2, act: "relu" }),
  conv([[1, 5, 5, 7]], { cout: 4, k: 3, stride: 1, pad: 1, act: "none" }),
  dw([[1, 7, 9, 6]], { k: 3, stride: 1, pad: 1, act: "relu6" }),
  dw([[2, 8, 7, 12], [2, 4, 4, 12]], { k: 3, stride: 2, pad: 1, act: "none" }),
  dw([[1, 8, 8, 9]], { k: 3, stride: 2, pad: 0, act: "hardswish" }),
  dw([[1, 6, 9, 5]], { k: 5, stride: 1, pad: 2, act: "leaky_relu", alpha: 0.1 }),
  dw([[2, 5, 6, 4], [2, 5, 6, 4]], { k: 3, stride: 1, pad: 1, act: "relu6" }),
  { op: "upsample2x", attrs: { mode: "nearest" }, inputs: [[2, 3, 5, 6]] },
  { op: "upsample2x", attrs: { mode: "bilinear" }, inputs: [[2, 3, 5, 6]] },
  { op: "upsample2x", attrs: { mode: "bilinear" }, inputs: [[1, 1, 3, 3]] },
  { op: "upsample2x", attrs: { mode: "bilinear" }, inputs: [[1, 4, 4, 5]] },
  { op: "concat", attrs: {}, inputs: [[1, 3, 4, 8], [1, 3, 4, 3]] },
  { op: "concat", attrs: {}, inputs: [[2, 3, 2, 3], [2, 3, 2, 6]] },
  { op: "add", attrs: { act: "none" }, inputs: [[2, 3, 4, 6], [2, 3, 4, 6]] },
  { op: "add", attrs: { act: "relu6" }, inputs: [[1, 4, 3, 5], [1, 4, 3, 5]], scale: 6 },
  { op: "add", attrs: { act: "leaky_relu", alpha: 0.3 }, inputs: [[2, 2, 3, 3], [2, 2, 3, 3]] },
  { op: "add", attrs: { act: "hardswish" }, inputs: [[1, 3, 3, 4], [1, 3, 3, 4]], scale: 4 },
  ...(["none", "relu", "relu6", "hardswish", "sigmoid", "tanh"] as const).map((act) => ({
    op: "activation",
    attrs: { act },
    inputs: [[2, 3, 4, 5]] as Shape[],
    scale: 5,
  })),
  { op: "activation", attrs: { act: "leaky_relu", alpha: 0.1 }, inputs: [[1, 3, 3, 4]], scale: 2 },
  {
    op: "residual_mask",
    attrs: { deltaScale: 2 },
    inputs: [[2, 4, 5, 3], [2, 4, 5, 4]],
    scale: 2,
  },
  { op: "residual_mask", attrs: { deltaScale: 0.5 }, inputs: [[1, 3, 3, 5], [1, 3, 3, 6]] },
];
