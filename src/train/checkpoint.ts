// Training checkpoints as safetensors: f32 weights under their PyTorch names (so a checkpoint is
// also a weight file any PyTorch user can read), Adam's moments as adam.m.* / adam.v.*, the loss
// history as tensors, and in __metadata__ the step, the sampler's RNG state and order, and the
// run's configuration. Resuming restores every bit the next step depends on.

import type { Weights } from "../runtime/executor.ts";
import {
  parseSafetensors,
  type Tensor,
  WeightsError,
  writeSafetensors,
} from "../graph/safetensors.ts";
import type { SamplerState } from "./data.ts";

export const CHECKPOINT_FORMAT = "facefx-train-checkpoint/1";

/** One loss record: step, then the loss terms. */
export interface LossPoint {
  step: number;
  l1: number;
  ssim: number;
  edge: number;
  total: number;
}

export interface TrainState {
  step: number;
  weights: Weights;
  moments: { m: Weights; v: Weights };
  sampler: SamplerState;
  history: LossPoint[];
  validation: LossPoint[];
  /** The run's configuration (JSON-serialisable), checked on resume. */
  config: unknown;
}

const FIELDS = ["step", "l1", "ssim", "edge", "total"] as const;

function historyTensor(points: LossPoint[]): Tensor {
  const data = new Float32Array(points.length * FIELDS.length);
  points.forEach((p, i) => FIELDS.forEach((f, j) => data[i * FIELDS.length + j] = p[f]));
  return { dtype: "F32", shape: [points.length, FIELDS.length], data };
}

function historyPoints(t: Tensor | undefined): LossPoint[] {
  if (!t || t.dtype === "I8") return [];
  const n = t.shape[0] ?? 0;
  return Array.from({ length: n }, (_, i) => {
    const row = t.data.subarray(i * FIELDS.length, (i + 1) * FIELDS.length);
    return { step: row[0], l1: row[1], ssim: row[2], edge: row[3], total: row[4] };
  });
}

export function encodeCheckpoint(s: TrainState): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  const put = (prefix: string, w: Weights) => {
    for (const [name, p] of w) {
      tensors[prefix + name] = { dtype: "F32", shape: [...p.shape], data: p.data };
    }
  };
  put("", s.weights);
  put("adam.m.", s.moments.m);
  put("adam.v.", s.moments.v);
  tensors["train.history"] = historyTensor(s.history);
  tensors["train.validation"] = historyTensor(s.validation);
  return writeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    step: String(s.step),
    sampler: JSON.stringify(s.sampler),
    config: JSON.stringify(s.config),
  });
}

export function decodeCheckpoint(bytes: Uint8Array): TrainState {
  const { metadata, tensors } = parseSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new WeightsError("metadata", `not a training checkpoint (format "${metadata.format}")`);
  }
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) {
    throw new WeightsError("metadata", `checkpoint step "${metadata.step}" is not a whole number`);
  }
  const weights: Weights = new Map(), m: Weights = new Map(), v: Weights = new Map();
  for (const [name, t] of tensors) {
    if (name.startsWith("train.")) continue;
    if (t.dtype !== "F32") {
      throw new WeightsError("dtype", `checkpoint tensor ${name} is ${t.dtype}`);
    }
    const p = { shape: t.shape, data: t.data };
    if (name.startsWith("adam.m.")) m.set(name.slice(7), p);
    else if (name.startsWith("adam.v.")) v.set(name.slice(7), p);
    else weights.set(name, p);
  }
  for (const name of weights.keys()) {
    if (!m.has(name) || !v.has(name)) {
      throw new WeightsError("missing", `checkpoint has no Adam moments for ${name}`);
    }
  }
  return {
    step,
    weights,
    moments: { m, v },
    sampler: JSON.parse(metadata.sampler),
    history: historyPoints(tensors.get("train.history")),
    validation: historyPoints(tensors.get("train.validation")),
    config: JSON.parse(metadata.config),
  };
}
