// Adapter acquisition: a clear error when there is no WebGPU, and the adapter's identity exposed.

import assert from "node:assert/strict";
import { acquireGpu, adapterKey, NoWebGpuError } from "../../src/runtime/device.ts";
import { gpuTest, testGpu } from "../support/gpu.ts";

Deno.test("no navigator.gpu, or no adapter, is a NoWebGpuError that says which", async () => {
  const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
  await assert.rejects(acquireGpu({ gpu: noAdapter }), /NoWebGpuError: .*no adapter/);
  const saved = Object.getOwnPropertyDescriptor(navigator, "gpu");
  Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
  try {
    await assert.rejects(
      acquireGpu(),
      (e: unknown) => e instanceof NoWebGpuError && /navigator\.gpu is missing/.test(e.message),
    );
  } finally {
    if (saved) Object.defineProperty(navigator, "gpu", saved);
    else delete (navigator as { gpu?: GPU }).gpu;
  }
});

Deno.test("adapter keys are stable file-name-safe identities", () => {
  const info = {
    vendor: "NVIDIA",
    architecture: "hopper",
    device: "0x2330",
    description: "NVIDIA H100 80GB HBM3",
    isFallbackAdapter: false,
    features: [],
    limits: {},
  };
  assert.equal(adapterKey(info), "nvidia-hopper-0x2330-nvidia-h100-80gb-hbm3");
  assert.equal(
    adapterKey({ ...info, vendor: "", architecture: "", device: "", description: "" }),
    "unknown-adapter",
  );
});

gpuTest("the adapter's info, features and limits are exposed", async () => {
  const gpu = await testGpu();
  console.log(`adapter: ${JSON.stringify({ ...gpu.info, features: gpu.info.features.length })}`);
  assert.equal(typeof gpu.info.isFallbackAdapter, "boolean");
  assert.ok(gpu.info.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
  assert.ok(gpu.info.description || gpu.info.vendor, "an adapter with no name at all");
  assert.match(gpu.key, /^[a-z0-9.-]+$/);
});
