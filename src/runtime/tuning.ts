// Which kernel variant runs each op shape on a given adapter. The bench measures and writes a
// tuning table per adapter; executors look steps up here and fall back to the op's first variant.

import type { GpuVariant, OpDef, StepContext } from "./ops/types.ts";
import { shapeText } from "./tensor.ts";

export interface Tuning {
  adapter: string;
  /** stepKey → variant name */
  choices: Record<string, string>;
}

/** Identifies an op shape: op name, input and output shapes, and the attributes. */
export function stepKey<A>(op: OpDef<A>, ctx: StepContext<A>): string {
  const shapes = ctx.inputs.map((t) => shapeText(t.shape)).join(",");
  const attrs = Object.entries(ctx.attrs as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return `${op.name}(${shapes})->${shapeText(ctx.output.shape)}[${attrs}]`;
}

export function applicableVariants<A>(op: OpDef<A>, ctx: StepContext<A>): GpuVariant<A>[] {
  return op.variants.filter((v) => !v.applies || v.applies(ctx));
}

export function chooseVariant<A>(
  op: OpDef<A>,
  ctx: StepContext<A>,
  tuning?: Tuning,
): GpuVariant<A> {
  const candidates = applicableVariants(op, ctx);
  if (candidates.length === 0) throw new Error(`no ${op.name} kernel handles ${stepKey(op, ctx)}`);
  const tuned = tuning?.choices[stepKey(op, ctx)];
  return candidates.find((v) => v.name === tuned) ?? candidates[0];
}

/** Where tuning files live next to the source: `tuning/<adapter key>.json` at the repo root. */
export const TUNING_DIR = new URL("../../tuning/", import.meta.url);

/**
 * Loads the tuning table for an adapter, from the repo (Deno reads file: URLs with fetch) or a
 * server (the browser passes its origin's /tuning/). A missing or unreadable table means defaults.
 */
export async function loadTuning(
  adapter: string,
  base: URL = TUNING_DIR,
): Promise<Tuning | undefined> {
  try {
    const response = await fetch(new URL(`${adapter}.json`, base));
    if (!response.ok) return undefined;
    const tuning = await response.json() as Tuning;
    return tuning.adapter === adapter && typeof tuning.choices === "object" ? tuning : undefined;
  } catch {
    return undefined;
  }
}
