// The op registry: one row per op, looked up by name by both executors, the bench and the tests.

import {
  conv2d,
  convResidualMask,
  depthwiseConv2d,
  depthwiseProject,
  pointwiseAddUpsampled,
  pointwisePart,
  upsampleConvResidualMask,
} from "./conv.ts";
import { concat } from "./concat.ts";
import { activation, add, residualMask } from "./eltwise.ts";
import { upsample2x } from "./resample.ts";
import type { OpDef } from "./types.ts";

// deno-lint-ignore no-explicit-any
export const OPS: Record<string, OpDef<any>> = {
  conv2d,
  depthwise_conv2d: depthwiseConv2d,
  depthwise_project: depthwiseProject,
  conv2d_residual_mask: convResidualMask,
  pointwise_part: pointwisePart,
  pointwise_add_upsampled: pointwiseAddUpsampled,
  upsample_conv2d_residual_mask: upsampleConvResidualMask,
  upsample2x,
  concat,
  add,
  activation,
  residual_mask: residualMask,
};

// deno-lint-ignore no-explicit-any
export function getOp(name: string): OpDef<any> {
  const op = OPS[name];
  if (!op) throw new Error(`unknown op "${name}"`);
  return op;
}
