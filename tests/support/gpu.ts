// One WebGPU device per test file (creating devices is slow on software adapters), plus the
// comparison every GPU-vs-reference test uses.

import { acquireGpu, type Gpu } from "../../src/runtime/device.ts";
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

const webGpu = await requireWebGpu();

/** A test that needs Deno's WebGPU adapter: skipped with a line where there is none (failed in CI). */
export function gpuTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test(needs(webGpu, { name, fn }));
}
