// The CPU reference of a training step: the forward program through the ops' references (every
// intermediate kept), the loss reference, and the backward task list through the backward rows'
// references: what the GPU training executor must reproduce, and what finite differences check.

import type { Weights } from "../runtime/executor.ts";
import { getOp } from "../runtime/ops/index.ts";
import type { Param } from "../runtime/ops/types.ts";
import type { Program } from "../runtime/program.ts";
import { type HostTensor, shapeText } from "../runtime/tensor.ts";
import { getGradOp } from "./grad_ops/index.ts";
import { type LossConfig, lossReference, type LossValues } from "./losses.ts";
import { isClear, type TrainingPlan } from "./plan.ts";

/** Every tensor of a forward run, indexed like program.tensors. */
export function forwardValues(
  program: Program,
  weights: Weights,
  inputs: HostTensor[],
): HostTensor[] {
  const values: HostTensor[] = [];
  program.inputs.forEach((id, i) => {
    const want = shapeText(program.tensors[id].shape);
    if (!inputs[i] || shapeText(inputs[i].shape) !== want) {
      throw new Error(`input ${i} must be ${want}, got ${inputs[i]?.shape}`);
    }
    values[id] = inputs[i];
  });
  for (const step of program.steps) {
    const params = step.params.map((name) => {
      const p = weights.get(name);
      if (!p) throw new Error(`weight "${name}" is missing`);
      return p;
    });
    const args = step.inputs.map((id) => values[id]);
    values[step.output] = getOp(step.op).reference(args, params, step.attrs);
  }
  return values;
}

const addInto = (into: Float32Array, from: Float32Array) => {
  for (let i = 0; i < into.length; i++) into[i] += from[i];
};

/**
 * Runs the backward tasks from the gradient at the prediction. Gradients that several consumers
 * feed are summed (the CPU ignores the GPU's accumulate flags and clears: they describe buffers).
 */
export function backwardReference(
  plan: TrainingPlan,
  weights: Weights,
  values: HostTensor[],
  gradPrediction: HostTensor,
): { grads: Map<number, HostTensor>; params: Map<string, Param> } {
  const grads = new Map<number, HostTensor>([[plan.gradOf.get(plan.prediction)!, gradPrediction]]);
  const params = new Map<string, Param>();
  for (const task of plan.tasks) {
    if (isClear(task)) continue;
    const row = getGradOp(task.row);
    const inputs = task.inputs.map((r) => {
      const v = r.kind === "act" ? values[r.id] : grads.get(r.id);
      if (!v) throw new Error(`${task.label}: ${r.kind} ${r.id} has no value yet`);
      return v;
    });
    const read = task.params.map((name) => weights.get(name)!);
    const out = row.reference(inputs, read, task.attrs);
    const [map, key] = task.output.kind === "grad"
      ? [grads as Map<unknown, HostTensor | Param>, task.output.id]
      : [params as Map<unknown, HostTensor | Param>, task.output.name];
    const had = map.get(key);
    if (had) addInto(had.data, out.data);
    else map.set(key, { ...out, data: out.data.slice() } as HostTensor | Param);
  }
  return { grads, params };
}

/** One training step's loss and weight gradients (PyTorch layout), on the CPU. */
export function trainStepReference(
  plan: TrainingPlan,
  weights: Weights,
  inputs: HostTensor[],
  target: HostTensor,
  loss: LossConfig,
): { loss: LossValues; grads: Map<string, Param>; prediction: HostTensor } {
  const values = forwardValues(plan.forward, weights, inputs);
  const prediction = values[plan.prediction];
  const { grad, ...lossValues } = lossReference(prediction, target, loss);
  const { params } = backwardReference(plan, weights, values, grad);
  return { loss: lossValues, grads: params, prediction };
}
