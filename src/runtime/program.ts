// A planned program: what both executors run. The graph planner produces it (fused steps, tensors
// placed in buffer slots); the runtime only executes it and never needs to know about graphs.

import type { Layout, Shape } from "./tensor.ts";

export interface ProgramTensor {
  shape: Shape;
  layout: Layout;
  /** Index into `slots`: tensors with disjoint lifetimes share a slot. */
  slot: number;
}

export interface ProgramStep {
  op: string;
  attrs: Record<string, unknown>;
  inputs: number[];
  output: number;
  /** Weight names in the op's parameter order. */
  params: string[];
  /** Readable origin (e.g. "enc2.block0.expand"), for errors and the bench. */
  label?: string;
  /**
   * The GPU skips this step: its producers already wrote the output in place (a concat whose
   * inputs live in its channel slices). The CPU executor still computes it.
   */
  elided?: boolean;
}

export interface Program {
  tensors: ProgramTensor[];
  /** Byte size of each buffer slot. */
  slots: number[];
  steps: ProgramStep[];
  inputs: number[];
  outputs: number[];
}
