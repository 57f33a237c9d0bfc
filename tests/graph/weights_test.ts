// The student's weight file: round trips in every dtype, int8 against f32 on a real face, the graph
// of an imported network kept in it, and a clear error for every way a file can disagree with the
// graph.

import assert from "node:assert/strict";
import { CpuExecutor } from "../../src/runtime/executor.ts";
import { rgbaToTensorReference, tensorToRgbaReference } from "../../src/runtime/image.ts";
import { plan } from "../../src/graph/planner.ts";
import {
  parseSafetensors,
  sha256Hex,
  type Tensor,
  verifySha256,
  WeightsError,
  writeSafetensors,
} from "../../src/graph/safetensors.ts";
import { buildStudent, DEFAULT_STUDENT } from "../../src/graph/student.ts";
import { type Architecture, buildNetwork, graphSpec } from "../../src/graph/architecture.ts";
import { importOnnx } from "../../src/graph/onnx/import.ts";
import { hostTensor } from "../../src/runtime/tensor.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import {
  decodeStudentWeights,
  encodeStudentWeights,
  initWeights,
} from "../../src/graph/weights.ts";
import { decodeImage } from "../../src/media/codec.ts";
import { psnr } from "../../src/media/metrics.ts";
import { needs, requireShared, sharedDir } from "../support/env.ts";
import { TINY_STUDENT } from "../support/students.ts";

const graph = buildStudent(TINY_STUDENT);
const weights = initWeights(graph, 3);
const tiny = { kind: "student", config: TINY_STUDENT } as const;

Deno.test("weights round-trip: f32 exact, f16 and int8 within their precision", () => {
  const f32 = decodeStudentWeights(encodeStudentWeights(tiny, weights, "f32"));
  assert.deepEqual(f32.architecture, tiny);
  for (const [name, p] of weights) assert.deepEqual(f32.weights.get(name)!.data, p.data, name);
  for (const dtype of ["f16", "int8"] as const) {
    const back = decodeStudentWeights(encodeStudentWeights(tiny, weights, dtype));
    assert.equal(back.dtype, dtype);
    for (const [name, p] of weights) {
      const q = back.weights.get(name)!.data;
      const scale = Math.max(...p.data.map(Math.abs));
      // f16: 11-bit mantissa; int8 per channel: half a step of max|w|/127.
      const bound = dtype === "f16" ? scale * 2 ** -11 : scale / 254 + 1e-7;
      p.data.forEach((v, i) => assert.ok(Math.abs(v - q[i]) <= bound, `${name}[${i}] ${dtype}`));
    }
  }
});

Deno.test(needs(requireShared("data/faces/face1.jpg"), {
  name: "int8 student output stays close to f32 on a real face crop (PSNR bound)",
  fn() {
    const config = { ...DEFAULT_STUDENT, inputSize: 128 };
    const g = buildStudent(config);
    const w = initWeights(g, 21);
    const face = decodeImage(Deno.readFileSync(`${sharedDir}/data/faces/face1.jpg`));
    // The whole 512² portrait scaled to the 128² crop.
    const s = face.width / 128;
    const crop = rgbaToTensorReference(face.data, face, [{ transform: [s, 0, 0, 0, s, 0] }], {
      width: 128,
      height: 128,
    });
    const run = (file: Uint8Array) => {
      const decoded = decodeStudentWeights(file);
      const [out] = new CpuExecutor(plan(g).program, decoded.weights).run([crop]);
      return tensorToRgbaReference(out);
    };
    const f32 = run(encodeStudentWeights({ kind: "student", config }, w, "f32"));
    const int8 = run(encodeStudentWeights({ kind: "student", config }, w, "int8"));
    const db = psnr(f32, int8, 255);
    console.log(`int8 vs f32 student output on face1.jpg (128²): PSNR ${db.toFixed(1)} dB`);
    // 8-bit output quantisation alone caps identical pipelines at ~59 dB; 40 dB is invisible.
    assert.ok(db >= 40, `PSNR ${db} dB`);
    assert.ok(psnr(f32, tensorToRgbaReference(crop), 255) < 45, "the student should edit the face");
  },
}));

