// ONNX in and out: export → import round trips bit-exactly; a PyTorch-style NCHW graph built by
// hand here (Conv + BatchNorm, Clip(0, 6), Resize with scales, the residual head as Slice/Split,
// Sigmoid, Tanh, Mul, Add) imports onto our NHWC graph and matches ONNX Runtime; unsupported ops
// are listed; malformed files fail with an OnnxError, never a crash.

import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { CpuExecutor } from "../../src/runtime/executor.ts";
import { type HostTensor, hostTensor } from "../../src/runtime/tensor.ts";
import { plan } from "../../src/graph/planner.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { buildStudent, type StudentConfig } from "../../src/graph/student.ts";
import { initWeights } from "../../src/graph/weights.ts";
import type { Graph } from "../../src/graph/ir.ts";
import type { Weights } from "../../src/runtime/executor.ts";
import { exportOnnx } from "../../src/graph/onnx/export.ts";
import { fromNchw, toNchw } from "../../src/graph/onnx/layout.ts";
import { importOnnx, OnnxError, UnsupportedOnnxOpsError } from "../../src/graph/onnx/import.ts";
import {
  AttributeType,
  DataType,
  decodeModel,
  type DeepPartial,
  encodeModel,
  type NodeProto,
  type TensorProto,
} from "../../src/graph/onnx/proto.ts";
import { maxAbsDiff } from "../support/gpu.ts";
import { TINY_STUDENT } from "../support/students.ts";

const run = (graph: Graph, weights: Weights, x: HostTensor) =>
  new CpuExecutor(plan(graph).program, weights).run([x])[0];

/** ONNX Runtime (CPU, onnxruntime-node) on an NHWC input: the independent reference. */
async function onnxRuntime(bytes: Uint8Array, x: HostTensor): Promise<HostTensor> {
  const session = await ort.InferenceSession.create(bytes);
  const [n, h, w, c] = x.shape;
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", toNchw(x), [n, c, h, w]) };
  const out = (await session.run(feeds))[session.outputNames[0]];
  const result = fromNchw(out.data as Float32Array, out.dims);
  await session.release();
  return result;
}

const image = (size: number, seed = 5) =>
  hostTensor([1, size, size, 3], randomArray(rng(seed), size * size * 3));

// ---- export → import ---------------------------------------------------------------------------

const ROUND_TRIP: [string, StudentConfig][] = [
  ["relu6 + bilinear (default)", TINY_STUDENT],
  ["hardswish + nearest", { ...TINY_STUDENT, activation: "hardswish", upsample: "nearest" }],
  ["leaky_relu, deltaScale 1.5", { ...TINY_STUDENT, activation: "leaky_relu", deltaScale: 1.5 }],
];

for (const [what, config] of ROUND_TRIP) {
  Deno.test(`ONNX export → import gives identical outputs: ${what}`, () => {
    const graph = buildStudent(config);
    const weights = initWeights(graph, 11);
    // A head that edits visibly, so the mask/delta path is really exercised.
    for (const [name, p] of weights) {
      if (name === "head.conv.weight") p.data.forEach((v, i, a) => a[i] = v * 20);
    }
    const bytes = exportOnnx(graph, weights);
    const imported = importOnnx(bytes);
    assert.deepEqual(imported.inputNames, ["image"]);
    assert.deepEqual(imported.outputNames, ["output"]);
    // Same weights under the same state-dict names.
    assert.deepEqual([...imported.weights.keys()].sort(), [...weights.keys()].sort());
    for (const [name, p] of weights) {
      assert.deepEqual(imported.weights.get(name)!.data, p.data, name);
    }
    const x = image(config.inputSize);
    const ours = run(graph, weights, x);
    const back = run(imported.graph, imported.weights, x);
    assert.equal(maxAbsDiff(ours, back), 0);
    assert.ok(maxAbsDiff(ours, x) > 0.05, "the head should edit the image");
  });
}

Deno.test("the exported student runs in ONNX Runtime (node, CPU) and matches our CPU reference", async () => {
  const graph = buildStudent(TINY_STUDENT);
  const weights = initWeights(graph, 3);
  for (const [name, p] of weights) {
    if (name === "head.conv.weight") p.data.forEach((v, i, a) => a[i] = v * 20);
  }
  const x = image(TINY_STUDENT.inputSize);
  const theirs = await onnxRuntime(exportOnnx(graph, weights), x);
  const ours = run(graph, weights, x);
  assert.ok(maxAbsDiff(ours, theirs) < 1e-4, `max diff ${maxAbsDiff(ours, theirs)}`);
});

