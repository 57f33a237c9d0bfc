// Activation functions of the fused epilogues: names, the ids the WGSL `ACT` override takes, and
// the CPU reference. The WGSL twin is kernels/wgsl/common.wgsl.

export const ACTIVATIONS = [
  "none",
  "relu",
  "relu6",
  "hardswish",
  "leaky_relu",
  "sigmoid",
  "tanh",
] as const;
export type Activation = typeof ACTIVATIONS[number];

export const activationId = (a: Activation): number => ACTIVATIONS.indexOf(a);

export function activate(v: number, act: Activation, alpha = 0.01): number {
  switch (act) {
    case "none":
      return v;
    case "relu":
      return v > 0 ? v : 0;
    case "relu6":
      return Math.min(Math.max(v, 0), 6);
    case "hardswish":
      return v * Math.min(Math.max(v + 3, 0), 6) / 6;
    case "leaky_relu":
      return v > 0 ? v : alpha * v;
    case "sigmoid":
      return 1 / (1 + Math.exp(-v));
    case "tanh":
      return Math.tanh(v);
  }
}
