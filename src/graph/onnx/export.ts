// ONNX export of a graph IR (NHWC, our ops) as a PyTorch-style NCHW model (opset 17), so peer
// runtimes (ONNX Runtime, anything that reads ONNX) run exactly our model with our weights.
//
// Mapping: conv2d → Conv, depthwise_conv2d → Conv(group = C), activations → Relu / Clip(0, 6) /
// HardSwish / LeakyRelu / Sigmoid / Tanh, add → Add, concat → Concat(axis 1), upsample2x → Resize
// (nearest: asymmetric + floor; bilinear: half_pixel, PyTorch's align_corners=False), and the
// residual + mask head → Slice, Tanh, Sigmoid, Mul, Add, as PyTorch writes `x + sigmoid(m)·s·tanh(d)`.
// Weights are already in PyTorch layout (OIHW) and keep their state-dict names.

import type { Activation } from "../../runtime/activation.ts";
import type { Weights } from "../../runtime/executor.ts";
import type { Graph, Node } from "../ir.ts";
import {
  type AttributeProto,
  AttributeType,
  DataType,
  type DeepPartial,
  encodeModel,
  type GraphProto,
  type NodeProto,
  OnnxError,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";

export const EXPORT_OPSET = 17;
const IR_VERSION = 8;

export interface ExportOptions {
  /** Graph name in the file (default "facefx-student"). */
  name?: string;
  /** Free text kept in the model's doc_string, e.g. the student config. */
  docString?: string;
  /** String metadata (ModelProto.metadata_props). */
  metadata?: Record<string, string>;
  /**
   * A name for a symbolic batch axis (e.g. "batch"): the model then takes any batch size, not the
   * graph's own. Every op we export is batch-agnostic; only the declared shapes carry it.
   */
  batchDim?: string;
}

type Attr = DeepPartial<AttributeProto>;
type NodeOut = DeepPartial<NodeProto> & { input: string[]; output: string[] };

const text = new TextEncoder();
const intsAttr = (name: string, ints: number[]): Attr => ({
  name,
  type: AttributeType.INTS,
  ints,
});
const intAttr = (name: string, i: number): Attr => ({ name, type: AttributeType.INT, i });
const floatAttr = (name: string, f: number): Attr => ({ name, type: AttributeType.FLOAT, f });
const stringAttr = (name: string, s: string): Attr => ({
  name,
  type: AttributeType.STRING,
  s: text.encode(s),
});

function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return {
    name,
    dims: [...dims],
    dataType: DataType.FLOAT,
    rawData: raw,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
  };
}

function int64Tensor(name: string, values: number[]): TensorProto {
  return {
    name,
    dims: [values.length],
    dataType: DataType.INT64,
    int64Data: values,
    floatData: [],
    int32Data: [],
    doubleData: [],
    uint64Data: [],
  };
}

const nchw = (shape: readonly number[]) => [shape[0], shape[3], shape[1], shape[2]];

function valueInfo(name: string, shape: readonly number[], batchDim?: string): ValueInfoProto {
  const dim = nchw(shape).map((d, axis) =>
    axis === 0 && batchDim !== undefined ? { dimParam: batchDim } : { dimValue: d }
  );
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}

