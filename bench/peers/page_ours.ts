// Chromium page: our runtime, with the tuning table served at /tuning/ (the adapter's own, or the
// shipped software defaults), plus the roofline and the autotuner for Chromium's adapter.

import { acquireGpu } from "../../src/runtime/device.ts";
import { autotune, submitLatency } from "../../src/runtime/autotune.ts";
import { bestOf, measureRoofline } from "../roofline.ts";
import { makeStudent } from "./common.ts";
import { type Architecture, buildNetwork } from "../../src/graph/architecture.ts";
import { plan } from "../../src/graph/planner.ts";
import { initWeights } from "../../src/graph/weights.ts";
import { servePeer } from "./browser_page.ts";
import { openOurs } from "./runtimes.ts";

// As our browser client starts: baseline kernels for the first frame, the tuned ones after it.
servePeer((_spec, student) =>
  openOurs(student, new URL("/tuning/", location.origin), { baseline: true })
);

Object.assign(globalThis, {
  /**
   * Roofline and autotuning of Chromium's adapter for the default student at `sizes` and the
   * networks of `architectures` (the shipped effects', with weights of their shapes).
   */
  async tune(
    sizes: number[],
    options: { roofline?: boolean; sweepTop?: number; architectures?: Architecture[] } = {},
  ) {
    const gpu = await acquireGpu();
    try {
      const latencyMs = await submitLatency(gpu.device);
      const roofline = options.roofline === false
        ? undefined
        : await measureRoofline(gpu.device, { latencyMs });
      const programs = [
        ...sizes.map((s) => makeStudent(s)),
        ...(options.architectures ?? []).map((architecture) => {
          const graph = buildNetwork(architecture);
          return { program: plan(graph).program, weights: initWeights(graph, 1) };
        }),
      ];
      const { tuning, measurements } = await autotune(gpu, programs, {
        sweepTop: options.sweepTop,
      });
      // Best of before and after: contention on a shared machine only lowers a peak.
      const after = roofline && await measureRoofline(gpu.device, { latencyMs });
      return {
        adapter: gpu.info,
        key: gpu.key,
        roofline: roofline && after ? bestOf(roofline, after) : roofline,
        tuning,
        measurements,
      };
    } finally {
      gpu.device.destroy();
    }
  },
});