Deno.test("an export with a symbolic batch axis serves any batch size in ONNX Runtime", async () => {
  const graph = buildStudent(TINY_STUDENT); // batch 1: the export declares "batch" instead
  const weights = initWeights(graph, 6);
  const bytes = exportOnnx(graph, weights, { batchDim: "batch" });
  const input = decodeModel(bytes).graph!.input![0];
  assert.deepEqual(input.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || d.dimValue), [
    "batch",
    3,
    TINY_STUDENT.inputSize,
    TINY_STUDENT.inputSize,
  ]);
  const s = TINY_STUDENT.inputSize;
  const x = hostTensor([3, s, s, 3], randomArray(rng(8), 3 * s * s * 3));
  const theirs = await onnxRuntime(bytes, x);
  const ours = run(buildStudent(TINY_STUDENT, 3), weights, x);
  assert.deepEqual(theirs.shape, [3, s, s, 3]);
  assert.ok(maxAbsDiff(ours, theirs) < 1e-4, `max diff ${maxAbsDiff(ours, theirs)}`);
});

Deno.test("the exported student runs in ONNX Runtime Web (WASM EP) and matches our CPU reference", async () => {
  const web = await import("onnxruntime-web");
  web.env.wasm.numThreads = 1;
  const graph = buildStudent(TINY_STUDENT);
  const weights = initWeights(graph, 4);
  const x = image(TINY_STUDENT.inputSize);
  const session = await web.InferenceSession.create(exportOnnx(graph, weights), {
    executionProviders: ["wasm"],
  });
  const s = TINY_STUDENT.inputSize;
  const out = await session.run({ image: new web.Tensor("float32", toNchw(x), [1, 3, s, s]) });
  const theirs = fromNchw(out.output.data as Float32Array, out.output.dims);
  await session.release();
  const diff = maxAbsDiff(run(graph, weights, x), theirs);
  assert.ok(diff < 1e-4, `max diff ${diff}`);
});

// ---- a PyTorch-style model built by hand -------------------------------------------------------

type Attr = DeepPartial<NodeProto>["attribute"];
const ints = (name: string, v: number[]) => ({ name, type: AttributeType.INTS, ints: v });
const int = (name: string, v: number) => ({ name, type: AttributeType.INT, i: v });
const float = (name: string, v: number) => ({ name, type: AttributeType.FLOAT, f: v });
const str = (name: string, v: string) => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(v),
});

/** A model under construction: nodes, initializers with random data, NCHW value infos. */
class Builder {
  nodes: DeepPartial<NodeProto>[] = [];
  inits: DeepPartial<TensorProto>[] = [];
  #random = rng(42);

  node(opType: string, input: string[], output: string | string[], attribute: Attr = []) {
    const outs = [output].flat();
    this.nodes.push({ opType, input, output: outs, name: `/${outs[0]}/${opType}`, attribute });
    return outs[0];
  }
  /** A float initializer: random in [lo, hi), or given values. */
  init(name: string, dims: number[], values?: number[] | [number, number]) {
    const count = dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = values && values.length === 2 && count !== 2 ? values : [-0.5, 0.5];
    const data = values && values.length === count
      ? Float32Array.from(values)
      : Float32Array.from({ length: count }, () => lo + (hi - lo) * this.#random());
    this.inits.push({ name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }
  int64(name: string, values: number[]) {
    this.inits.push({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values });
    return name;
  }
  conv(x: string, name: string, cin: number, cout: number, k: number, stride = 1, opts: {
    bias?: boolean;
    group?: number;
  } = {}) {
    const group = opts.group ?? 1;
    const inputs = [x, this.init(`${name}.weight`, [cout, cin / group, k, k])];
    if (opts.bias ?? true) inputs.push(this.init(`${name}.bias`, [cout]));
    const p = k >> 1;
    return this.node("Conv", inputs, name, [
      ints("dilations", [1, 1]),
      int("group", group),
      ints("kernel_shape", [k, k]),
      ints("pads", [p, p, p, p]),
      ints("strides", [stride, stride]),
    ]);
  }
  batchNorm(x: string, name: string, c: number) {
    return this.node(
      "BatchNormalization",
      [
        x,
        this.init(`${name}.weight`, [c], [0.5, 1.5]),
        this.init(`${name}.bias`, [c], [-0.2, 0.2]),
        this.init(`${name}.running_mean`, [c], [-0.3, 0.3]),
        this.init(`${name}.running_var`, [c], [0.5, 2]),
      ],
      name,
      [float("epsilon", 1e-5), float("momentum", 0.9)],
    );
  }
  model(inputs: [string, number[]][], output: [string, number[]], opset = 17) {
    const info = (name: string, dims: number[]) => ({
      name,
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: dims.map((d) => ({ dimValue: d })) },
        },
      },
    });
    return encodeModel({
      irVersion: 8,
      producerName: "pytorch",
      producerVersion: "2.5.0",
      opsetImport: [{ domain: "", version: opset }],
      graph: {
        name: "main_graph",
        node: this.nodes,
        initializer: this.inits,
        input: inputs.map(([n, d]) => info(n, d)),
        output: [info(...output)],
      },
    });
  }
}

