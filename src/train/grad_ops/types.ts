// The shape of one backward registry row, mirroring the forward rows in src/runtime/ops/types.ts:
// output shape, hand-written CPU reference, WGSL variants and their dispatch, the uniform struct.

import type { HostTensor, Shape } from "../../runtime/tensor.ts";
import type { Param, TensorRef } from "../../runtime/ops/types.ts";
import type { UniformStruct } from "../../runtime/uniforms.ts";

export interface GradContext<A> {
  /** Activations and gradients the kernel reads, in binding order. */
  inputs: TensorRef[];
  /** The gradient tensor written (tensor rows); absent where the row writes a parameter's gradient. */
  output?: TensorRef;
  attrs: A;
  /** Add into the output instead of overwriting it: a tensor that receives several gradients. */
  accumulate: boolean;
  /**
   * Parameter rows: how many partial sums over chunks of output rows the kernel writes (1: the
   * gradient itself). A second pass (sum_partials.wgsl) adds them, so no float atomics are needed.
   */
  splits: number;
}

export interface GradVariant<A> {
  /** Unique within the row; the tuner stores it. */
  name: string;
  /** WGSL file key (kernels/wgsl/<kernel>.wgsl). */
  kernel: string;
  applies?(ctx: GradContext<A>): boolean;
  overrides(ctx: GradContext<A>): Record<string, number>;
  workgroups(ctx: GradContext<A>): [number, number, number];
  /** Parameter rows: the number of partial sums to write (default 1). */
  splits?(ctx: GradContext<A>): number;
}

export interface GradOpDef<A = Record<string, unknown>> {
  name: string;
  /** Activation/gradient inputs bound on the GPU; an absent optional one gets a dummy buffer. */
  gpuInputs: number;
  /** Forward parameters the kernel reads in their packed GPU layout (indices into the op's params). */
  readsParams: number[];
  /** A gradient tensor (NHWC), or a parameter gradient in the forward op's packed layout. */
  writes: "tensor" | "param";
  /** The output's logical shape: NHWC for tensors, PyTorch's shape for parameters. */
  outputShape(inputs: Shape[], attrs: A): number[];
  /** Written by hand from the maths, never from the WGSL; accumulates in f64. */
  reference(inputs: HostTensor[], params: Param[], attrs: A): HostTensor | Param;
  struct: UniformStruct<string>;
  uniforms(ctx: GradContext<A>): Record<string, number>;
  variants: GradVariant<A>[];
}
