// The training plan: the planner's fused forward program, re-placed so every activation the
// backward reads survives (each tensor its own buffer; an aliased concat and its parts still share
// one), plus the backward as a list of gradient-row tasks in reverse step order. Gradients mirror
// their activation's layout, so an aliased concat's gradient splits into its parts for free; they
// share buffers by lifetime. Which writes overwrite and which accumulate is decided here, once.

import type { Graph } from "../graph/ir.ts";
import { assignSlots, plan, type PlanOptions } from "../graph/planner.ts";
import type { Activation } from "../runtime/activation.ts";
import type { Program, ProgramStep, ProgramTensor } from "../runtime/program.ts";
import { denseLayout, type Layout, layoutFloats, type Shape } from "../runtime/tensor.ts";
import { gradFromOutputExact } from "./activation_grad.ts";

export type ActRef = { kind: "act"; id: number };
export type GradRef = { kind: "grad"; id: number };
export type ParamGradRef = { kind: "param"; name: string };

/** One dispatch of a backward row (src/train/grad_ops/). */
export interface BackwardTask {
  row: string;
  attrs: Record<string, unknown>;
  /** Forward activations and gradients, in the row's input order. */
  inputs: (ActRef | GradRef)[];
  /** Forward weights the row reads (in their packed layout on the GPU). */
  params: string[];
  output: GradRef | ParamGradRef;
  /** Add into the output (it already holds another consumer's gradient). */
  accumulate: boolean;
  label: string;
  /**
   * The GPU skips it: the gradient is already in place (an aliased concat's parts are slices of its
   * gradient). The CPU reference still runs it.
   */
  elided?: boolean;
}

/** Zero a gradient buffer before its parts accumulate into it (GPU only). */
export interface ClearTask {
  clear: number;
  label: string;
}

export type Task = BackwardTask | ClearTask;
export const isClear = (t: Task): t is ClearTask => "clear" in t;

export interface GradTensor {
  shape: Shape;
  layout: Layout;
  /** Index into gradSlots; −1 if no task touches it. */
  slot: number;
  /** The forward tensor it is the gradient of (absent: a temporary such as a conv's dz). */
  of?: number;
  /** The gradient tensor owning the buffer (an aliased concat's), itself if alone. */
  host: number;
}

export interface TrainingPlan {
  /** Forward program; `slots` are unshared (each tensor survives until the backward). */
  forward: Program;
  requiresGrad: boolean[];
  grads: GradTensor[];
  /** forward tensor id → gradient tensor id */
  gradOf: Map<number, number>;
  gradSlots: number[];
  tasks: Task[];
  /** The forward tensor the loss reads: the network's output. */
  prediction: number;
}

export interface TrainingPlanOptions extends PlanOptions {
  /** Also compute gradients w.r.t. the program inputs (tests; training never needs them). */
  inputGrads?: boolean;
  /** Fold a fused activation's backward into the grad-input that feeds it (default true). */
  foldActivations?: boolean;
}

export function planTraining(graph: Graph, options: TrainingPlanOptions = {}): TrainingPlan {
  const program = plan(graph, { ...options, fuseForInference: false }).program;
  return planTrainingProgram(program, options);
}

