// Which kernel variant runs each op shape on a given adapter, and with which workgroup size. The
// autotuner (src/runtime/autotune.ts, run by `deno task bench`) measures and writes a table per
// adapter; executors look steps up here: the exact shape, else the nearest tuned shape of the same
// op and attributes, else the op's first variant. Variants needing a device feature the device
// lacks (e.g. shader-f16) are never chosen, so an f32 variant is always the fallback.

import type { GpuVariant, OpDef, StepContext } from "./ops/types.ts";
import { shapeText } from "./tensor.ts";
import { workgroups1d } from "./ops/types.ts";

/** A tuned choice: the variant, and a workgroup size when it is not the variant's own. */
export interface TunedChoice {
  variant: string;
  /** Overrides the variant's `WG` constant (dispatch recomputed to cover the same invocations). */
  wg?: number;
  /** Median milliseconds when measured (reports only). */
  ms?: number;
}

export interface Tuning {
  adapter: string;
  /** stepKey → variant name, or a TunedChoice. */
  choices: Record<string, string | TunedChoice>;
  /** "measured" on this adapter, or "default": shipped for adapters that have no table. */
  source?: "measured" | "default";
}

/** Identifies an op shape: op name, input and output shapes, and the attributes. */
export function stepKey<A>(op: OpDef<A>, ctx: StepContext<A>): string {
  const shapes = ctx.inputs.map((t) => shapeText(t.shape)).join(",");
  return `${op.name}(${shapes})->${shapeText(ctx.output.shape)}[${attrText(ctx.attrs)}]`;
}

const attrText = (attrs: unknown) =>
  Object.entries(attrs as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** Features a variant may require; GPUSupportedFeatures and plain Sets both qualify. */
export type FeatureSet = { has(feature: string): boolean };

/**
 * Variants that can run this step. With `features`, variants whose `requires` the device lacks are
 * dropped; without, any variant with requirements is (the safe f32 fallback).
 */
export function applicableVariants<A>(
  op: OpDef<A>,
  ctx: StepContext<A>,
  features?: FeatureSet,
): GpuVariant<A>[] {
  return op.variants.filter((v) =>
    (!v.applies || v.applies(ctx)) &&
    (v.requires ?? []).every((f) => features?.has(f) ?? false)
  );
}

/** The variant's own workgroup size when it can be retuned (a 1-D `WG` dispatch), else undefined. */
export function tunableWorkgroupSize<A>(
  variant: GpuVariant<A>,
  ctx: StepContext<A>,
): number | undefined {
  const wg = variant.overrides(ctx).WG;
  return typeof wg === "number" && variant.workgroups(ctx)[2] === 1 ? wg : undefined;
}

/**
 * The variant with its `WG` override replaced. Every kernel follows the 1-D convention of
 * kernels/wgsl/README.md (one guarded logical invocation per flattened index, `linearIndex()`), so
 * the same invocations, re-split into groups of `wg`, compute the same result.
 */
export function withWorkgroupSize<A>(variant: GpuVariant<A>, wg: number): GpuVariant<A> {
  return {
    ...variant,
    name: `${variant.name}/wg${wg}`,
    overrides: (ctx) => ({ ...variant.overrides(ctx), WG: wg }),
    workgroups: (ctx) => {
      const base = tunableWorkgroupSize(variant, ctx);
      if (base === undefined) throw new Error(`${variant.name}: workgroup size is not tunable`);
      const [x, y] = variant.workgroups(ctx);
      return workgroups1d(x * y * base, wg);
    },
  };
}

const asChoice = (c: string | TunedChoice): TunedChoice =>
  typeof c === "string" ? { variant: c } : c;

/**
 * The tuned variant for this step, else the first applicable one. `storageWeights`: the caller binds
 * weights as storage ranges it updates (training), so `uniformWeights` and baked variants are out.
 */
export function chooseVariant<A>(
  op: OpDef<A>,
  ctx: StepContext<A>,
  tuning?: Tuning,
  features?: FeatureSet,
  { storageWeights = false } = {},
): GpuVariant<A> {
  const candidates = runnableVariants(op, ctx, features)
    .filter((v) => !(storageWeights && (v.uniformWeights || v.bake)));
  const key = stepKey(op, ctx);
  const entry = tuning?.choices[key] ?? (tuning ? nearestChoice(tuning, key) : undefined);
  if (!entry) return candidates[0];
  const choice = asChoice(entry);
  const variant = candidates.find((v) => v.name === choice.variant);
  return variant ? withChoice(variant, choice, ctx) : candidates[0];
}

/** applicableVariants, where one must exist. */
function runnableVariants<A>(op: OpDef<A>, ctx: StepContext<A>, features?: FeatureSet) {
  const candidates = applicableVariants(op, ctx, features);
  if (candidates.length === 0) throw new Error(`no ${op.name} kernel handles ${stepKey(op, ctx)}`);
  return candidates;
}

/** The variant at the choice's workgroup size, where that differs from its own and is tunable. */
function withChoice<A>(variant: GpuVariant<A>, choice: TunedChoice, ctx: StepContext<A>) {
  const own = tunableWorkgroupSize(variant, ctx);
  return choice.wg && own !== undefined && choice.wg !== own
    ? withWorkgroupSize(variant, choice.wg)
    : variant;
}

/**
 * The op's baseline variant for this step (see OpDef.baseline): what runs while the tuned kernels
 * compile. Always f32, so it needs no device feature.
 */
export function baselineVariant<A>(op: OpDef<A>, ctx: StepContext<A>): GpuVariant<A> {
  const candidates = runnableVariants(op, ctx);
  for (const choice of op.baseline ?? []) {
    const variant = candidates.find((v) => v.name === choice.variant);
    if (variant) return withChoice(variant, choice, ctx);
  }
  return candidates[0];
}

// ---- nearest tuned shape ----------------------------------------------------------------------

interface ParsedKey {
  /** op, attributes and input count: what must match. */
  family: string;
  /** log2 of output elements and of the first input's channels: what should be close. */
  size: number;
  channels: number;
}

function parseKey(key: string): ParsedKey | undefined {
  const m = /^(\w+)\(([^)]*)\)->([\dx]+)\[(.*)\]$/.exec(key);
  if (!m) return undefined;
  const inputs = m[2].split(",");
  const dims = (s: string) => s.split("x").map(Number);
  const out = dims(m[3]);
  return {
    family: `${m[1]}#${inputs.length}[${m[4]}]`,
    size: Math.log2(out.reduce((a, b) => a * b, 1)),
    channels: Math.log2(dims(inputs[0])[3] || 1),
  };
}

