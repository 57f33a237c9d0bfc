// Page side of tuning_browser_test.ts: the runtime's tuning loader, bundled for Chromium, reads
// tables from the server's /tuning/ as it does from the repo in Deno.

import { acquireGpu } from "../../src/runtime/device.ts";
import { loadTuning } from "../../src/runtime/tuning.ts";

Object.assign(globalThis, {
  async load(adapter: string, isFallbackAdapter: boolean) {
    return await loadTuning(adapter, new URL("/tuning/", location.origin), { isFallbackAdapter });
  },
  async ownAdapter() {
    const gpu = await acquireGpu();
    const tuning = await loadTuning(gpu.key, new URL("/tuning/", location.origin), {
      isFallbackAdapter: gpu.info.isFallbackAdapter,
    });
    gpu.device.destroy();
    return { key: gpu.key, isFallbackAdapter: gpu.info.isFallbackAdapter, tuning };
  },
});
