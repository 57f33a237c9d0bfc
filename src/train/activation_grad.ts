// Derivatives of the activations in src/runtime/activation.ts, the CPU twin of the WGSL in
// kernels/wgsl/act_grad.wgsl: from the pre-activation, or from the activation's output where the
// output alone determines it (so a fused conv's backward needs no copy of its pre-activation).

import { activate, type Activation } from "../runtime/activation.ts";

/** d act(v) / dv at the pre-activation v; at kinks the value PyTorch uses (relu'(0) = 0). */
export function activationGrad(v: number, act: Activation, alpha = 0.01): number {
  switch (act) {
    case "none":
      return 1;
    case "relu":
      return v > 0 ? 1 : 0;
    case "relu6":
      return v > 0 && v < 6 ? 1 : 0;
    case "hardswish":
      return v < -3 ? 0 : v > 3 ? 1 : v / 3 + 0.5;
    case "leaky_relu":
      return v > 0 ? 1 : alpha;
    case "sigmoid": {
      const s = activate(v, "sigmoid");
      return s * (1 - s);
    }
    case "tanh": {
      const t = Math.tanh(v);
      return 1 - t * t;
    }
  }
}

/**
 * Whether act'(v) is a function of a = act(v): true for all but hardswish (not monotonic) and a
 * leaky ReLU with a negative slope. Where false, training keeps the pre-activation instead.
 */
export function gradFromOutputExact(act: Activation, alpha = 0.01): boolean {
  return act !== "hardswish" && !(act === "leaky_relu" && alpha < 0);
}

/** act'(v) from a = act(v); only for activations where gradFromOutputExact holds. */
export function activationGradFromOutput(a: number, act: Activation, alpha = 0.01): number {
  switch (act) {
    case "none":
      return 1;
    case "relu":
      return a > 0 ? 1 : 0;
    case "relu6":
      return a > 0 && a < 6 ? 1 : 0;
    case "leaky_relu":
      return a > 0 ? 1 : alpha;
    case "sigmoid":
      return a * (1 - a);
    case "tanh":
      return 1 - a * a;
    case "hardswish":
      throw new Error("hardswish' is not a function of its output: keep the pre-activation");
  }
}
