// One WebGPU device per test file (creating devices is slow on software adapters), plus the
// comparison every GPU-vs-reference test uses.

import { acquireGpu, type Gpu } from "../../src/runtime/device.ts";
import type { Precision } from "../../src/runtime/kernels.ts";
import type { HostTensor } from "../../src/runtime/tensor.ts";
import { needs, requireWebGpu } from "./env.ts";

let shared: Promise<Gpu> | undefined;
export const testGpu = (): Promise<Gpu> => shared ??= acquireGpu();

/** Largest absolute difference, after checking shapes agree. */
export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(`shape [${a.shape}] differs from [${b.shape}]`);
  }
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/**
 * How far a kernel's output may stray from the f32 CPU reference. f32: a few ulps of sums of a few
 * hundred products of values ≤ 1, which the GPU may reorder and fuse. f16: inputs, weights and
 * every partial sum round to 11 significant bits (2^-11 ≈ 4.9e-4 relative), so such a sum drifts
 * by a few 1e-3 of the output's scale; a wrong tap or index errs by a whole product (≥ ~0.05).
 */
export function tolerance(precision: Precision | undefined, expected: HostTensor): number {
  if (precision !== "f16") return 2e-5;
  const scale = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  return 5e-3 * scale;
}

const webGpu = await requireWebGpu();

/** A test that needs Deno's WebGPU adapter: skipped with a line where there is none (failed in CI). */
export function gpuTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  Deno.test(needs(webGpu, { name, fn }));
}
