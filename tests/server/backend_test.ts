// The edge server's answer for a crop equals running the runtime directly on the same manifest:
// bit-for-bit (±1 level) against the dequantised weights, within int8 tolerance against the f32
// originals; batching does not change results, nor do overlapping runs; a lost device is replaced;
// the worker backends (ONNX Runtime, the CPU reference) agree with the reference; and the
// backend choice prefers a hardware adapter, then ONNX Runtime, falling back when it cannot load.

import assert from "node:assert/strict";
import { plan } from "../../src/graph/planner.ts";
import { buildStudent } from "../../src/graph/student.ts";
import { decodeStudentWeights } from "../../src/graph/weights.ts";
import { acquireGpu, type Gpu } from "../../src/runtime/device.ts";
import { CpuExecutor, GpuExecutor, type Weights } from "../../src/runtime/executor.ts";
import { createEdgeServer, type EdgeServer } from "../../src/server/app.ts";
import {
  type BackendPreference,
  GpuBackend,
  selectBackend,
  WorkerBackend,
} from "../../src/server/backend.ts";
import { toInput, toRgba } from "../../src/server/crops.ts";
import { loadCatalog } from "../../src/server/effects.ts";
import { decodeFrame, encodeFrame } from "../../src/server/frames.ts";
import type { HostTensor } from "../../src/runtime/tensor.ts";
import { needs, requireWebGpu } from "../support/env.ts";
import { maxAbsDiff, testGpu } from "../support/gpu.ts";
import { buildTestEffect, rawHeaders, tempDir, testCrop } from "./fixture.ts";

const gpuReady = await requireWebGpu();
const fx = await buildTestEffect({ id: "equal", seed: 11 });
const S = fx.config.inputSize;
const norm = fx.manifest.normalization;

/** Normalised test crops as one batch, the way the batcher hands them to a backend. */
function cropBatch(...seeds: number[]): HostTensor {
  const data = new Float32Array(seeds.length * S * S * 3);
  seeds.forEach((seed, i) => data.set(toInput(testCrop(S, seed), norm), i * S * S * 3));
  return { shape: [seeds.length, S, S, 3], data };
}

/** Direct runtime inference of one crop, the way a browser would run the manifest's network. */
async function direct(weights: Weights, rgba: Uint8Array): Promise<Uint8Array> {
  const { program } = plan(buildStudent(fx.config, 1));
  const executor = await GpuExecutor.create(await testGpu(), program, weights);
  try {
    const [out] = await executor.run([{ shape: [1, S, S, 3], data: toInput(rgba, norm) }]);
    return toRgba(out.data, norm, rgba);
  } finally {
    executor.dispose();
  }
}

/** The manifest's weights as every backend gets them: int8 dequantised. */
const dequantised = decodeStudentWeights(fx.bytes).weights;

/** The reference executor's result for a batch, on the manifest's dequantised weights. */
function reference(input: HostTensor): HostTensor {
  const { program } = plan(buildStudent(fx.config, input.shape[0]), { aliasConcat: false });
  return new CpuExecutor(program, dequantised).run([input])[0];
}

