// The planner turns a graph into a runtime Program: it fuses (conv + bias + activation, residual
// add into the projecting conv; for inference, a depthwise conv into the 1×1 conv after it, the
// head conv into its residual + mask and its upsample, and a 1×1 conv over [upsampled, skip] into a
// low-res GEMM and an upsampling epilogue; concat into its producers' outputs) and places tensors
// in shared buffer slots by lifetime. It also counts FLOPs, parameters and activation memory.

import type { Activation } from "../runtime/activation.ts";
import {
  type ConvAttrs,
  type DepthwiseProjectAttrs,
  fitsConvResidualMask,
  fitsDepthwiseProject,
  fitsPointwiseAddUpsampled,
  fitsUpsampleConvResidualMask,
} from "../runtime/ops/conv.ts";
import { getOp } from "../runtime/ops/index.ts";
import type { Program, ProgramStep, ProgramTensor } from "../runtime/program.ts";
import { denseLayout, type Layout, layoutFloats, pad4 } from "../runtime/tensor.ts";
import type { Graph, Node } from "./ir.ts";

export interface PlanOptions {
  /** Fold activations and residual adds into convolutions (default true). */
  fuse?: boolean;
  /**
   * Also the fusions into steps that have no backward (default: as `fuse`; training plans without
   * them): each depthwise conv with the 1×1 conv after it (depthwise_project), the head's conv
   * with the residual + mask after it (conv2d_residual_mask), a 1×1 conv over a concat of an
   * upsample and a skip (pointwise_part + pointwise_add_upsampled), and the head's upsample into
   * its conv (upsample_conv2d_residual_mask).
   */
  fuseForInference?: boolean;
  /** Let producers write straight into a concat's channel slices (default true). */
  aliasConcat?: boolean;
}

export interface PlanStats {
  /** GPU dispatches per inference. */
  steps: number;
  flops: number;
  params: number;
  /** Bytes of activation buffers after sharing slots by lifetime. */
  activationBytes: number;
  /** Bytes if every tensor had a buffer of its own. */
  naiveActivationBytes: number;
}

const CONVS = new Set(["conv2d", "depthwise_conv2d"]);

