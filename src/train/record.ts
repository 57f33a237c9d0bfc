// Recording one backward row on the GPU: pick the variant (tuning table or the first that
// applies), size the partial sums of a reduction, bind in the fixed order (inputs, packed
// parameters, output, uniforms) and, for split reductions, add the sum_partials pass.

import { workgroups1d } from "../runtime/ops/types.ts";
import { shapeText } from "../runtime/tensor.ts";
import type { Tuning } from "../runtime/tuning.ts";
import { SumParams } from "./grad_ops/index.ts";
import type { GradContext, GradOpDef, GradVariant } from "./grad_ops/types.ts";
import type { Binding, Dispatch, Recorder } from "./gpu.ts";

/** Identifies a backward row's shape for the tuning table, like runtime/tuning.ts's stepKey. */
export function gradStepKey<A>(row: GradOpDef<A>, ctx: Omit<GradContext<A>, "splits">): string {
  const shapes = ctx.inputs.map((t) => shapeText(t.shape)).join(",");
  const attrs = Object.entries(ctx.attrs as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("x") : v}`)
    .join(",");
  return `${row.name}(${shapes})[${attrs}]`;
}

export function applicableGradVariants<A>(
  row: GradOpDef<A>,
  ctx: GradContext<A>,
): GradVariant<A>[] {
  return row.variants.filter((v) => !v.applies || v.applies(ctx));
}

/** The variant and the full context (with its split count) for one task. */
export function resolveGradTask<A>(
  row: GradOpDef<A>,
  base: Omit<GradContext<A>, "splits">,
  tuning?: Tuning,
  variantName?: string,
): { variant: GradVariant<A>; ctx: GradContext<A> } {
  const probe = { ...base, splits: 1 };
  const candidates = applicableGradVariants(row, probe);
  if (candidates.length === 0) {
    throw new Error(`no ${row.name} kernel handles ${gradStepKey(row, base)}`);
  }
  // A tuning table entry is a variant name or { variant, wg } (the workgroup size is not retuned
  // for backward rows: they pick their own).
  const entry = tuning?.choices[gradStepKey(row, base)];
  const wanted = variantName ?? (typeof entry === "string" ? entry : entry?.variant);
  const variant = candidates.find((v) => v.name === wanted) ?? candidates[0];
  const splits = row.writes === "param" ? (variant.splits?.(probe) ?? 1) : 1;
  return { variant, ctx: { ...base, splits } };
}

export interface GradBindings {
  inputs: Binding[];
  params: Binding[];
  output: Binding;
  /** Parameter rows: floats of the packed gradient, and scratch for splits × that many floats. */
  paramFloats?: number;
  partial?: Binding;
}

export async function recordGradTask<A>(
  rec: Recorder,
  row: GradOpDef<A>,
  variant: GradVariant<A>,
  ctx: GradContext<A>,
  b: GradBindings,
  label: string,
): Promise<Dispatch[]> {
  const split = row.writes === "param" && ctx.splits > 1;
  if (split && (!b.partial || b.paramFloats === undefined)) {
    throw new Error(`${label}: a split reduction needs partial-sum scratch`);
  }
  const inputs = Array.from({ length: row.gpuInputs }, (_, i) => b.inputs[i] ?? rec.dummy);
  const uniforms = rec.uniform(row.struct, row.uniforms(ctx), label);
  const first = await rec.dispatch(
    variant.kernel,
    row.struct,
    variant.overrides(ctx),
    variant.workgroups(ctx),
    [...inputs, ...b.params, split ? b.partial! : b.output, uniforms],
    label,
  );
  if (!split) return [first];
  const len = b.paramFloats! / 4;
  const sum = await rec.dispatch(
    "sum_partials",
    SumParams,
    { WG: 64, ACCUM: ctx.accumulate ? 1 : 0 },
    workgroups1d(len, 64),
    [b.partial!, b.output, rec.uniform(SumParams, { len, splits: ctx.splits }, `${label}.sum`)],
    `${label}.sum`,
  );
  return [first, sum];
}