/**
 * A small UNet-MobileNet written the way torch.onnx.export writes one (BatchNorm not folded,
 * `head` is `x + torch.sigmoid(h[:, 3:]) * 2.0 * torch.tanh(h[:, :3])`).
 */
function pytorchStyleStudent(
  head: "slice" | "split" = "slice",
  size = 32,
): Uint8Array {
  const b = new Builder();
  const zero = b.init("onnx::Clip_0", [], [0]);
  const six = b.init("onnx::Clip_6", [], [6]);
  // Encoder: stem conv + BN + relu6 (1/2), depthwise s2 + BN + relu, pointwise + leaky, residual.
  const stem = b.node("Clip", [
    b.batchNorm(b.conv("input", "stem.0", 3, 8, 3, 2, { bias: false }), "stem.1", 8),
    zero,
    six,
  ], "stem.2");
  const dw = b.node("Relu", [
    b.batchNorm(b.conv(stem, "enc.dw", 8, 8, 3, 2, { bias: false, group: 8 }), "enc.dw_bn", 8),
  ], "enc.relu");
  const pw = b.node("LeakyRelu", [b.conv(dw, "enc.pw", 8, 8, 1)], "enc.leaky", [
    float("alpha", 0.1),
  ]);
  const enc = b.node("Add", [pw, dw], "enc.add");
  // Decoder: nearest 2× (asymmetric/floor, as F.interpolate(mode="nearest") exports), concat skip.
  const scales = b.init("scales", [4], [1, 1, 2, 2]);
  const up1 = b.node("Resize", [enc, "", scales], "dec.up", [
    str("coordinate_transformation_mode", "asymmetric"),
    float("cubic_coeff_a", -0.75),
    str("mode", "nearest"),
    str("nearest_mode", "floor"),
  ]);
  const cat1 = b.node("Concat", [up1, stem], "dec.cat", [int("axis", 1)]);
  const ex = b.node("HardSwish", [b.conv(cat1, "dec.expand", 16, 12, 1)], "dec.hswish");
  const ft = b.node("Tanh", [b.conv(ex, "dec.project", 12, 8, 1)], "dec.tanh");
  // Full resolution: bilinear align_corners=False (pytorch_half_pixel), concat the input image.
  const up2 = b.node("Resize", [ft, "", scales], "head.up", [
    str("coordinate_transformation_mode", "pytorch_half_pixel"),
    str("mode", "linear"),
  ]);
  const cat2 = b.node("Concat", [up2, "input"], "head.cat", [int("axis", 1)]);
  const h = b.conv(cat2, "head.conv", 11, 4, 3);
  let d: string, m: string;
  if (head === "slice") {
    d = b.node(
      "Slice",
      [h, b.int64("s0", [0]), b.int64("s3", [3]), b.int64("ax1", [1])],
      "delta_logits",
    );
    m = b.node("Slice", [
      h,
      b.int64("s3b", [3]),
      b.int64("end", [Infinity]),
      b.int64("ax1b", [1]),
      b.int64("st", [1]),
    ], "mask_logit");
  } else {
    const split = b.int64("split", [3, 1]);
    [d, m] = [
      b.node("Split", [h, split], ["delta_logits", "mask_logit"], [int("axis", 1)]),
      "mask_logit",
    ];
  }
  const delta = b.node("Tanh", [d], "delta");
  const mask = b.node("Sigmoid", [m], "mask");
  b.nodes.push({
    opType: "Constant",
    output: ["scale"],
    name: "/Constant",
    attribute: [{
      name: "value",
      type: AttributeType.TENSOR,
      t: { dims: [], dataType: DataType.FLOAT, floatData: [2] },
    }],
  });
  // Factor order differs between the two variants: the importer must not care.
  const edit = head === "slice"
    ? b.node("Mul", [b.node("Mul", [mask, "scale"], "mask_scaled"), delta], "edit")
    : b.node("Mul", [delta, b.node("Mul", ["scale", mask], "mask_scaled")], "edit");
  b.node("Add", ["input", edit], "output");
  return b.model([["input", [1, 3, size, size]]], ["output", [1, 3, size, size]]);
}