/** Serialises a graph and its weights to the bytes of an .onnx file. */
export function exportOnnx(
  graph: Graph,
  weights: Weights,
  options: ExportOptions = {},
): Uint8Array {
  const nodes: NodeOut[] = [];
  const initializers = new Map<string, TensorProto>();
  const used = new Set<string>();
  const unique = (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const constant = (t: TensorProto) => {
    if (!initializers.has(t.name!)) initializers.set(t.name!, t);
    used.add(t.name!);
    return t.name!;
  };
  const scalar = (name: string, v: number) =>
    constant(floatTensor(name, [], new Float32Array([v])));
  const emit = (opType: string, inputs: string[], name: string, attribute: Attr[] = []) => {
    const output = unique(name);
    nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  };
  const param = (name: string) => {
    const p = weights.get(name);
    if (!p) throw new OnnxError(`export: weight "${name}" is missing`);
    return constant(floatTensor(name, p.shape, p.data));
  };

  const activate = (x: string, act: Activation, alpha: number | undefined, name: string) => {
    switch (act) {
      case "none":
        return x;
      case "relu":
        return emit("Relu", [x], name);
      case "relu6":
        return emit("Clip", [x, scalar("const.zero", 0), scalar("const.six", 6)], name);
      case "hardswish":
        return emit("HardSwish", [x], name);
      case "leaky_relu":
        // ONNX's default slope is ours (0.01): write it only when it differs.
        return emit("LeakyRelu", [x], name, alpha === undefined ? [] : [floatAttr("alpha", alpha)]);
      case "sigmoid":
        return emit("Sigmoid", [x], name);
      case "tanh":
        return emit("Tanh", [x], name);
    }
  };

  const names = new Map<number, string>(); // graph node id → ONNX value name
  for (const id of graph.inputs) names.set(id, unique(graph.nodes[id].name));

  for (const n of graph.nodes) {
    if (n.op === "input") continue;
    const x = n.inputs.map((i) => names.get(i)!);
    const a = n.attrs as Record<string, unknown>;
    const act = (a.act ?? "none") as Activation;
    const alpha = a.alpha as number | undefined;
    let out: string;
    switch (n.op) {
      case "conv2d":
      case "depthwise_conv2d": {
        const [weight, bias] = n.params.map(param);
        const k = a.k as number, s = a.stride as number, p = a.pad as number;
        const group = n.op === "depthwise_conv2d" ? graph.shape(n.inputs[0])[3] : 1;
        const conv = emit("Conv", [x[0], weight, bias], `${n.name}.conv`, [
          intsAttr("dilations", [1, 1]),
          intAttr("group", group),
          intsAttr("kernel_shape", [k, k]),
          intsAttr("pads", [p, p, p, p]),
          intsAttr("strides", [s, s]),
        ]);
        out = activate(conv, act, alpha, `${n.name}.act`);
        if (x[1] !== undefined) out = emit("Add", [out, x[1]], `${n.name}.residual`);
        break;
      }
      case "activation":
        out = act === "none"
          ? emit("Identity", [x[0]], n.name)
          : activate(x[0], act, alpha, n.name);
        break;
      case "add":
        out = activate(emit("Add", [x[0], x[1]], n.name), act, alpha, `${n.name}.act`);
        break;
      case "concat":
        out = emit("Concat", x, n.name, [intAttr("axis", 1)]);
        break;
      case "upsample2x": {
        const scales = constant(floatTensor("const.scales2x", [4], new Float32Array([1, 1, 2, 2])));
        const attrs = a.mode === "nearest"
          ? [
            stringAttr("coordinate_transformation_mode", "asymmetric"),
            stringAttr("mode", "nearest"),
            stringAttr("nearest_mode", "floor"),
          ]
          : [
            stringAttr("coordinate_transformation_mode", "half_pixel"),
            stringAttr("mode", "linear"),
          ];
        out = emit("Resize", [x[0], "", scales], n.name, attrs);
        break;
      }
      case "residual_mask": {
        const c = graph.shape(n.inputs[0])[3];
        const slice = (from: number, to: number, name: string) =>
          emit("Slice", [
            x[1],
            constant(int64Tensor(`const.i${from}`, [from])),
            constant(int64Tensor(`const.i${to}`, [to])),
            constant(int64Tensor("const.i1", [1])),
          ], name);
        const delta = emit("Tanh", [slice(0, c, `${n.name}.delta_logits`)], `${n.name}.delta`);
        const mask = emit("Sigmoid", [slice(c, c + 1, `${n.name}.mask_logit`)], `${n.name}.mask`);
        const deltaScale = (a.deltaScale as number | undefined) ?? 2;
        const scaled = emit(
          "Mul",
          [mask, scalar(`${n.name}.delta_scale`, deltaScale)],
          `${n.name}.scaled_mask`,
        );
        const edit = emit("Mul", [scaled, delta], `${n.name}.edit`);
        out = emit("Add", [x[0], edit], n.name);
        break;
      }
      default:
        throw new OnnxError(`export: no ONNX mapping for op "${n.op}" (node ${n.name})`);
    }
    names.set(n.id, out);
  }

  // The single output gets the conventional name "output" (graph inputs keep theirs).
  if (graph.outputs.length === 1 && !graph.inputs.includes(graph.outputs[0])) {
    const from = names.get(graph.outputs[0])!;
    const to = used.has("output") && from !== "output" ? unique("output") : "output";
    for (const node of nodes) {
      node.input = node.input.map((v) => v === from ? to : v);
      node.output = node.output.map((v) => v === from ? to : v);
    }
    names.set(graph.outputs[0], to);
  }

  const nodeOf = (id: number): Node => graph.nodes[id];
  const g: DeepPartial<GraphProto> = {
    name: options.name ?? "facefx-student",
    node: nodes,
    initializer: [...initializers.values()],
    input: graph.inputs.map((id) => valueInfo(names.get(id)!, nodeOf(id).shape, options.batchDim)),
    output: graph.outputs.map((id) =>
      valueInfo(names.get(id)!, nodeOf(id).shape, options.batchDim)
    ),
  };
  return encodeModel({
    irVersion: IR_VERSION,
    producerName: "facefx",
    producerVersion: "1",
    docString: options.docString,
    opsetImport: [{ domain: "", version: EXPORT_OPSET }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: g,
  });
}