export function planTrainingProgram(
  program: Program,
  options: TrainingPlanOptions = {},
): TrainingPlan {
  const { forward, host } = reslot(splitEpilogues(program));
  if (forward.outputs.length !== 1) {
    throw new Error(`training needs one output, the program has ${forward.outputs.length}`);
  }
  const prediction = forward.outputs[0];
  const requiresGrad = forward.tensors.map(() => false);
  if (options.inputGrads) { for (const i of forward.inputs) requiresGrad[i] = true; }
  for (const s of forward.steps) {
    requiresGrad[s.output] = s.params.length > 0 || s.inputs.some((i) => requiresGrad[i]);
  }
  if (!requiresGrad[prediction]) throw new Error("the output does not depend on any weight");

  // Gradient tensors mirror their activation (layout and buffer group); temporaries stand alone.
  const grads: GradTensor[] = [];
  const gradOf = new Map<number, number>();
  const groupKey: number[] = [];
  forward.tensors.forEach((t, id) => {
    if (!requiresGrad[id]) return;
    gradOf.set(id, grads.length);
    groupKey.push(host[id]);
    grads.push({ shape: t.shape, layout: t.layout, slot: -1, of: id, host: -1 });
  });
  grads.forEach((g) => g.host = gradOf.get(host[g.of!])!);
  const temp = (shape: Shape) => {
    const id = grads.length;
    groupKey.push(-1 - id);
    grads.push({ shape, layout: denseLayout(shape), slot: -1, host: id });
    return id;
  };
  const members = (gid: number) =>
    grads.flatMap((_, m) => (groupKey[m] === groupKey[gid] ? [m] : []));

  const tasks: Task[] = [];
  const inited = new Set<number>([gradOf.get(prediction)!]);
  const paramInited = new Set<string>();
  /** Whether a write to gradient `gid` must accumulate; zeroes its buffer first if needed. */
  const accumulateInto = (gid: number, label: string): boolean => {
    const group = members(gid);
    if (inited.has(gid)) return true;
    const partial = group.length > 1 && gid !== grads[gid].host;
    if (partial || group.some((m) => inited.has(m))) {
      // A part written before its whole: the rest of the buffer holds another tensor's values.
      tasks.push({ clear: grads[gid].host, label: `${label}.clear` });
      for (const m of group) inited.add(m);
      return true;
    }
    for (const m of group) inited.add(m);
    return false;
  };

  const G = (id: number): GradRef => ({ kind: "grad", id });
  const A = (id: number): ActRef => ({ kind: "act", id });
  const toTensor = (
    row: string,
    attrs: Record<string, unknown>,
    inputs: (ActRef | GradRef)[],
    params: string[],
    x: number,
    label: string,
  ) => {
    const gid = gradOf.get(x)!;
    tasks.push({
      row,
      attrs,
      inputs,
      params,
      output: G(gid),
      accumulate: accumulateInto(gid, label),
      label,
    });
  };
  const toParam = (
    row: string,
    attrs: Record<string, unknown>,
    inputs: (ActRef | GradRef)[],
    name: string,
    label: string,
  ) => {
    tasks.push({
      row,
      attrs,
      inputs,
      params: [],
      output: { kind: "param", name },
      accumulate: paramInited.has(name),
      label,
    });
    paramInited.add(name);
  };

  for (let s = forward.steps.length - 1; s >= 0; s--) {
    const step = forward.steps[s];
    const gy = gradOf.get(step.output);
    if (gy === undefined || !inited.has(gy)) continue; // no gradient reaches this step
    const label = step.label ?? step.op;
    const y = forward.tensors[step.output];
    const needs = (i: number | undefined): i is number => i !== undefined && requiresGrad[i];
    switch (step.op) {
      case "conv2d":
      case "depthwise_conv2d": {
        const [x, r] = step.inputs;
        const act = (step.attrs.act ?? "none") as Activation;
        let dz = gy;
        if (act !== "none") {
          dz = temp(y.shape);
          const attrs = {
            act,
            ...(step.attrs.alpha !== undefined ? { alpha: step.attrs.alpha } : {}),
          };
          tasks.push({
            row: "epilogue.grad",
            attrs,
            inputs: [G(gy), A(step.output)],
            params: [],
            output: G(dz),
            accumulate: accumulateInto(dz, label),
            label: `${label}.act'`,
          });
        }
        if (needs(r)) {
          const attrs = { start: 0, channels: y.shape[3] };
          toTensor("slice", attrs, [G(gy)], [], r, `${label}.residual'`);
        }
        const [weight, bias] = step.params;
        toParam(`${step.op}.grad_weight`, step.attrs, [A(x), G(dz)], weight, `${label}.dW`);
        toParam("conv.grad_bias", step.attrs, [G(dz)], bias, `${label}.db`);
        if (needs(x)) {
          const attrs: Record<string, unknown> = {
            ...step.attrs,
            inShape: forward.tensors[x].shape,
          };
          // A concat of [features, image]: the image's channels need no gradient.
          const producer = forward.steps.find((p) => p.output === x);
          if (step.op === "conv2d" && producer?.op === "concat") {
            const [a, b] = producer.inputs;
            const ca = forward.tensors[a].shape[3];
            if (!requiresGrad[b] && ca % 4 === 0) attrs.dxChannels = ca;
          }
          toTensor(`${step.op}.grad_input`, attrs, [G(dz)], [weight], x, `${label}.dx`);
        }
        break;
      }
      case "activation": {
        const [x] = step.inputs;
        if (needs(x)) toTensor("activation.grad", step.attrs, [G(gy), A(x)], [], x, `${label}'`);
        break;
      }
      case "add": {
        const [a, b] = step.inputs;
        const plain = (step.attrs.act ?? "none") === "none";
        for (const x of [a, b]) {
          if (!needs(x)) continue;
          if (plain) {
            toTensor("slice", { start: 0, channels: y.shape[3] }, [G(gy)], [], x, `${label}'`);
          } else {
            toTensor("add.grad", step.attrs, [G(gy), A(a), A(b)], [], x, `${label}'`);
          }
        }
        break;
      }
      case "concat": {
        const [a, b] = step.inputs;
        const ca = forward.tensors[a].shape[3];
        const parts: [number, number, number][] = [[a, 0, ca], [
          b,
          ca,
          forward.tensors[b].shape[3],
        ]];
        for (const [x, start, channels] of parts) {
          if (!needs(x)) continue;
          if (step.elided) {
            // Already in place: the part's gradient is a slice of this one's buffer.
            tasks.push({
              row: "slice",
              attrs: { start, channels },
              inputs: [G(gy)],
              params: [],
              output: G(gradOf.get(x)!),
              accumulate: true,
              label: `${label}'`,
              elided: true,
            });
          } else {
            toTensor("slice", { start, channels }, [G(gy)], [], x, `${label}'`);
          }
        }
        break;
      }
      case "upsample2x": {
        const [x] = step.inputs;
        if (needs(x)) {
          const attrs = { ...step.attrs, inShape: forward.tensors[x].shape };
          toTensor("upsample2x.grad", attrs, [G(gy)], [], x, `${label}'`);
        }
        break;
      }
      case "residual_mask": {
        const [x, h] = step.inputs;
        if (needs(h)) {
          toTensor("residual_mask.grad_h", step.attrs, [G(gy), A(h)], [], h, `${label}.dh`);
        }
        if (needs(x)) {
          toTensor("slice", { start: 0, channels: y.shape[3] }, [G(gy)], [], x, `${label}.dx`);
        }
        break;
      }
      default:
        throw new Error(`${label}: no backward rule for op "${step.op}"`);
    }
  }

  const folded = options.foldActivations ?? true ? foldActivationGrads(tasks, members) : tasks;
  const gradSlots = assignGradSlots(grads, folded, gradOf.get(prediction)!);
  return { forward, requiresGrad, grads, gradOf, gradSlots, tasks: folded, prediction };
}