for (const head of ["slice", "split"] as const) {
  Deno.test(`a hand-built PyTorch-style NCHW model (BatchNorm, Clip, Resize, ${head} head) imports and matches ONNX Runtime`, async () => {
    const bytes = pytorchStyleStudent(head);
    const { graph, weights, inputNames, outputNames } = importOnnx(bytes);
    assert.deepEqual([inputNames, outputNames], [["input"], ["output"]]);
    const ops = graph.nodes.map((n) => n.op);
    assert.equal(ops.filter((o) => o === "conv2d").length, 5);
    assert.equal(ops.filter((o) => o === "depthwise_conv2d").length, 1);
    assert.deepEqual(
      ops.filter((o) => o === "upsample2x").map((_, i) =>
        graph.nodes.filter((n) => n.op === "upsample2x")[i].attrs.mode
      ),
      ["nearest", "bilinear"],
    );
    assert.equal(ops.filter((o) => o === "residual_mask").length, 1);
    assert.equal(graph.nodes.find((n) => n.op === "residual_mask")!.attrs.deltaScale, 2);
    // BatchNorm folded into the conv, named after the conv's PyTorch weight.
    assert.ok(weights.has("stem.0.weight") && weights.has("stem.0.bias"));
    assert.ok(![...weights.keys()].some((k) => k.includes("running")));

    const x = image(32, 9);
    const ours = run(graph, weights, x);
    const theirs = await onnxRuntime(bytes, x);
    assert.deepEqual(ours.shape, [1, 32, 32, 3]);
    const diff = maxAbsDiff(ours, theirs);
    assert.ok(diff < 1e-4, `max diff vs ONNX Runtime ${diff}`);
    assert.ok(maxAbsDiff(ours, x) > 0.01, "the head should edit the image");
  });
}

Deno.test("x · HardSigmoid(x), how older opsets export hardswish, imports as hardswish", async () => {
  const b = new Builder();
  const c = b.conv("input", "conv", 3, 8, 3);
  const hs = b.node("HardSigmoid", [c], "gate", [float("alpha", 1 / 6), float("beta", 0.5)]);
  const act = b.node("Mul", [c, hs], "hswish");
  b.node("Add", [b.conv(act, "proj", 8, 3, 1), "input"], "output");
  const bytes = b.model([["input", [1, 3, 8, 8]]], ["output", [1, 3, 8, 8]], 13);
  const { graph, weights } = importOnnx(bytes);
  assert.deepEqual(
    graph.nodes.filter((n) => n.op === "activation").map((n) => n.attrs.act),
    ["hardswish"],
  );
  const x = image(8, 2);
  const diff = maxAbsDiff(run(graph, weights, x), await onnxRuntime(bytes, x));
  assert.ok(diff < 1e-4, `max diff ${diff}`);
});

// ---- errors ------------------------------------------------------------------------------------

Deno.test("an ONNX model with unsupported ops fails with one error listing all of them", () => {
  const b = new Builder();
  const c = b.conv("input", "conv", 3, 8, 3);
  const pool = b.node("MaxPool", [c], "pool", [
    ints("kernel_shape", [2, 2]),
    ints("strides", [2, 2]),
  ]);
  const flat = b.node("Reshape", [pool, b.int64("shape", [1, -1])], "flat");
  const fc = b.node("Gemm", [flat, b.init("fc.weight", [10, 512]), b.init("fc.bias", [10])], "fc");
  const fc2 = b.node("Gemm", [fc, b.init("fc2.weight", [10, 10]), b.init("fc2.bias", [10])], "fc2");
  b.node("Softmax", [fc2], "probs");
  const bytes = b.model([["input", [1, 3, 16, 16]]], ["probs", [1, 10]]);
  let e: UnsupportedOnnxOpsError | undefined;
  try {
    importOnnx(bytes);
  } catch (error) {
    e = error as UnsupportedOnnxOpsError;
  }
  assert.ok(e instanceof UnsupportedOnnxOpsError, `expected UnsupportedOnnxOpsError, got ${e}`);
  assert.deepEqual(e.ops.map((o) => o.opType).sort(), ["Gemm", "MaxPool", "Reshape", "Softmax"]);
  assert.deepEqual(e.ops.find((o) => o.opType === "Gemm")!.nodes, ["/fc/Gemm", "/fc2/Gemm"]);
  assert.match(e.message, /Gemm ×2/);
  assert.match(e.message, /MaxPool ×1 \(\/pool\/MaxPool\)/);
  assert.ok(e instanceof OnnxError);
});