/** The edge's answer for one raw RGBA crop. */
async function infer(edge: EdgeServer, crop: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const res = await edge.app.request(`/api/effects/${fx.id}/infer`, {
    method: "POST",
    body: crop,
    headers: rawHeaders(S),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return new Uint8Array(await res.arrayBuffer());
}

function maxLevelDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function meanLevelDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

Deno.test(needs(gpuReady, {
  name: "the edge result for a crop equals direct runtime inference of the same manifest",
  async fn() {
    const edge = await createEdgeServer({
      weightsDir: fx.dir,
      gpu: await testGpu(),
      log: () => {},
    });
    try {
      const crop = testCrop(S, 4);
      const served = await infer(edge, crop);
      assert.ok(maxLevelDiff(served, crop) > 0, "the student should change the crop");

      // Same dequantised weights, same runtime: equal up to float summation order (≤ 1 level).
      const same = await direct(dequantised, crop);
      assert.ok(maxLevelDiff(served, same) <= 1, `max diff ${maxLevelDiff(served, same)}`);

      // Against the f32 weights before int8 quantisation: within quantisation tolerance.
      const original = await direct(fx.weights, crop);
      const worst = maxLevelDiff(served, original), mean = meanLevelDiff(served, original);
      console.log(`int8 edge vs f32 direct: max ${worst} levels, mean ${mean.toFixed(3)} levels`);
      assert.ok(worst <= 3, `max diff ${worst} levels`);
      assert.ok(mean <= 0.5, `mean diff ${mean} levels`);
    } finally {
      await edge.shutdown();
      await edge.dispose();
    }
  },
}));

Deno.test(needs(gpuReady, {
  name: "batched crops get the same results as crops run alone (executors per batch size)",
  async fn() {
    const gpu = await testGpu();
    const dir = await tempDir();
    await buildTestEffect({ dir, id: fx.id, seed: 11 });
    const edge = await createEdgeServer({
      weightsDir: dir,
      gpu,
      log: () => {},
      batcher: { maxBatch: 4, maxWaitMs: 50 },
    });
    try {
      const crops = [0, 1, 2, 3].map((i) => testCrop(S, i + 20));
      const alone: Uint8Array[] = [];
      for (const crop of crops) {
        alone.push(await infer(edge, crop));
      }
      const together = await Promise.all(crops.map((crop) => infer(edge, crop)));
      const batches = await (await edge.app.request("/metrics")).text();
      assert.match(batches, /inference_batch_size_bucket\{effect="equal",le="4"\} 5/);
      together.forEach((out, i) => assert.ok(maxLevelDiff(out, alone[i]) <= 1, `crop ${i}`));
      assert.ok(edge.backend instanceof GpuBackend && edge.backend.executors >= 2);
    } finally {
      await edge.shutdown();
      await edge.dispose();
    }
  },
}));

Deno.test(needs(gpuReady, {
  name: "overlapping runs each get their own result, even when one evicts another's executor",
  async fn() {
    const effect = (await loadCatalog(fx.dir, () => {})).effects.get(fx.id)!;
    const inputs = [cropBatch(30), cropBatch(31), cropBatch(32, 33)];
    // One executor kept: the batch-2 run evicts the one both batch-1 runs are using.
    const backend = new GpuBackend(await testGpu(), { maxExecutors: 1 });
    try {
      const alone: HostTensor[] = [];
      for (const input of inputs) alone.push(await backend.run(effect, input));
      const together = await Promise.all(inputs.map((input) => backend.run(effect, input)));
      together.forEach((out, i) => assert.deepEqual(out.data, alone[i].data, `run ${i}`));
    } finally {
      await backend.dispose();
    }
  },
}));

Deno.test(needs(gpuReady, {
  name: "a lost device is replaced once for the runs after it, even when they overlap",
  async fn() {
    const effect = (await loadCatalog(fx.dir, () => {})).effects.get(fx.id)!;
    const input = cropBatch(40);
    const devices: Gpu[] = [await acquireGpu()]; // its own: this test destroys it
    const backend = new GpuBackend(devices[0], {
      acquire: async () => {
        devices.push(await acquireGpu());
        return devices.at(-1)!;
      },
    });
    try {
      const before = await backend.run(effect, input);
      devices[0].device.destroy();
      await devices[0].lost;
      await new Promise((r) => setTimeout(r, 0)); // the backend's own lost handler runs
      assert.equal(backend.lost, true);
      const after = await Promise.all([backend.run(effect, input), backend.run(effect, input)]);
      assert.equal(devices.length, 2, "one replacement device");
      for (const out of after) assert.deepEqual(out.data, before.data);
    } finally {
      await backend.dispose();
      for (const gpu of devices) gpu.device.destroy();
    }
  },
}));

Deno.test(needs(gpuReady, {
  name: "a live stream frame runs through the real student too",
  async fn() {
    const edge = await createEdgeServer({
      weightsDir: fx.dir,
      gpu: await testGpu(),
      log: () => {},
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, edge.app.fetch);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/api/effects/${fx.id}/stream`);
      ws.binaryType = "arraybuffer";
      const frame = new Promise<Uint8Array>((resolve) => {
        ws.onmessage = (e) => {
          if (typeof e.data !== "string") resolve(new Uint8Array(e.data));
        };
      });
      await new Promise((r) => ws.onopen = r);
      const crop = testCrop(S, 4);
      ws.send(encodeFrame({ seq: 42, format: "rgba", width: S, height: S, payload: crop }));
      const out = decodeFrame(await frame);
      assert.equal(out.seq, 42);
      const expected = await direct(dequantised, crop);
      assert.ok(maxLevelDiff(out.payload, expected) <= 1);
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
    } finally {
      await edge.shutdown();
      await server.shutdown();
      await edge.dispose();
    }
  },
}));

Deno.test({
  name: "the CPU backend (reference executor in a worker) computes the student too",
  async fn() {
    const backend = new WorkerBackend("cpu");
    const edge = await createEdgeServer({
      weightsDir: fx.dir,
      backend,
      log: () => {},
      warmup: false,
    });
    try {
      const crop = testCrop(S, 4);
      const served = await infer(edge, crop);
      // The reference is plain TS; compare with it run here, on the same dequantised weights.
      const out = reference({ shape: [1, S, S, 3], data: toInput(crop, norm) });
      assert.deepEqual(served, toRgba(out.data, norm, crop));
    } finally {
      await edge.shutdown();
      await edge.dispose();
    }
  },
});

Deno.test("the ONNX Runtime backend serves the student as the reference computes it", async () => {
  const backend = new WorkerBackend("onnxruntime");
  await backend.ready;
  const edge = await createEdgeServer({ weightsDir: fx.dir, backend, log: () => {} });
  try {
    const crop = testCrop(S, 4);
    const served = await infer(edge, crop);
    const out = reference({ shape: [1, S, S, 3], data: toInput(crop, norm) });
    const expected = toRgba(out.data, norm, crop);
    assert.ok(maxLevelDiff(served, crop) > 0, "the student should change the crop");
    // Both are f32 (ONNX Runtime sums in its own order): a level at most, where a value sits on
    // a rounding boundary.
    assert.ok(maxLevelDiff(served, expected) <= 1, `max diff ${maxLevelDiff(served, expected)}`);
    assert.equal((await (await edge.app.request("/healthz")).json()).backend, "onnxruntime");

    // One session serves every batch size (the export's batch axis is symbolic), crop by crop
    // the same as the reference.
    const effect = edge.catalog.effects.get(fx.id)!;
    for (const seeds of [[1, 2, 3], [5]]) {
      const batch = cropBatch(...seeds);
      const result = await backend.run(effect, batch);
      assert.deepEqual(result.shape, batch.shape);
      const d = maxAbsDiff(result, reference(batch));
      assert.ok(d < 1e-4, `batch of ${seeds.length}: max |onnxruntime − reference| ${d}`);
    }
  } finally {
    await edge.shutdown();
    await edge.dispose();
  }
});

/** A stand-in adapter: selectBackend only reads its summary, and destroys its device if unused. */
function fakeGpu(isFallbackAdapter: boolean) {
  const destroyed = { count: 0 };
  const gpu = {
    info: { vendor: "test", architecture: "", description: "test adapter", isFallbackAdapter },
    key: "test-adapter",
    device: { destroy: () => destroyed.count++ },
    lost: new Promise(() => {}),
  } as unknown as Gpu;
  return { gpu, destroyed };
}

Deno.test("auto picks WebGPU on a hardware adapter and ONNX Runtime instead of a software one", async () => {
  const choose = async (preference: BackendPreference, acquire: () => Promise<Gpu>) => {
    const { backend } = await selectBackend(preference, acquire, () => {});
    await backend.dispose();
    return backend.name;
  };
  const hardware = fakeGpu(false);
  assert.equal(await choose("auto", () => Promise.resolve(hardware.gpu)), "webgpu");
  assert.equal(hardware.destroyed.count, 0);
  const software = fakeGpu(true);
  assert.equal(await choose("auto", () => Promise.resolve(software.gpu)), "onnxruntime");
  assert.equal(software.destroyed.count, 1, "the unused software device is released");
  const none = () => Promise.reject(new Error("no adapter"));
  assert.equal(await choose("auto", none), "onnxruntime");
  // Named backends are used as asked, or fail.
  assert.equal(await choose("webgpu", () => Promise.resolve(fakeGpu(true).gpu)), "webgpu");
  await assert.rejects(choose("webgpu", none), /no adapter/);
  assert.equal(await choose("cpu", () => Promise.resolve(hardware.gpu)), "cpu");
  assert.equal(await choose("onnxruntime", () => Promise.resolve(hardware.gpu)), "onnxruntime");
});

Deno.test("without ONNX Runtime's native module (no --allow-ffi), auto falls back and says why", async () => {
  const backendUrl = new URL("../../src/server/backend.ts", import.meta.url).href;
  const script = `
    import { selectBackend } from "${backendUrl}";
    const lines = [];
    const { backend } = await selectBackend("auto", () => Promise.reject(new Error("none")), (m) => lines.push(m));
    await backend.dispose();
    console.log(JSON.stringify({ name: backend.name, lines }));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { name, lines } = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(name, "cpu");
  assert.ok(
    lines.some((l: string) => /onnxruntime backend: .*--allow-ffi/.test(l)),
    lines.join("\n"),
  );
});