/**
 * A conv's act' (epilogue.grad) reads a gradient that, in a chain like expand → depthwise →
 * project, exactly one grad-input task writes and nothing else reads: that task multiplies by
 * act' as it stores (its `dyAct` epilogue) and writes dz directly, saving a pass and a buffer.
 */
function foldActivationGrads(tasks: Task[], members: (gid: number) => number[]): Task[] {
  const out = [...tasks];
  const writes = (t: Task, gid: number) =>
    !isClear(t) && t.output.kind === "grad" && t.output.id === gid;
  const reads = (t: Task, gid: number) =>
    !isClear(t) && t.inputs.some((r) => r.kind === "grad" && r.id === gid);
  for (let i = 0; i < out.length; i++) {
    const e = out[i];
    if (isClear(e) || e.row !== "epilogue.grad" || e.output.kind !== "grad") continue;
    const [gy, y] = e.inputs;
    if (members(gy.id).length > 1) continue; // a concat part: its buffer is shared
    const writers = out.filter((t) => writes(t, gy.id));
    const readers = out.filter((t) => reads(t, gy.id));
    if (
      writers.length !== 1 || readers.length !== 1 ||
      out.some((t) => isClear(t) && t.clear === gy.id)
    ) {
      continue;
    }
    const w = writers[0] as BackwardTask;
    const foldable = w.row === "conv2d.grad_input" || w.row === "depthwise_conv2d.grad_input";
    if (!foldable || w.accumulate || w.inputs.length !== 1) continue;
    out[out.indexOf(w)] = {
      ...w,
      attrs: {
        ...w.attrs,
        dyAct: e.attrs.act,
        ...(e.attrs.alpha !== undefined ? { dyAlpha: e.attrs.alpha } : {}),
      },
      inputs: [...w.inputs, y],
      output: e.output,
      accumulate: e.accumulate,
      label: `${w.label}+act'`,
    };
    out.splice(i--, 1);
  }
  return out;
}