Deno.test("supported ops used in ways our graph cannot express fail with the node named", () => {
  const cases: [string, (b: Builder) => string, RegExp][] = [
    ["Mul of two feature maps", (b) => {
      const c = b.conv("input", "a", 3, 3, 1);
      return b.node("Mul", [c, "input"], "out");
    }, /Mul node "\/out\/Mul".*residual \+ mask head/],
    [
      "BatchNorm not after a Conv",
      (b) => b.batchNorm("input", "bn", 3),
      /BatchNormalization.*right after a Conv/,
    ],
    [
      "Concat on the width axis",
      (b) => b.node("Concat", ["input", "input"], "out", [int("axis", 3)]),
      /axis 1/,
    ],
    [
      "Clip that is not relu6",
      (b) => b.node("Clip", ["input", b.init("lo", [], [-1]), b.init("hi", [], [1])], "out"),
      /Clip\(-1, 1\)/,
    ],
    [
      "3× resize",
      (b) =>
        b.node("Resize", ["input", "", b.init("sc", [4], [1, 1, 3, 3])], "out", [
          str("mode", "nearest"),
        ]),
      /2× spatial/,
    ],
    [
      "align_corners=True bilinear",
      (b) =>
        b.node("Resize", ["input", "", b.init("sc", [4], [1, 1, 2, 2])], "out", [
          str("mode", "linear"),
          str("coordinate_transformation_mode", "align_corners"),
        ]),
      /align_corners=False/,
    ],
    [
      "grouped conv",
      (b) => b.conv(b.conv("input", "a", 3, 4, 1), "g", 4, 4, 3, 1, { group: 2 }),
      /grouped convolution/,
    ],
    ["undefined value", (b) => b.node("Relu", ["nowhere"], "out"), /reads "nowhere"/],
  ];
  for (const [what, build, pattern] of cases) {
    const b = new Builder();
    const out = build(b);
    const bytes = b.model([["input", [1, 3, 8, 8]]], [out, [1, 3, 8, 8]]);
    assert.throws(() => importOnnx(bytes), (e: Error) => {
      assert.ok(e instanceof OnnxError, `${what}: ${e}`);
      assert.match(e.message, pattern, what);
      return true;
    });
  }
});

Deno.test("malformed ONNX files fail with a clear OnnxError, never a crash", () => {
  const valid = exportOnnx(buildStudent(TINY_STUDENT), initWeights(buildStudent(TINY_STUDENT), 1));
  const text = (s: string) => new TextEncoder().encode(s);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /empty/],
    ["JSON", text('{"graph": {"node": []}}'), /malformed|not an ONNX model/],
    ["text", text("hello, this is not a model"), /malformed|not an ONNX model/],
    ["truncated", valid.subarray(0, valid.length >> 1), /malformed.*(truncated|runs past)/],
    ["random", randomBytes(4096, 1), /malformed|not an ONNX model/],
    ["no graph", encodeModel({ irVersion: 8, opsetImport: [{ version: 17 }] }), /no graph/],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(() => importOnnx(bytes), (e: Error) => {
      assert.ok(e instanceof OnnxError, `${what}: ${e.name}: ${e.message}`);
      assert.match(e.message, pattern, `${what}: ${e.message}`);
      return true;
    });
  }
  // Mutations of a small valid model: each either imports or throws an OnnxError.
  const small = pytorchStyleStudent("slice");
  const random = rng(77);
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = small.slice();
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
    try {
      importOnnx(cut);
    } catch (e) {
      if (!(e instanceof OnnxError)) {
        throw new Error(`mutation ${i} escaped as ${(e as Error).name}: ${(e as Error).stack}`);
      }
      rejected++;
    }
  }
  assert.ok(rejected > 50, `only ${rejected} of 400 mutations were rejected`);
});

Deno.test("the protobuf codec round-trips what it writes, int64 extremes included", () => {
  const bytes = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "g",
      node: [{
        opType: "Relu",
        input: ["x"],
        output: ["y"],
        attribute: [ints("v", [-1, 0, 2 ** 40, Infinity, -Infinity])],
      }],
      initializer: [{
        name: "t",
        dims: [2],
        dataType: DataType.INT64,
        int64Data: [-5, 2 ** 53 - 1],
      }],
    },
  });
  const m = decodeModel(bytes);
  assert.deepEqual(m.graph!.node[0].attribute[0].ints, [-1, 0, 2 ** 40, Infinity, -Infinity]);
  assert.deepEqual(m.graph!.initializer[0].int64Data, [-5, 2 ** 53 - 1]);
  assert.equal(m.graph!.node[0].opType, "Relu");
});

function randomBytes(n: number, seed: number) {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}
