// The shape of one op registry row: output shape, hand-written CPU reference, GPU variants and
// their dispatch. Every executor and test goes through these rows, so an op is defined in one place.

import type { HostTensor, Layout, Shape } from "../tensor.ts";
import type { Precision } from "../kernels.ts";
import type { UniformStruct } from "../uniforms.ts";

/** A tensor as a step sees it: logical shape plus where it lives in its GPU buffer. */
export interface TensorRef {
  shape: Shape;
  layout: Layout;
}

/** Weights in PyTorch layout (e.g. conv OIHW), f32, already dequantised. */
export interface Param {
  shape: readonly number[];
  data: Float32Array;
}

export interface StepContext<A> {
  inputs: TensorRef[];
  output: TensorRef;
  attrs: A;
}

export interface GpuVariant<A> {
  /** Unique within the op; the tuner stores it. */
  name: string;
  /** WGSL file key (kernels/wgsl/<kernel>.wgsl). */
  kernel: string;
  /** False where the variant cannot run this step (e.g. a 1×1-only GEMM on a 3×3 conv). */
  applies?(ctx: StepContext<A>): boolean;
  /**
   * Device features the kernel needs (e.g. "shader-f16" for `enable f16;`). The tuner only tries
   * it, and executors only pick it, on devices that have them; otherwise an f32 variant runs.
   */
  requires?: readonly GPUFeatureName[];
  /** "f16": the kernel computes in f16 and its packed parameters are stored as f16 (see inF16). */
  precision?: Precision;
  /**
   * The kernel reads its first packed parameter (the weights) from a uniform buffer of
   * UNIFORM_WEIGHT_BYTES instead of a storage buffer: llvmpipe gathers a uniform read without the
   * per-lane branches and bounds checks of a storage read.
   */
  uniformWeights?: boolean;
  /**
   * WGSL appended to the kernel with the step's packed parameters compiled in as literals; the
   * kernel then has no parameter bindings (inputs, output, uniforms only), and each step gets a
   * pipeline of its own. See kernels/wgsl/conv2d_baked.wgsl for why this pays on llvmpipe.
   */
  bake?(ctx: StepContext<A>, packed: Float32Array[]): string;
  /** WGSL override constants: specialisation without string templating. */
  overrides(ctx: StepContext<A>): Record<string, number>;
  workgroups(ctx: StepContext<A>): [number, number, number];
}

/** The weights' binding size in `uniformWeights` kernels: the most every WebGPU device allows. */
export const UNIFORM_WEIGHT_BYTES = 65536;

export interface OpDef<A = Record<string, unknown>> {
  name: string;
  /** Activation inputs bound on the GPU; an absent optional input gets a dummy buffer. */
  gpuInputs: number;
  outputShape(inputs: Shape[], attrs: A): Shape;
  /** Expected parameter names and PyTorch shapes, in binding order. */
  params(inputs: Shape[], attrs: A): Record<string, number[]>;
  reference(inputs: HostTensor[], params: Param[], attrs: A): HostTensor;
  /** Weights rearranged into the GPU layout, one array per parameter binding, once at load. */
  packParams(params: Param[], ctx: StepContext<A>): Float32Array[];
  /** The kernels' parameter struct, and its values for one step. */
  struct: UniformStruct<string>;
  uniforms(ctx: StepContext<A>): Record<string, number>;
  variants: GpuVariant<A>[];
  /**
   * What a fast start runs before the tuned kernels are compiled (GpuExecutor's `baseline`): the
   * first of these that applies, each a kernel quick to compile that still runs tolerably (a fixed
   * workgroup size keeps it to one pipeline across shapes). Else the first applicable f32 variant.
   */
  baseline?: { variant: string; wg?: number }[];
  /**
   * A step only the planner's inference fusions make (depthwise_project): it has no backward, and
   * training plans never contain it.
   */
  inferenceOnly?: boolean;
  /** Floating-point operations (a multiply-add counts 2) and bytes moved, for the bench. */
  cost(ctx: StepContext<A>): { flops: number; bytes: number };
}

/**
 * The variant computing in f16, for devices with shader-f16: its kernel must be written against
 * `real` (kernels/wgsl/README.md). Activations stay f32 in memory, so it mixes freely with f32 steps.
 */
export function inF16<A>(variant: GpuVariant<A>): GpuVariant<A> {
  return {
    ...variant,
    name: `${variant.name}_f16`,
    precision: "f16",
    requires: [...variant.requires ?? [], "shader-f16"],
  };
}

/** Splits a 1-D thread count over x and y, since one dispatch dimension stops at 65535. */
export function workgroups1d(threads: number, workgroupSize: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}