const indexes = new WeakMap<Tuning, Map<string, { parsed: ParsedKey; key: string }[]>>();

/**
 * A tuned choice for an untuned shape: the same op with the same attributes at the closest size
 * (e.g. 192² from a table tuned at 128² and 256²), so a table generalises across input sizes.
 */
export function nearestChoice(tuning: Tuning, key: string): string | TunedChoice | undefined {
  const wanted = parseKey(key);
  if (!wanted) return undefined;
  let index = indexes.get(tuning);
  if (!index) {
    index = new Map();
    for (const k of Object.keys(tuning.choices)) {
      const parsed = parseKey(k);
      if (parsed) index.set(parsed.family, [...index.get(parsed.family) ?? [], { parsed, key: k }]);
    }
    indexes.set(tuning, index);
  }
  let best: { key: string; distance: number } | undefined;
  for (const { parsed, key: k } of index.get(wanted.family) ?? []) {
    const distance = Math.abs(parsed.size - wanted.size) +
      Math.abs(parsed.channels - wanted.channels);
    if (!best || distance < best.distance) best = { key: k, distance };
  }
  return best && tuning.choices[best.key];
}

/**
 * The choices several adapters' tables agree on: for each shape tuned in all of them, the variant
 * when they all chose it (with the workgroup size only when that agrees too). What they disagree
 * on is left out (an unknown adapter then takes the nearest agreed shape, or the registry's
 * order). The shipped software defaults are made this way from every software adapter tuned.
 */
export function agreedChoices(tables: Tuning[], adapter: string): Tuning {
  const choices: Record<string, string | TunedChoice> = {};
  const [first] = tables;
  for (const key of Object.keys(first?.choices ?? {})) {
    const all = tables.map((t) => t.choices[key]).filter((c) => c !== undefined).map(asChoice);
    if (all.length !== tables.length) continue;
    if (!all.every((c) => c.variant === all[0].variant)) continue;
    const wg = all.every((c) => c.wg === all[0].wg) ? all[0].wg : undefined;
    choices[key] = wg === undefined ? all[0].variant : { variant: all[0].variant, wg };
  }
  return { adapter, source: "default", choices };
}

// ---- files ------------------------------------------------------------------------------------

/** Where tuning files live next to the source: `tuning/<adapter key>.json` at the repo root. */
export const TUNING_DIR = new URL("../../tuning/", import.meta.url);

/** The shipped table for software adapters (llvmpipe, SwiftShader, WARP) that have none of their own. */
export const SOFTWARE_DEFAULTS = "default-software";

const isTuning = (t: unknown): t is Tuning =>
  typeof t === "object" && t !== null && typeof (t as Tuning).adapter === "string" &&
  typeof (t as Tuning).choices === "object" && (t as Tuning).choices !== null;

async function fetchTuning(name: string, base: URL): Promise<Tuning | undefined> {
  try {
    const response = await fetch(new URL(`${name}.json`, base));
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const tuning = await response.json();
    return isTuning(tuning) ? tuning : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads the tuning table for an adapter, from the repo (Deno reads file: URLs with fetch) or a
 * server (the browser passes its origin's /tuning/). Without one, a software adapter gets the
 * shipped software defaults; otherwise undefined means each op's first variant.
 */
export async function loadTuning(
  adapter: string,
  base: URL = TUNING_DIR,
  options: { isFallbackAdapter?: boolean } = {},
): Promise<Tuning | undefined> {
  const own = await fetchTuning(adapter, base);
  if (own && own.adapter === adapter) return own;
  if (!options.isFallbackAdapter) return undefined;
  const defaults = await fetchTuning(SOFTWARE_DEFAULTS, base);
  return defaults && { ...defaults, source: "default" };
}
