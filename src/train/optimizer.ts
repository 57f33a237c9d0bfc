// Adam / AdamW: the configuration, the learning-rate schedule, the uniform values of one step and
// the CPU reference of the update the GPU applies over the flat parameter buffer (adam.wgsl).

import { uniformStruct } from "../runtime/uniforms.ts";

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW (decay applied to the weights directly) rather than Adam with L2 in the gradient. */
  decoupled: boolean;
  /** Linear warm-up from 0 over this many steps. */
  warmupSteps: number;
  /** After warm-up: constant, or cosine decay to lr · minLrFraction at the last step. */
  schedule: "constant" | "cosine";
  minLrFraction: number;
}

export const DEFAULT_ADAM: AdamConfig = {
  lr: 2e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 1e-4,
  decoupled: true,
  warmupSteps: 50,
  schedule: "cosine",
  minLrFraction: 0.05,
};

export function validateAdam(c: AdamConfig): void {
  const fail = (why: string) => {
    throw new Error(`invalid optimizer config: ${why}`);
  };
  if (!(c.lr >= 0)) fail(`lr ${c.lr} is not ≥ 0`);
  if (!(c.beta1 >= 0 && c.beta1 < 1)) fail(`beta1 ${c.beta1} is not in [0, 1)`);
  if (!(c.beta2 >= 0 && c.beta2 < 1)) fail(`beta2 ${c.beta2} is not in [0, 1)`);
  if (!(c.eps > 0)) fail(`eps ${c.eps} is not positive`);
  if (!(c.weightDecay >= 0)) fail(`weightDecay ${c.weightDecay} is not ≥ 0`);
  if (!(Number.isInteger(c.warmupSteps) && c.warmupSteps >= 0)) {
    fail(`warmupSteps ${c.warmupSteps} is not a whole number`);
  }
  if (!["constant", "cosine"].includes(c.schedule)) fail(`unknown schedule "${c.schedule}"`);
  if (!(c.minLrFraction >= 0 && c.minLrFraction <= 1)) {
    fail(`minLrFraction ${c.minLrFraction} is not in [0, 1]`);
  }
}

/** The learning rate of step t (1-based) of a run of `total` steps. */
export function learningRate(c: AdamConfig, t: number, total: number): number {
  if (t <= c.warmupSteps) return (c.lr * t) / (c.warmupSteps + 1);
  if (c.schedule === "constant" || total <= c.warmupSteps) return c.lr;
  const progress = Math.min(1, (t - c.warmupSteps) / Math.max(1, total - c.warmupSteps));
  const floor = c.lr * c.minLrFraction;
  return floor + (c.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Counts are in vec4s; the per-step fields (lr, stepSize, invSqrtBc2) change every step. */
export const AdamParams = uniformStruct("AdamParams", {
  count: "u32",
  decayCount: "u32",
  decoupled: "u32",
  lr: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  weightDecay: "f32",
  stepSize: "f32",
  invSqrtBc2: "f32",
  gradScale: "f32",
});

/** Uniform values for step t (1-based) at learning rate lr; counts in floats (multiples of 4). */
export function adamUniforms(
  c: AdamConfig,
  t: number,
  lr: number,
  floats: number,
  decayFloats: number,
) {
  return {
    count: floats / 4,
    decayCount: decayFloats / 4,
    decoupled: c.decoupled ? 1 : 0,
    lr,
    beta1: c.beta1,
    beta2: c.beta2,
    eps: c.eps,
    weightDecay: c.weightDecay,
    stepSize: lr / (1 - c.beta1 ** t),
    invSqrtBc2: 1 / Math.sqrt(1 - c.beta2 ** t),
    gradScale: 1,
  };
}

/**
 * One update in place, the CPU reference of adam.wgsl (f64 arithmetic, f32 storage): the first
 * `decayFloats` values take weight decay.
 */
export function adamReference(
  c: AdamConfig,
  t: number,
  lr: number,
  state: { param: Float32Array; m: Float32Array; v: Float32Array },
  grad: Float32Array,
  decayFloats: number,
): void {
  const stepSize = lr / (1 - c.beta1 ** t);
  const bc2 = Math.sqrt(1 - c.beta2 ** t);
  for (let i = 0; i < grad.length; i++) {
    let g = grad[i];
    let w = state.param[i];
    if (i < decayFloats) {
      if (c.decoupled) w *= 1 - lr * c.weightDecay;
      else g += c.weightDecay * w;
    }
    const m = c.beta1 * state.m[i] + (1 - c.beta1) * g;
    const v = c.beta2 * state.v[i] + (1 - c.beta2) * g * g;
    state.m[i] = m;
    state.v[i] = v;
    state.param[i] = w - (stepSize * m) / (Math.sqrt(v) / bc2 + c.eps);
  }
}