/**
 * Convolutions whose fused epilogue cannot be differentiated from their output alone are split:
 * hardswish (act' needs the pre-activation) and activation + residual (y − r would only
 * approximate act(z)) become conv → activation [→ add], each with its own backward.
 */
function splitEpilogues(program: Program): Program {
  const tensors: ProgramTensor[] = [...program.tensors];
  const steps: ProgramStep[] = [];
  const fresh = (shape: Shape) => {
    tensors.push({ shape, layout: denseLayout(shape), slot: -1 });
    return tensors.length - 1;
  };
  for (const step of program.steps) {
    const act = (step.attrs.act ?? "none") as Activation;
    const alpha = step.attrs.alpha as number | undefined;
    const conv = step.op === "conv2d" || step.op === "depthwise_conv2d";
    const residual = step.inputs[1];
    const exact = gradFromOutputExact(act, alpha ?? 0.01);
    if (!conv || act === "none" || (exact && residual === undefined)) {
      steps.push(step);
      continue;
    }
    const label = step.label ?? step.op;
    const shape = tensors[step.output].shape;
    const actAttrs = { act, ...(alpha !== undefined ? { alpha } : {}) };
    const add = (a: number): ProgramStep => ({
      op: "add",
      attrs: { act: "none" },
      inputs: [a, residual],
      output: step.output,
      params: [],
      label: `${label}.residual`,
    });
    if (exact) {
      const a = fresh(shape);
      steps.push({ ...step, inputs: [step.inputs[0]], output: a }, add(a));
      continue;
    }
    const z = fresh(shape);
    steps.push({
      ...step,
      attrs: { ...step.attrs, act: "none" },
      inputs: [step.inputs[0]],
      output: z,
    });
    const a = residual === undefined ? step.output : fresh(shape);
    steps.push({
      op: "activation",
      attrs: actAttrs,
      inputs: [z],
      output: a,
      params: [],
      label: `${label}.act`,
    });
    if (residual !== undefined) steps.push(add(a));
  }
  return { ...program, tensors, steps };
}

/** One buffer per tensor, except an aliased concat and its parts, which keep sharing theirs. */
function reslot(program: Program): { forward: Program; host: number[] } {
  const host = program.tensors.map((_, i) => i);
  for (const s of program.steps) if (s.elided) { for (const i of s.inputs) host[i] = s.output; }
  const slotOf = new Map<number, number>();
  const slots: number[] = [];
  const tensors = program.tensors.map((t, i) => {
    if (!slotOf.has(host[i])) {
      const h = program.tensors[host[i]];
      slotOf.set(host[i], slots.length);
      slots.push(layoutFloats(h.shape, h.layout) * 4);
    }
    return { ...t, slot: slotOf.get(host[i])! };
  });
  return { forward: { ...program, tensors, slots }, host };
}

/**
 * Gradient buffers shared by lifetime (first to last task touching any tensor of a group), greedy
 * by size with the forward planner's assignSlots.
 */
function assignGradSlots(grads: GradTensor[], tasks: Task[], seeded: number): number[] {
  const born = new Map<number, number>();
  const dies = new Map<number, number>();
  const touch = (gid: number, at: number) => {
    const h = grads[gid].host;
    born.set(h, Math.min(born.get(h) ?? Infinity, at));
    dies.set(h, Math.max(dies.get(h) ?? -Infinity, at));
  };
  touch(seeded, -1);
  tasks.forEach((t, i) => {
    if (isClear(t)) return touch(t.clear, i);
    for (const r of t.inputs) if (r.kind === "grad") touch(r.id, i);
    if (t.output.kind === "grad") touch(t.output.id, i);
  });
  const hosts = [...born.keys()];
  const bytes = new Map(hosts.map((h) => [h, layoutFloats(grads[h].shape, grads[h].layout) * 4]));
  const { slot: slotOf, sizes } = assignSlots(hosts, bytes, born, dies);
  for (const g of grads) g.slot = slotOf.get(g.host) ?? -1;
  return sizes;
}