export function plan(
  graph: Graph,
  options: PlanOptions = {},
): { program: Program; stats: PlanStats } {
  const nodes: Node[] = graph.nodes.map((n) => ({
    ...n,
    inputs: [...n.inputs],
    attrs: { ...n.attrs },
  }));
  const alias = new Map<number, number>(); // fused-away node → the node that now produces its value
  const resolve = (id: number): number => alias.has(id) ? resolve(alias.get(id)!) : id;
  const live = () => nodes.filter((n) => !alias.has(n.id));
  const outputs = () => graph.outputs.map(resolve);

  const fuse = options.fuse ?? true;
  const state = (): FusionState => {
    const now = live();
    return { nodes, live: now, alias, resolve, soleUser: soleUserCheck(now, resolve, outputs()) };
  };
  if (fuse) { while (fuseOnce(state())); }
  if (options.fuseForInference ?? fuse) { while (fuseForInference(state())); }
  for (const n of nodes) n.inputs = n.inputs.map(resolve);

  const values = live();
  const placement = new Map<number, { host: number; offset: number }>();
  if (options.aliasConcat ?? true) {
    for (const n of values) {
      if (n.op !== "concat") continue;
      const [a, b] = n.inputs;
      const placeable = (id: number) =>
        !placement.has(id) && nodes[id].op !== "concat" && !outputs().includes(id);
      // A producer that reads the other part would read and write one buffer in one dispatch.
      const independent = !nodes[a].inputs.includes(b) && !nodes[b].inputs.includes(a);
      if (a === b || nodes[a].shape[3] % 4 !== 0 || !placeable(a) || !placeable(b)) continue;
      if (!independent) continue;
      placement.set(a, { host: n.id, offset: 0 });
      placement.set(b, { host: n.id, offset: pad4(nodes[a].shape[3]) });
    }
  }
  const isVirtual = (n: Node) => n.op === "concat" && n.inputs.some((i) => placement.has(i));

  // Steps in graph order (already topological); program tensors indexed like `values`.
  const index = new Map(values.map((n, i) => [n.id, i]));
  const stepNodes = values.filter((n) => n.op !== "input");
  const steps: ProgramStep[] = stepNodes.map((n) => ({
    op: n.op,
    attrs: n.attrs,
    inputs: n.inputs.map((i) => index.get(i)!),
    output: index.get(n.id)!,
    params: n.params,
    label: n.name,
    ...(isVirtual(n) ? { elided: true } : {}),
  }));

  // Storage groups: a virtual concat and its parts share one; everything else stands alone.
  const group = (id: number): number => placement.get(id)?.host ?? id;
  const layoutOf = (n: Node): Layout => {
    const p = placement.get(n.id);
    if (!p) return denseLayout(n.shape);
    return { pixelStride: pad4(nodes[p.host].shape[3]), channelOffset: p.offset };
  };
  const born = new Map<number, number>();
  const dies = new Map<number, number>();
  const touch = (id: number, step: number) => {
    const gid = group(id);
    born.set(gid, Math.min(born.get(gid) ?? Infinity, step));
    dies.set(gid, Math.max(dies.get(gid) ?? -Infinity, step));
  };
  for (const n of values) if (n.op === "input") touch(n.id, -1);
  stepNodes.forEach((n, s) => {
    touch(n.id, s);
    for (const i of n.inputs) {
      touch(i, s);
      // Reading a virtual concat reads its parts: keep the whole group alive.
      if (isVirtual(nodes[i])) { for (const part of nodes[i].inputs) touch(part, s); }
    }
  });
  for (const o of outputs()) touch(o, steps.length);

  const groups = [...born.keys()];
  const bytes = new Map(
    groups.map((gid) => [gid, layoutFloats(nodes[gid].shape, layoutOf(nodes[gid])) * 4]),
  );
  const slotOf = assignSlots(groups, bytes, born, dies);

  const tensors: ProgramTensor[] = values.map((n) => ({
    shape: n.shape,
    layout: layoutOf(n),
    slot: slotOf.slot.get(group(n.id))!,
  }));
  const program: Program = {
    tensors,
    slots: slotOf.sizes,
    steps,
    inputs: graph.inputs.map((i) => index.get(i)!),
    outputs: outputs().map((i) => index.get(i)!),
  };

  const dispatched = steps.filter((s) => !s.elided);
  const flops = dispatched.reduce((sum, s) => {
    const ctx = {
      inputs: s.inputs.map((i) => tensors[i]),
      output: tensors[s.output],
      attrs: s.attrs,
    };
    return sum + getOp(s.op).cost(ctx).flops;
  }, 0);
  const params = graph.paramSpecs().reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
  const stats: PlanStats = {
    steps: dispatched.length,
    flops,
    params,
    activationBytes: slotOf.sizes.reduce((a, b) => a + b, 0),
    naiveActivationBytes: [...bytes.values()].reduce((a, b) => a + b, 0),
  };
  return { program, stats };
}

/** What one fusion rewrite reads and updates. */
interface FusionState {
  nodes: Node[];
  live: Node[];
  /** Fused-away node → the node that now produces its value. */
  alias: Map<number, number>;
  resolve: (id: number) => number;
  /** Whether `user` is the only reader of node `id`'s value, which is not a graph output. */
  soleUser: (id: number, user: number) => boolean;
}

function soleUserCheck(live: Node[], resolve: (id: number) => number, outputs: number[]) {
  const users = new Map<number, number[]>();
  for (const n of live) {
    for (const i of n.inputs.map(resolve)) users.set(i, [...users.get(i) ?? [], n.id]);
  }
  return (id: number, user: number) =>
    users.get(id)?.length === 1 && users.get(id)![0] === user && !outputs.includes(id);
}

