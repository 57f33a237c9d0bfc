// The backward registry: one row per gradient kernel, looked up by name by the training executor,
// its CPU twin and the tests (every row runs against its reference on both backends).

import {
  conv2dGradInput,
  conv2dGradWeight,
  convGradBias,
  depthwiseGradInput,
  depthwiseGradWeight,
} from "./conv.ts";
import {
  activationGradOp,
  addGradOp,
  epilogueGradOp,
  residualMaskGradOp,
  sliceGradOp,
} from "./eltwise.ts";
import { upsampleGradOp } from "./resample.ts";
import type { GradOpDef } from "./types.ts";
import { uniformStruct } from "../../runtime/uniforms.ts";

// deno-lint-ignore no-explicit-any
export const GRAD_OPS: Record<string, GradOpDef<any>> = Object.fromEntries(
  [
    conv2dGradInput,
    conv2dGradWeight,
    convGradBias,
    depthwiseGradInput,
    depthwiseGradWeight,
    activationGradOp,
    epilogueGradOp,
    addGradOp,
    sliceGradOp,
    residualMaskGradOp,
    upsampleGradOp,
  ].map((row) => [row.name, row]),
);

// deno-lint-ignore no-explicit-any
export function getGradOp(name: string): GradOpDef<any> {
  const op = GRAD_OPS[name];
  if (!op) throw new Error(`unknown backward op "${name}"`);
  return op;
}

/** sum_partials.wgsl: `len` vec4s per partial, `splits` partials. */
export const SumParams = uniformStruct("SumParams", { len: "u32", splits: "u32" });
