// `deno task import-onnx`: a model PyTorch exported (tests/fixtures/pytorch/) becomes an effect that
// the edge server loads and serves, on its CPU worker, ONNX Runtime and WebGPU, with the results of the
// imported network; what cannot be an effect is refused with the reason.

import assert from "node:assert/strict";
import { buildNetwork } from "../../src/graph/architecture.ts";
import { importOnnx } from "../../src/graph/onnx/import.ts";
import { plan } from "../../src/graph/planner.ts";
import { decodeStudentWeights } from "../../src/graph/weights.ts";
import { importEffect } from "../../src/cli/import_onnx.ts";
import { CpuExecutor, type Weights } from "../../src/runtime/executor.ts";
import { createEdgeServer, type EdgeOptions } from "../../src/server/app.ts";
import { WorkerBackend } from "../../src/server/backend.ts";
import { toInput, toRgba } from "../../src/server/crops.ts";
import { loadCatalog } from "../../src/server/effects.ts";
import { repoRoot } from "../support/env.ts";
import { gpuTest, testGpu } from "../support/gpu.ts";
import { rawHeaders, tempDir, testCrop } from "../server/fixture.ts";

const fixture = (name: string) => new URL(`../fixtures/pytorch/${name}`, import.meta.url).pathname;
// Symbolic height and width: the effect's crop size is ours to choose.
const MODEL = fixture("student_opset11_bn.onnx");
const S = 128;

const dir = await tempDir();
const imported = await importEffect({
  input: MODEL,
  effect: "torch-student",
  name: "PyTorch student",
  inputSize: S,
  weightsDir: dir,
});
const norm = imported.manifest.normalization;
const crop = testCrop(S, 6);
const { architecture } = decodeStudentWeights(await Deno.readFile(imported.weightsPath));
const { program } = plan(buildNetwork(architecture), { aliasConcat: false });

/** The effect's network on one crop with the reference executor, as RGBA. */
function reference(weights: Weights): Uint8Array {
  const [out] = new CpuExecutor(program, weights).run([
    { shape: [1, S, S, 3], data: toInput(crop, norm) },
  ]);
  return toRgba(out.data, norm, crop);
}

const levels = (a: Uint8Array, b: Uint8Array) => {
  let worst = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    sum += Math.abs(a[i] - b[i]);
  }
  return { worst, mean: sum / a.length };
};

async function served(edge: Awaited<ReturnType<typeof createEdgeServer>>): Promise<Uint8Array> {
  const res = await edge.app.request("/api/effects/torch-student/infer", {
    method: "POST",
    body: crop,
    headers: rawHeaders(S),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("an imported PyTorch student is an effect: catalogued, and served by the CPU worker", async () => {
  const catalog = await loadCatalog(dir, () => {});
  assert.deepEqual(catalog.broken, []);
  const effect = catalog.effects.get("torch-student")!;
  assert.equal(effect.manifest.inputSize, S);
  assert.equal(effect.manifest.weights.dtype, "int8");
  assert.equal(effect.architecture.kind, "graph");

  const edge = await createEdgeServer({
    weightsDir: dir,
    backend: new WorkerBackend("cpu"),
    log: () => {},
    warmup: false,
  });
  try {
    const out = await served(edge);
    // The worker runs the same reference executor on the same dequantised weights.
    assert.deepEqual(out, reference(effect.weights));
    assert.ok(levels(out, crop).mean > 5, "the student should edit the crop");
    // int8 weights against the f32 network PyTorch exported (which matches PyTorch to 1e-6, see
    // tests/graph/onnx_pytorch_test.ts): per-channel quantisation moves a few output levels.
    const f32 = importOnnx(await Deno.readFile(MODEL), { inputSize: [S, S] }).weights;
    const drift = levels(out, reference(f32));
    console.log(`int8 vs f32 import: worst ${drift.worst}, mean ${drift.mean.toFixed(2)} levels`);
    assert.ok(drift.mean < 1 && drift.worst <= 8, `int8 drift ${JSON.stringify(drift)}`);
  } finally {
    await edge.shutdown();
    await edge.dispose();
  }
});

/** The imported effect served by another executor: what the CPU worker serves, ±1 level. */
async function servesAsTheWorker(options: Partial<EdgeOptions>) {
  const edge = await createEdgeServer({ weightsDir: dir, log: () => {}, ...options });
  try {
    const effect = edge.catalog.effects.get("torch-student")!;
    // Reordered f32 sums (fused kernels, or ONNX Runtime on our export of the imported graph): a
    // level at most, where a value sits on a rounding edge.
    assert.ok(levels(await served(edge), reference(effect.weights)).worst <= 1);
  } finally {
    await edge.shutdown();
    await edge.dispose();
  }
}

gpuTest("an imported PyTorch student is served on WebGPU as on the CPU worker", async () => {
  await servesAsTheWorker({ gpu: await testGpu() });
});

Deno.test("an imported PyTorch student is served by ONNX Runtime as on the CPU worker", async () => {
  await servesAsTheWorker({ backend: new WorkerBackend("onnxruntime") });
});

Deno.test("import-onnx refuses what cannot be an effect, saying why, and writes nothing", async () => {
  const out = await tempDir();
  const refuse = async (input: string, inputSize: number | undefined, why: RegExp) => {
    await assert.rejects(
      importEffect({ input, effect: "refused", inputSize, weightsDir: out }),
      (e: Error) => (assert.match(e.message, why), true),
    );
  };
  // A fixed 64² model: too small a crop for an effect.
  await refuse(fixture("student_opset17.onnx"), undefined, /64² crops; an effect's are 128²/);
  await refuse(fixture("student_opset17.onnx"), 128, /64² crops, not --input-size 128/);
  await refuse(MODEL, undefined, /symbolic height dimension "height"; pass inputSize/);
  await refuse(MODEL, 200, /multiple of 16/);
  await refuse(fixture("reference.safetensors"), S, /malformed ONNX/);
  assert.deepEqual([...Deno.readDirSync(out)], []);
});

Deno.test("deno task import-onnx, as a user runs it", async () => {
  const out = await tempDir();
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "src/cli/import_onnx.ts", ...args],
      cwd: repoRoot,
    }).output();
  const ok = await run(
    "--in",
    MODEL,
    "--effect",
    "cli-student",
    "--input-size",
    "128",
    "--weights",
    out,
  );
  const text = new TextDecoder().decode(ok.stdout);
  assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
  assert.match(text, /cli-student: 128² crops, \d+ bytes of int8 weights/);
  assert.deepEqual(
    [...(await loadCatalog(out, () => {})).effects.keys()],
    ["cli-student"],
  );
  const bad = await run("--in", MODEL, "--effect", "x", "--mean", "1,2", "--weights", out);
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--mean takes three numbers/);
});
