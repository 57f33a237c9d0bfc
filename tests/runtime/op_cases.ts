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
  // Pointwise 1×1 (the GEMM) with a fused residual, batch 3.
  conv([[3, 7, 5, 12], [3, 7, 5, 10]], { cout: 10, k: 1, stride: 1, pad: 0, act: "none" }),
  conv([[2, 13, 13, 16]], { cout: 24, k: 1, stride: 1, pad: 0, act: "sigmoid" }),
  conv([[1, 6, 10, 8]], { cout: 3, k: 1, stride: 1, pad: 0, act: "tanh" }),
  conv([[1, 5, 6, 4]], { cout: 4, k: 1, stride: 2, pad: 0, act: "relu" }),
];