/** One fusion rewrite, if any applies: activation into its conv, then residual add into a conv. */
function fuseOnce({ nodes, live, alias, resolve, soleUser }: FusionState): boolean {
  for (const n of live) {
    const inputs = n.inputs.map(resolve);
    if (n.op === "activation") {
      const p = nodes[inputs[0]];
      if (
        CONVS.has(p.op) && p.attrs.act === "none" && p.inputs.length === 1 && soleUser(p.id, n.id)
      ) {
        p.attrs.act = n.attrs.act;
        if (n.attrs.alpha !== undefined) p.attrs.alpha = n.attrs.alpha;
        alias.set(n.id, p.id);
        return true;
      }
    }
    if (n.op === "add" && (n.attrs.act ?? "none") === "none") {
      for (const [u, r] of [[inputs[0], inputs[1]], [inputs[1], inputs[0]]]) {
        const p = nodes[u];
        // The residual must already exist when the conv runs.
        if (CONVS.has(p.op) && p.inputs.length === 1 && r < u && soleUser(u, n.id)) {
          p.inputs.push(r);
          alias.set(n.id, p.id);
          return true;
        }
      }
    }
  }
  return false;
}

/**
 * One fusion into an inference-only step, if any applies. A depthwise 3×3 (activation fused, no
 * residual) whose only reader is a 1×1 conv becomes part of that conv, a depthwise_project step:
 * the depthwise output, a block's widest tensor, is then never stored (measured on llvmpipe:
 * 0.5-0.7× the pair's time, see depthwise_project.wgsl). A conv whose only reader is the
 * residual + mask head becomes conv2d_residual_mask: its logits are never stored either. A 1×1
 * conv over concat(upsample2x(h), skip) becomes pointwise_part (the upsampled channels' share of
 * the GEMM, on h at a quarter of the pixels) and pointwise_add_upsampled (the skip's share, adding
 * the part upsampled): the upsampled tensor is never stored. The head's conv2d_residual_mask over
 * concat(upsample2x(h), image) becomes upsample_conv2d_residual_mask, a conv of h itself with
 * weights composed per output phase: the full-resolution upsample is never stored either.
 */
function fuseForInference(state: FusionState): boolean {
  const { nodes, live, alias, resolve, soleUser } = state;
  for (const n of live) {
    const a = n.attrs;
    if (n.op !== "conv2d" || a.k !== 1 || a.stride !== 1 || a.pad !== 0) continue;
    const [u, ...residual] = n.inputs.map(resolve);
    const dw = nodes[u];
    const d = dw.attrs;
    const attrs: DepthwiseProjectAttrs = {
      stride: d.stride as number,
      dwAct: d.act as Activation,
      cout: a.cout as number,
      act: a.act as Activation,
    };
    const fits = dw.op === "depthwise_conv2d" && d.k === 3 && d.pad === 1 &&
      (d.stride === 1 || d.stride === 2) && dw.inputs.length === 1 &&
      fitsDepthwiseProject(dw.shape[3], attrs);
    if (!fits || !soleUser(u, n.id)) continue;
    n.op = "depthwise_project";
    n.attrs = attrs as unknown as Record<string, unknown>;
    n.inputs = [resolve(dw.inputs[0]), ...residual];
    n.params = [...dw.params, ...n.params];
    alias.set(dw.id, n.id); // no longer computed on its own
    return true;
  }
  for (const n of live) {
    if (n.op !== "residual_mask") continue;
    const [x, h] = n.inputs.map(resolve);
    const conv = nodes[h];
    const a = conv.attrs;
    const fits = conv.op === "conv2d" && a.act === "none" && conv.inputs.length === 1 &&
      fitsConvResidualMask(nodes[resolve(conv.inputs[0])].shape[3], a as unknown as ConvAttrs);
    if (!fits || !soleUser(h, n.id)) continue;
    n.op = "conv2d_residual_mask";
    n.attrs = { ...a, deltaScale: n.attrs.deltaScale ?? 2 };
    n.inputs = [resolve(conv.inputs[0]), x];
    n.params = conv.params;
    alias.set(h, n.id); // no longer computed on its own
    return true;
  }
  for (const n of live) {
    const a = n.attrs;
    if (n.op !== "conv2d" || a.k !== 1 || a.stride !== 1 || a.pad !== 0) continue;
    if (n.inputs.length !== 1) continue; // a residual would need its own epilogue
    const found = upsampledConcat(state, n.inputs[0], n.id);
    if (!found || !fitsPointwiseAddUpsampled(found.skip.shape[3], a.cout as number)) continue;
    const { cat, up, skip, upFrom, skipFrom } = found;
    const mode = up.attrs.mode;
    const low = nodes[resolve(up.inputs[0])];
    const slice = { cout: a.cout, k: 1, stride: 1, pad: 0, cin: cat.shape[3] };
    // The upsample node becomes the low-res GEMM, keeping its place in graph order.
    up.op = "pointwise_part";
    up.attrs = { ...slice, act: "none", from: upFrom };
    up.inputs = [low.id];
    up.params = [n.params[0]];
    up.shape = [low.shape[0], low.shape[1], low.shape[2], a.cout as number];
    up.name = `${n.name}.lowres`;
    n.op = "pointwise_add_upsampled";
    n.attrs = { ...a, ...slice, from: skipFrom, mode };
    n.inputs = [skip.id, up.id];
    alias.set(cat.id, n.id); // no longer computed on its own
    return true;
  }
  for (const n of live) {
    if (n.op !== "conv2d_residual_mask") continue;
    const found = upsampledConcat(state, n.inputs[0], n.id);
    const conv = n.attrs as unknown as ConvAttrs;
    if (!found || !fitsUpsampleConvResidualMask(found.up.shape[3], found.skip.shape[3], conv)) {
      continue;
    }
    const { cat, up, skip, upFrom, skipFrom } = found;
    n.op = "upsample_conv2d_residual_mask";
    n.attrs = { ...n.attrs, cin: cat.shape[3], upFrom, skipFrom, mode: up.attrs.mode };
    n.inputs = [resolve(up.inputs[0]), skip.id, resolve(n.inputs[1])];
    alias.set(cat.id, n.id); // neither computed on its own any more
    alias.set(up.id, n.id);
    return true;
  }
  return false;
}

