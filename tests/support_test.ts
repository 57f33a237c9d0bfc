// Self-test of the test support: the Chromium harness bundles TS + .wgsl, runs a WebGPU compute
// shader on Chromium's adapter (SwiftShader here) and hands the numbers back to Deno.

import assert from "node:assert/strict";
import { join } from "node:path";
import { withBrowser } from "../src/headless/chromium.ts";
import { needs, requireChromium } from "./support/env.ts";

// The page side, written to a temp dir so the fixture lives beside the test that reads it.
// kernel.ts uses the project's import form for WGSL (an import attribute), which esbuild must honour.
const fixture: Record<string, string> = {
  "add.wgsl": `
override WG: u32 = 1;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&out)) { out[id.x] = a[id.x] + b[id.x]; }
}`,
  "kernel.ts": `
import addWgsl from "./add.wgsl" with { type: "text" };
export const kernels = { add: addWgsl };`,
  "entry.ts": `
import { kernels } from "./kernel.ts";

const adapter = await navigator.gpu.requestAdapter();
if (!adapter) throw new Error("no WebGPU adapter in Chromium");
const device = await adapter.requestDevice();
const pipeline = await device.createComputePipelineAsync({
  layout: "auto",
  compute: { module: device.createShaderModule({ code: kernels.add }), constants: { WG: 64 } },
});

function adapterInfo() {
  const { vendor, architecture, device, description } = adapter!.info;
  return { vendor, architecture, device, description, isFallbackAdapter: adapter!.info.isFallbackAdapter };
}

async function add(a: Float32Array, b: Float32Array): Promise<Float32Array> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const input = (x: Float32Array) => {
    const buf = device.createBuffer({ size: x.byteLength, usage });
    device.queue.writeBuffer(buf, 0, x);
    return buf;
  };
  const out = device.createBuffer({ size: a.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: a.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [input(a), input(b), out].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(a.length / 64));
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, a.byteLength);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const result = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  return result;
}

Object.assign(globalThis, { add, adapterInfo });`,
};

Deno.test(needs(requireChromium(), {
  name: "browser harness: WebGPU compute shader (TS + .wgsl) runs in headless Chromium",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "facefx-support-test-" });
    try {
      for (const [name, text] of Object.entries(fixture)) {
        await Deno.writeTextFile(join(dir, name), text);
      }
      const n = 1000; // not a multiple of the workgroup size: exercises the bounds check
      const a = Float32Array.from({ length: n }, (_, i) => i * 0.5);
      const b = Float32Array.from({ length: n }, (_, i) => 1000 - i);

      const started = performance.now();
      await withBrowser(async (browser) => {
        const page = await browser.open(join(dir, "entry.ts"));
        const info = await page.call<Record<string, unknown>>("adapterInfo");
        console.log(`chromium WebGPU adapter: ${JSON.stringify(info)}`);
        assert.equal(typeof info.isFallbackAdapter, "boolean");

        const sum = await page.call<Float32Array>("add", a, b);
        assert.ok(sum instanceof Float32Array, "typed arrays cross the page boundary as-is");
        assert.deepEqual(Array.from(sum), Array.from(a, (x, i) => x + b[i]));
        assert.deepEqual(page.errors, []);
      });
      console.log(
        `launch + bundle + compute + teardown: ${(performance.now() - started).toFixed(0)} ms`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));