/** Expects a WeightsError with `code` whose message mentions `text`. */
function rejects(bytes: Uint8Array, code: string, text: RegExp) {
  assert.throws(() => decodeStudentWeights(bytes), (e: unknown) => {
    assert.ok(e instanceof WeightsError, `not a WeightsError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, text);
    return true;
  });
}

Deno.test("every malformed weight file gets its own clear error", async () => {
  const good = encodeStudentWeights(tiny, weights, "int8");
  const { metadata, tensors } = parseSafetensors(good);
  const rewrite = (edit: (t: Record<string, Tensor>, m: Record<string, string>) => void) => {
    const t = Object.fromEntries(tensors);
    const m = { ...metadata };
    edit(t, m);
    return writeSafetensors(t, m);
  };
  const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));

  rejects(good.slice(0, 5), "truncated", /needs at least 8/);
  rejects(good.slice(0, good.length - 10), "truncated", /./);
  const lying = good.slice();
  new DataView(lying.buffer).setBigUint64(0, BigInt(good.length * 2), true);
  rejects(lying, "header_length", /./);
  // A header whose offsets point past the data.
  const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLength)));
  header["stem.weight"].data_offsets[1] += 1_000_000;
  const text = new TextEncoder().encode(JSON.stringify(header));
  const patched = new Uint8Array(8 + text.length + good.length - 8 - headerLength);
  new DataView(patched.buffer).setBigUint64(0, BigInt(text.length), true);
  patched.set(text, 8);
  patched.set(good.subarray(8 + headerLength), 8 + text.length);
  rejects(patched, "truncated", /stem\.weight/);
  rejects(rewrite((t) => delete t["stem.weight"]), "missing", /stem\.weight/);
  rejects(
    rewrite((t) => (t["extra.weight"] = { dtype: "F32", shape: [1], data: new Float32Array(1) })),
    "unexpected",
    /extra\.weight/,
  );
  rejects(
    rewrite((t) => (t["stem.bias"] = { dtype: "F32", shape: [3], data: new Float32Array(3) })),
    "shape",
    /stem\.bias/,
  );
  rejects(
    rewrite((t) => (t["stem.bias"] = { dtype: "I8", shape: [4], data: new Int8Array(4) })),
    "dtype",
    /stem\.bias/,
  );
  rejects(
    rewrite((_, m) => (m.config = JSON.stringify({ ...TINY_STUDENT, width: 0.5 }))),
    "shape",
    /./,
  );
  rejects(rewrite((_, m) => (m.config = "{not json")), "metadata", /config/);
  rejects(rewrite((_, m) => (m.dtype = "int4")), "metadata", /dtype/);

  // NaN in a float tensor: patched into the bytes, since the writer refuses to write one.
  const f32 = encodeStudentWeights(tiny, weights, "f32");
  const nan = f32.slice();
  new DataView(nan.buffer).setFloat32(nan.length - 4, NaN, true);
  rejects(nan, "nonfinite", /NaN|finite/);

  await verifySha256(good, await sha256Hex(good));
  await assert.rejects(
    verifySha256(good, "0".repeat(64)),
    (e: unknown) => e instanceof WeightsError && e.code === "sha256",
  );
});

// A network PyTorch exported (tests/fixtures/pytorch/), imported: a weight file of a graph.
const imported = importOnnx(
  await Deno.readFile(new URL("../fixtures/pytorch/student_opset17.onnx", import.meta.url)),
);
const importedArchitecture: Architecture = { kind: "graph", graph: graphSpec(imported.graph) };

Deno.test("an imported network's weight file keeps its graph: same outputs, at any batch", () => {
  const back = decodeStudentWeights(
    encodeStudentWeights(importedArchitecture, imported.weights, "f32"),
  );
  assert.deepEqual(back.architecture, importedArchitecture);
  const s = 64;
  const x = randomArray(rng(3), 2 * s * s * 3);
  const [expected] = new CpuExecutor(plan(imported.graph).program, imported.weights).run([
    hostTensor([1, s, s, 3], x.slice(s * s * 3)),
  ]);
  // The same network rebuilt for a batch of 2: the second crop's output is the original's.
  const [both] = new CpuExecutor(plan(buildNetwork(back.architecture, 2)).program, back.weights)
    .run([hostTensor([2, s, s, 3], x)]);
  assert.deepEqual(both.data.slice(s * s * 3), expected.data);
});

Deno.test("a malformed graph in a weight file gets a clear error", () => {
  const good = encodeStudentWeights(importedArchitecture, imported.weights, "f32");
  const { metadata, tensors } = parseSafetensors(good);
  const spec = importedArchitecture.kind === "graph" ? importedArchitecture.graph : undefined!;
  const withGraph = (edit: (g: typeof spec) => void, m: Record<string, string> = {}) => {
    const g = structuredClone(spec);
    edit(g);
    return writeSafetensors(Object.fromEntries(tensors), {
      ...metadata,
      graph: JSON.stringify(g),
      ...m,
    });
  };
  const conv = spec.nodes.findIndex((n) => n.op === "conv2d");
  rejects(withGraph((g) => (g.nodes[conv].op = "matmul")), "metadata", /nodes\.\d+\.op/);
  rejects(
    withGraph((g) => (g.nodes[conv].inputs = [conv + 5])),
    "metadata",
    new RegExp(`node ${conv + 1} \\(conv2d\\) reads node ${conv + 5}, which is not before it`),
  );
  rejects(
    withGraph((g) => (g.nodes[conv].attrs.k = 0)),
    "metadata",
    new RegExp(`node ${conv + 1} \\(conv2d\\): k: `),
  );
  rejects(withGraph((g) => (g.nodes[conv].attrs.act = "gelu")), "metadata", /act/);
  // A concat of two tensors of different sizes: the full-size image into the 1/4-size decoder.
  const cat = spec.nodes.findIndex((n) => n.op === "concat");
  rejects(withGraph((g) => (g.nodes[cat].inputs[1] = 0)), "metadata", /does not build/);
  rejects(withGraph((g) => (g.output = conv + 1)), "metadata", /square RGB crop/);
  rejects(withGraph((g) => (g.output = 10_000)), "metadata", /output 10000 is not a node/);
  rejects(
    withGraph(() => {}, { config: JSON.stringify(TINY_STUDENT) }),
    "metadata",
    /either a config or a graph/,
  );
  rejects(withGraph(() => {}, { graph: "{" }), "metadata", /graph/);
  // The tensors must match the graph's weights as they do a student's.
  const name = `${spec.nodes[conv].name}.weight`;
  const renamed = Object.fromEntries(tensors);
  renamed["stem.weight"] = renamed[name];
  delete renamed[name];
  rejects(writeSafetensors(renamed, metadata), "missing", new RegExp(name.replaceAll(".", "\\.")));
});