/**
 * Node `id` if it is concat(upsample2x(h), skip), either order, read only by `user`, its upsample
 * read only by it: the parts, and where each starts in the concat's channels.
 */
function upsampledConcat({ nodes, resolve, soleUser }: FusionState, id: number, user: number) {
  const cat = nodes[resolve(id)];
  if (cat.op !== "concat" || !soleUser(cat.id, user)) return undefined;
  const parts = cat.inputs.map(resolve);
  const u = parts.findIndex((p) => nodes[p].op === "upsample2x" && soleUser(p, cat.id));
  if (u < 0) return undefined;
  const up = nodes[parts[u]], skip = nodes[parts[1 - u]];
  const [upFrom, skipFrom] = u === 0 ? [0, up.shape[3]] : [skip.shape[3], 0];
  return { cat, up, skip, upFrom, skipFrom };
}

/**
 * Greedy by size: the largest tensors pick first, each into the smallest free slot that fits,
 * else the largest free slot (grown), else a new one. A step's output never shares a slot with its
 * inputs because their lifetimes overlap at that step.
 */
export function assignSlots(
  groups: number[],
  bytes: Map<number, number>,
  born: Map<number, number>,
  dies: Map<number, number>,
) {
  const order = [...groups].sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);
  const members: number[][] = [];
  const sizes: number[] = [];
  const slot = new Map<number, number>();
  const overlaps = (a: number, b: number) =>
    born.get(a)! <= dies.get(b)! && born.get(b)! <= dies.get(a)!;
  for (const gid of order) {
    const need = bytes.get(gid)!;
    const free = sizes.map((_, s) => s).filter((s) => members[s].every((m) => !overlaps(m, gid)));
    const fitting = free.filter((s) => sizes[s] >= need).sort((a, b) => sizes[a] - sizes[b]);
    let s = fitting[0] ?? free.sort((a, b) => sizes[b] - sizes[a])[0];
    if (s === undefined) {
      s = sizes.length;
      sizes.push(0);
      members.push([]);
    }
    sizes[s] = Math.max(sizes[s], need);
    members[s].push(gid);
    slot.set(gid, s);
  }
  return { slot, sizes };
}
