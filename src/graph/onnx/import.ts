// ONNX import: a UNet-MobileNet student exported from PyTorch (NCHW) becomes our NHWC graph IR and
// weights, which the planner and both executors then run like a student we built ourselves.
//
// NCHW maps onto NHWC by construction: Conv weights are OIHW in both worlds, the channel axis 1
// becomes axis 3, and only ops whose meaning is layout-free or channel-axis-only are accepted.
// BatchNormalization after a Conv is folded into the Conv's weights. Our graph has no generic
// Mul/Sigmoid/Slice, so those are kept symbolic and must resolve into a pattern: the residual +
// mask head `x + sigmoid(h[:, C]) · s · tanh(h[:, :C])` (any factor order, Slice or Split) becomes
// one residual_mask op, and `x · HardSigmoid(x)` becomes hardswish. Anything else fails with an
// OnnxError naming the node; ops we don't know at all are listed together, before anything runs.

import type { Activation } from "../../runtime/activation.ts";
import type { Weights } from "../../runtime/executor.ts";
import type { Shape } from "../../runtime/tensor.ts";
import { Graph } from "../ir.ts";
import { f16BitsToF32 } from "../../runtime/half.ts";
import {
  type AttributeProto,
  DataType,
  decodeModel,
  type NodeProto,
  OnnxError,
  type TensorProto,
} from "./proto.ts";

export { OnnxError };

/** The model uses ops we cannot map; `ops` lists each op type with the nodes that use it. */
export class UnsupportedOnnxOpsError extends OnnxError {
  override name = "UnsupportedOnnxOpsError";
  constructor(readonly ops: { opType: string; nodes: string[] }[]) {
    super(
      `unsupported ONNX ops: ${
        ops.map((o) =>
          `${o.opType} ×${o.nodes.length} (${o.nodes.slice(0, 3).join(", ")}${
            o.nodes.length > 3 ? ", …" : ""
          })`
        ).join("; ")
      }. Supported: ${SUPPORTED.join(", ")}`,
    );
  }
}

export const SUPPORTED = [
  "Conv",
  "BatchNormalization",
  "Relu",
  "Clip",
  "HardSwish",
  "HardSigmoid",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Add",
  "Mul",
  "Concat",
  "Resize",
  "Upsample",
  "Slice",
  "Split",
  "Constant",
  "Identity",
  "Dropout",
] as const;

export interface ImportOptions {
  /** Batch size for a symbolic batch dimension (default 1). */
  batch?: number;
  /** [height, width] for symbolic spatial dimensions. */
  inputSize?: [number, number];
}

export interface ImportedModel {
  graph: Graph;
  weights: Weights;
  /** ONNX names of the graph's inputs and outputs, in order (NCHW there, NHWC here). */
  inputNames: string[];
  outputNames: string[];
  opset: number;
}

// ---- values -----------------------------------------------------------------------------------

type Numbers = number[] | Float32Array;

/** What an ONNX value is while importing: a real NHWC tensor or something still symbolic. */
type Value =
  | { kind: "tensor"; id: number }
  | { kind: "const"; dims: number[]; data: Numbers; name: string }
  | { kind: "slice"; of: number; from: number; to: number; label: string }
  | {
    kind: "unary";
    op: "Relu" | "Clip" | "HardSwish" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSigmoid";
    act?: Activation;
    alpha?: number;
    beta?: number;
    of: Value;
    /** Graph node name, and the ONNX node for messages. */
    name: string;
    label: string;
    id?: number;
  }
  | { kind: "product"; factors: Value[]; name: string; label: string; id?: number };

const float32 = (t: TensorProto, what: string): Float32Array => {
  const count = t.dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData;
  let out: Float32Array;
  switch (t.dataType) {
    case DataType.FLOAT:
      if (raw && raw.length) {
        if (raw.length !== count * 4) {
          fail(`${what}: raw_data has ${raw.length} bytes for ${count} floats`);
        }
        out = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      } else out = Float32Array.from(t.floatData);
      break;
    case DataType.FLOAT16:
      if (raw && raw.length) {
        if (raw.length !== count * 2) {
          fail(`${what}: raw_data has ${raw.length} bytes for ${count} halves`);
        }
        const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
        out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
      } else out = Float32Array.from(t.int32Data, f16BitsToF32);
      break;
    case DataType.DOUBLE:
      if (raw && raw.length) {
        if (raw.length !== count * 8) {
          fail(`${what}: raw_data has ${raw.length} bytes for ${count} doubles`);
        }
        const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
        out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      } else out = Float32Array.from(t.doubleData);
      break;
    default:
      return Float32Array.from(integers(t, what));
  }
  if (out.length !== count) {
    fail(`${what}: holds ${out.length} values, dims [${t.dims}] need ${count}`);
  }
  return out;
};

function integers(t: TensorProto, what: string): number[] {
  const count = t.dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData;
  let out: number[];
  if (t.dataType === DataType.INT64) {
    if (raw && raw.length) {
      if (raw.length !== count * 8) {
        fail(`${what}: raw_data has ${raw.length} bytes for ${count} int64`);
      }
      const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
      out = Array.from({ length: count }, (_, i) => {
        const v = view.getBigInt64(8 * i, true);
        if (v >= 0x7fffffffffffffffn) return Infinity;
        if (v <= -0x8000000000000000n) return -Infinity;
        return Number(v);
      });
    } else out = [...t.int64Data];
  } else if (t.dataType === DataType.INT32) {
    if (raw && raw.length) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
      out = Array.from({ length: raw.length / 4 }, (_, i) => view.getInt32(4 * i, true));
    } else out = [...t.int32Data];
  } else if (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE) {
    out = [...float32(t, what)];
  } else {
    fail(`${what}: tensor data type ${t.dataType} is not supported`);
  }
  if (out.length !== count) {
    fail(`${what}: holds ${out.length} values, dims [${t.dims}] need ${count}`);
  }
  return out;
}

function fail(message: string): never {
  throw new OnnxError(message);
}

const attrOf = (node: NodeProto, name: string): AttributeProto | undefined =>
  node.attribute.find((a) => a.name === name);
const intAttr = (node: NodeProto, name: string, fallback: number) =>
  attrOf(node, name)?.i ?? fallback;
const intsAttr = (node: NodeProto, name: string): number[] | undefined => {
  const a = attrOf(node, name);
  return a ? a.ints : undefined;
};
/**
 * A float attribute as the shortest decimal that is the same float32 (0.1, not 0.100000001), so
 * values written from doubles come back as the doubles they were.
 */
const floatAttr = (node: NodeProto, name: string, fallback: number) => {
  const f = attrOf(node, name)?.f;
  if (f === undefined) return fallback;
  for (let digits = 1; digits < 10; digits++) {
    const d = Number(f.toPrecision(digits));
    if (Math.fround(d) === f) return d;
  }
  return f;
};
const stringAttr = (node: NodeProto, name: string, fallback: string) => {
  const s = attrOf(node, name)?.s;
  return s ? new TextDecoder().decode(s) : fallback;
};

// ---- the importer -----------------------------------------------------------------------------

/** Parses an .onnx file into a graph (NHWC) and weights (PyTorch layout). */
export function importOnnx(bytes: Uint8Array, options: ImportOptions = {}): ImportedModel {
  const model = decodeModel(bytes);
  const g = model.graph!;
  const declared = model.opsetImport.find((o) => !o.domain || o.domain === "ai.onnx")?.version;
  if (declared === undefined) fail("the model imports no default-domain (ai.onnx) opset");
  const opset: number = declared;

  // Every op we cannot map, all at once, before touching anything else.
  const unsupported = new Map<string, string[]>();
  g.node.forEach((n, i) => {
    const custom = n.domain && n.domain !== "ai.onnx";
    const op = custom ? `${n.domain}.${n.opType}` : n.opType ?? "?";
    if (!custom && (SUPPORTED as readonly string[]).includes(op)) return;
    unsupported.set(op, [...unsupported.get(op) ?? [], n.name || `#${i}`]);
  });
  if (unsupported.size) {
    throw new UnsupportedOnnxOpsError(
      [...unsupported].map(([opType, nodes]) => ({ opType, nodes })),
    );
  }

  const graph = new Graph();
  const weights: Weights = new Map();
  const values = new Map<string, Value>();
  const names = new Set<string>();
  const uniqueName = (base: string) => {
    const clean = base.replace(/^\/+/, "").replace(/\s+/g, "_") || "node";
    let name = clean;
    for (let i = 1; names.has(name); i++) name = `${clean}_${i}`;
    names.add(name);
    return name;
  };

  for (const t of g.initializer) {
    if (!t.name) fail("an initializer has no name");
    if (t.dataLocation === 1) {
      fail(`initializer ${t.name} uses external data, which is not supported`);
    }
    values.set(t.name, {
      kind: "const",
      dims: [...t.dims],
      data: float32(t, t.name),
      name: t.name,
    });
  }
  const consumers = new Map<string, number>();
  for (const n of g.node) {
    for (const i of n.input) if (i) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  for (const o of g.output) if (o.name) consumers.set(o.name, (consumers.get(o.name) ?? 0) + 1);

  // Graph inputs: NCHW float tensors with static channels.
  const inputNames: string[] = [];
  for (const vi of g.input) {
    if (!vi.name || values.has(vi.name)) continue; // an initializer listed as input (IR < 4)
    const tt = vi.type?.tensorType;
    if (!tt || tt.elemType !== DataType.FLOAT) fail(`input ${vi.name} is not a float tensor`);
    const dims = tt.shape?.dim ?? [];
    if (dims.length !== 4) fail(`input ${vi.name} has rank ${dims.length}; an NCHW image needs 4`);
    const [n, c, h, w] = dims.map((d, axis) => {
      if (d.dimValue !== undefined && d.dimValue > 0) return d.dimValue;
      if (axis === 0) return options.batch ?? 1;
      if (axis >= 2 && options.inputSize) return options.inputSize[axis - 2];
      fail(
        `input ${vi.name} has a symbolic ${["batch", "channel", "height", "width"][axis]} ` +
          `dimension "${d.dimParam ?? "?"}"; pass inputSize`,
      );
    });
    const id = graph.input(uniqueName(vi.name), [n, h, w, c]);
    values.set(vi.name, { kind: "tensor", id });
    inputNames.push(vi.name);
  }
  if (inputNames.length === 0) fail("the model has no (non-initializer) input");

  const channels = (id: number) => graph.shape(id)[3];

  /** Turns a value into a graph tensor, creating the node a symbolic value stands for. */
  const materialize = (v: Value, user: string): number => {
    switch (v.kind) {
      case "tensor":
        return v.id;
      case "const":
        fail(`${user}: reads the constant ${v.name} where a feature map is expected`);
        break;
      case "slice":
        fail(
          `${v.label}: Slice/Split of channels is only supported inside the residual + mask head ` +
            `(x + sigmoid(mask) · s · tanh(delta)); ${user} uses it otherwise`,
        );
        break;
      case "unary": {
        if (v.id !== undefined) return v.id;
        if (!v.act) {
          fail(`${v.label}: ${v.op} is only supported as x · HardSigmoid(x) (hardswish)`);
        }
        const x = materialize(v.of, v.label);
        v.id = graph.add("activation", [x], {
          act: v.act,
          ...(v.alpha !== undefined ? { alpha: v.alpha } : {}),
        }, uniqueName(v.name));
        return v.id;
      }
      case "product": {
        if (v.id !== undefined) return v.id;
        const f = flatten(v);
        // x · HardSigmoid(x; 1/6, 1/2) is hardswish (how older opsets export it).
        if (f.length === 2) {
          for (const [a, b] of [[f[0], f[1]], [f[1], f[0]]]) {
            if (
              b.kind === "unary" && b.op === "HardSigmoid" && same(a, b.of) &&
              Math.abs((b.alpha ?? 0.2) - 1 / 6) < 1e-6 && Math.abs((b.beta ?? 0.5) - 0.5) < 1e-6
            ) {
              const x = materialize(a, v.label);
              v.id = graph.add("activation", [x], { act: "hardswish" }, uniqueName(v.name));
              return v.id;
            }
          }
        }
        fail(
          `${v.label}: Mul is only supported in the residual + mask head ` +
            `(x + sigmoid(mask) · s · tanh(delta)) or as x · HardSigmoid(x)`,
        );
      }
    }
  };

  const same = (a: Value, b: Value): boolean =>
    a === b || (a.kind === "tensor" && b.kind === "tensor" && a.id === b.id);

  const flatten = (v: Value): Value[] =>
    v.kind === "product" && v.id === undefined ? v.factors.flatMap(flatten) : [v];

  const get = (node: NodeProto, index: number, required = true): Value | undefined => {
    const name = node.input[index];
    if (!name) {
      if (required) fail(`${label(node)}: input ${index} is missing`);
      return undefined;
    }
    const v = values.get(name);
    if (!v) {
      fail(
        `${label(node)}: reads "${name}", which no earlier node or initializer produces ` +
          `(nodes must be in topological order)`,
      );
    }
    return v;
  };
  const constOf = (node: NodeProto, index: number, what: string) => {
    const v = get(node, index, false);
    if (!v) return undefined;
    if (v.kind !== "const") fail(`${label(node)}: ${what} must be a constant`);
    return v;
  };
  const tensorOf = (node: NodeProto, index: number) => materialize(get(node, index)!, label(node));

  let counter = 0;
  const label = (node: NodeProto) => `${node.opType} node "${node.name || `#${counter}`}"`;
  const nodeName = (node: NodeProto) => node.name || `${node.opType}_${counter}`;
  const define = (node: NodeProto, v: Value, output = 0) => {
    const name = node.output[output];
    if (name) values.set(name, v);
  };
  /** Adds a graph node, reporting shape errors against the ONNX node. */
  const add = (node: NodeProto, op: string, inputs: number[], attrs: object, name: string) => {
    try {
      return graph.add(op, inputs, attrs as Record<string, unknown>, name);
    } catch (e) {
      fail(`${label(node)}: ${(e as Error).message}`);
    }
  };

  for (const node of g.node) {
    const op = node.opType!;
    switch (op) {
      case "Constant": {
        const t = attrOf(node, "value")?.t;
        const vf = attrOf(node, "value_float"), vfs = attrOf(node, "value_floats");
        const vi = attrOf(node, "value_int"), vis = attrOf(node, "value_ints");
        let c: Value;
        if (t) {
          c = {
            kind: "const",
            dims: [...t.dims],
            data: float32(t, label(node)),
            name: nodeName(node),
          };
        } else if (vf) c = { kind: "const", dims: [], data: [vf.f ?? 0], name: nodeName(node) };
        else if (vfs) {
          c = { kind: "const", dims: [vfs.floats.length], data: vfs.floats, name: nodeName(node) };
        } else if (vi) c = { kind: "const", dims: [], data: [vi.i ?? 0], name: nodeName(node) };
        else if (vis) {
          c = { kind: "const", dims: [vis.ints.length], data: vis.ints, name: nodeName(node) };
        } else fail(`${label(node)}: only tensor, float(s) and int(s) constants are supported`);
        define(node, c);
        break;
      }
      case "Identity":
        define(node, get(node, 0)!);
        break;
      case "Dropout":
        if (node.output[1] && consumers.get(node.output[1])) {
          fail(`${label(node)}: its mask output is used`);
        }
        define(node, get(node, 0)!);
        break;
      case "Conv":
        define(node, { kind: "tensor", id: conv(node) });
        break;
      case "BatchNormalization":
        define(node, { kind: "tensor", id: foldBatchNorm(node) });
        break;
      case "Relu":
      case "HardSwish":
      case "Sigmoid":
      case "Tanh":
      case "LeakyRelu":
      case "HardSigmoid": {
        const act: Activation | undefined = ({
          Relu: "relu",
          HardSwish: "hardswish",
          Sigmoid: "sigmoid",
          Tanh: "tanh",
          LeakyRelu: "leaky_relu",
          HardSigmoid: undefined,
        } as const)[op];
        define(node, {
          kind: "unary",
          op,
          act,
          of: get(node, 0)!,
          name: nodeName(node),
          label: label(node),
          // LeakyRelu's default slope is ours too: leave it implicit so a round trip is exact.
          ...(op === "LeakyRelu" && attrOf(node, "alpha")
            ? { alpha: floatAttr(node, "alpha", 0.01) }
            : {}),
          ...(op === "HardSigmoid"
            ? { alpha: floatAttr(node, "alpha", 0.2), beta: floatAttr(node, "beta", 0.5) }
            : {}),
        });
        break;
      }
      case "Clip": {
        let lo: number | undefined, hi: number | undefined;
        if (opset < 11) {
          lo = attrOf(node, "min")?.f;
          hi = attrOf(node, "max")?.f;
        } else {
          const scalar = (i: number, what: string) => {
            const c = constOf(node, i, what);
            if (c && c.data.length !== 1) fail(`${label(node)}: ${what} must be a scalar`);
            return c?.data[0];
          };
          lo = scalar(1, "min");
          hi = scalar(2, "max");
        }
        const unbounded = hi === undefined || hi >= 3.4e38;
        let act: Activation;
        if (lo === 0 && hi === 6) act = "relu6";
        else if (lo === 0 && unbounded) act = "relu";
        else {fail(
            `${label(node)}: Clip(${lo ?? "-∞"}, ${hi ?? "∞"}) is not relu6 (0, 6) or relu (0, ∞)`,
          );}
        define(node, {
          kind: "unary",
          op: "Clip",
          act,
          of: get(node, 0)!,
          name: nodeName(node),
          label: label(node),
        });
        break;
      }
      case "Mul":
        define(node, {
          kind: "product",
          factors: [get(node, 0)!, get(node, 1)!],
          name: nodeName(node),
          label: label(node),
        });
        break;
      case "Add":
        define(node, { kind: "tensor", id: addNode(node) });
        break;
      case "Concat": {
        let axis = intAttr(node, "axis", NaN);
        if (axis < 0) axis += 4;
        if (axis !== 1) {
          fail(
            `${label(node)}: only channel concatenation (axis 1) is supported, got axis ${axis}`,
          );
        }
        const parts = node.input.map((_, i) => tensorOf(node, i));
        let id = parts[0];
        const name = nodeName(node);
        for (let i = 1; i < parts.length; i++) {
          id = add(
            node,
            "concat",
            [id, parts[i]],
            {},
            uniqueName(i === parts.length - 1 ? name : `${name}.${i}`),
          );
        }
        define(node, { kind: "tensor", id });
        break;
      }
      case "Resize":
      case "Upsample":
        define(node, { kind: "tensor", id: resize(node) });
        break;
      case "Slice":
        define(node, slice(node));
        break;
      case "Split":
        split(node);
        break;
      default:
        fail(`${label(node)}: unsupported`); // unreachable: listed up front
    }
    counter++;
  }

  const outputNames: string[] = [];
  for (const o of g.output) {
    if (!o.name) fail("a graph output has no name");
    const v = values.get(o.name);
    if (!v) fail(`graph output "${o.name}" is produced by no node`);
    graph.outputs.push(materialize(v, `graph output "${o.name}"`));
    outputNames.push(o.name);
  }
  if (outputNames.length === 0) fail("the model has no outputs");
  return { graph, weights, inputNames, outputNames, opset };

  // ---- op mappings (closures over the state above) ----------------------------------------------

  function conv(node: NodeProto): number {
    const x = tensorOf(node, 0);
    const w = constOf(node, 1, "the weight")!;
    const b = constOf(node, 2, "the bias");
    if (w.dims.length !== 4) {
      fail(`${label(node)}: only 2-D convolutions are supported (weight rank ${w.dims.length})`);
    }
    const [cout, cinPerGroup, kh, kw] = w.dims;
    const cin = channels(x);
    if (kh !== kw) fail(`${label(node)}: kernel ${kh}×${kw} is not square`);
    const group = intAttr(node, "group", 1);
    const dil = intsAttr(node, "dilations") ?? [1, 1];
    if (dil.some((d) => d !== 1)) fail(`${label(node)}: dilation [${dil}] is not supported`);
    const strides = intsAttr(node, "strides") ?? [1, 1];
    if (strides[0] !== strides[1]) fail(`${label(node)}: strides [${strides}] are not equal`);
    const autoPad = stringAttr(node, "auto_pad", "NOTSET");
    let pads = intsAttr(node, "pads") ?? [0, 0, 0, 0];
    if (autoPad === "VALID") pads = [0, 0, 0, 0];
    else if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
      if (strides[0] !== 1 || kh % 2 !== 1) {
        fail(`${label(node)}: auto_pad ${autoPad} is asymmetric here; export explicit pads`);
      }
      pads = Array(4).fill(kh >> 1);
    } else if (autoPad !== "NOTSET") fail(`${label(node)}: auto_pad ${autoPad} is not supported`);
    if (pads.some((p) => p !== pads[0])) {
      fail(`${label(node)}: asymmetric pads [${pads}] are not supported`);
    }
    const attrs = { k: kh, stride: strides[0], pad: pads[0], act: "none" };
    const weightName = node.input[1];
    const base = uniqueName(
      weightName.endsWith(".weight") && !weightName.startsWith("onnx::")
        ? weightName.slice(0, -".weight".length)
        : nodeName(node),
    );
    let id: number;
    if (group === 1) {
      if (cinPerGroup !== cin) {
        fail(`${label(node)}: weight takes ${cinPerGroup} input channels, the input has ${cin}`);
      }
      id = add(node, "conv2d", [x], { cout, ...attrs }, base);
    } else if (group === cin && cout === cin && cinPerGroup === 1) {
      id = add(node, "depthwise_conv2d", [x], { cout, ...attrs }, base);
    } else {
      fail(
        `${
          label(node)
        }: grouped convolution (group ${group}, ${cin} → ${cout}) is not supported; only group 1 or depthwise`,
      );
    }
    if (b && b.data.length !== cout) {
      fail(`${label(node)}: bias has ${b.data.length} values for ${cout} outputs`);
    }
    weights.set(`${base}.weight`, { shape: [...w.dims], data: Float32Array.from(w.data) });
    weights.set(`${base}.bias`, {
      shape: [cout],
      data: b ? Float32Array.from(b.data) : new Float32Array(cout),
    });
    return id;
  }

  function foldBatchNorm(node: NodeProto): number {
    const src = get(node, 0)!;
    const producer = src.kind === "tensor" ? graph.nodes[src.id] : undefined;
    const isConv = producer && (producer.op === "conv2d" || producer.op === "depthwise_conv2d");
    if (!isConv || consumers.get(node.input[0]) !== 1) {
      fail(
        `${label(node)}: only a BatchNormalization right after a Conv (its only reader) can be ` +
          `folded; this one reads ${
            src.kind === "tensor" ? `a ${producer?.op} output` : `a ${src.kind}`
          }`,
      );
    }
    if (intAttr(node, "training_mode", 0) !== 0) {
      fail(`${label(node)}: training_mode BatchNormalization`);
    }
    const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) =>
      constOf(node, i, ["", "scale", "B", "mean", "var"][i])!
    );
    const eps = floatAttr(node, "epsilon", 1e-5);
    const c = producer.shape[3];
    for (const t of [scale, shift, mean, variance]) {
      if (t.data.length !== c) {
        fail(`${label(node)}: ${t.name} has ${t.data.length} values for ${c} channels`);
      }
    }
    const w = weights.get(producer.params[0])!;
    const b = weights.get(producer.params[1])!;
    const per = w.data.length / c;
    for (let o = 0; o < c; o++) {
      const f = scale.data[o] / Math.sqrt(variance.data[o] + eps);
      for (let i = 0; i < per; i++) w.data[o * per + i] *= f;
      b.data[o] = (b.data[o] - mean.data[o]) * f + shift.data[o];
    }
    return producer.id;
  }

  function addNode(node: NodeProto): number {
    const [a, b] = [get(node, 0)!, get(node, 1)!];
    for (const [x, edit] of [[a, b], [b, a]]) {
      if (edit.kind !== "product" || x.kind === "const" || x.kind === "product") continue;
      const head = matchHead(node, x, edit);
      if (head !== undefined) return head;
    }
    if (a.kind === "const" || b.kind === "const") {
      fail(`${label(node)}: adding a constant is not supported (a bias belongs in the Conv)`);
    }
    const inputs = [materialize(a, label(node)), materialize(b, label(node))];
    return add(node, "add", inputs, {}, uniqueName(nodeName(node)));
  }

  /** x + sigmoid(h[:, C:C+1]) · s · tanh(h[:, 0:C]), the factors in any order, s = product of scalars. */
  function matchHead(node: NodeProto, xValue: Value, edit: Value): number | undefined {
    const factors = flatten(edit);
    const sig = factors.filter((f) => f.kind === "unary" && f.op === "Sigmoid");
    const tanh = factors.filter((f) => f.kind === "unary" && f.op === "Tanh");
    const consts = factors.filter((f) => f.kind === "const");
    if (
      sig.length !== 1 || tanh.length !== 1 ||
      sig.length + tanh.length + consts.length !== factors.length
    ) {
      return undefined;
    }
    const m = (sig[0] as Extract<Value, { kind: "unary" }>).of;
    const d = (tanh[0] as Extract<Value, { kind: "unary" }>).of;
    if (m.kind !== "slice" || d.kind !== "slice" || m.of !== d.of) return undefined;
    const x = materialize(xValue, label(node));
    const c = channels(x);
    const h = m.of;
    const where = `${label(node)} (residual + mask head)`;
    if (channels(h) !== c + 1 || d.from !== 0 || d.to !== c || m.from !== c || m.to !== c + 1) {
      fail(
        `${where}: needs h with ${c} delta channels then 1 mask channel ` +
          `(delta h[:, 0:${c}], mask h[:, ${c}:${c + 1}]); got h with ${channels(h)} channels, ` +
          `delta [${d.from}, ${d.to}), mask [${m.from}, ${m.to})`,
      );
    }
    let deltaScale = 1;
    for (const k of consts as Extract<Value, { kind: "const" }>[]) {
      if (k.data.length !== 1) fail(`${where}: the scale ${k.name} is not a scalar`);
      deltaScale *= k.data[0];
    }
    if (!(deltaScale > 0)) fail(`${where}: delta scale ${deltaScale} is not positive`);
    return add(node, "residual_mask", [x, h], { deltaScale }, uniqueName(nodeName(node)));
  }

  function resize(node: NodeProto): number {
    const x = tensorOf(node, 0);
    const [n, h, w, c] = graph.shape(x);
    let scales: Numbers | undefined, sizes: Numbers | undefined;
    const upsample = node.opType === "Upsample";
    if (upsample) {
      scales = opset >= 9 ? constOf(node, 1, "scales")?.data : attrOf(node, "scales")?.floats;
    } else if (opset < 11) {
      scales = constOf(node, 1, "scales")?.data;
    } else {
      const s = constOf(node, 2, "scales");
      scales = s && s.data.length ? s.data : undefined;
      sizes = constOf(node, 3, "sizes")?.data;
    }
    const factor = scales
      ? [...scales].join() === "1,1,2,2"
      : sizes !== undefined && [...sizes].join() === [n, c, 2 * h, 2 * w].join();
    if (!factor) {
      fail(
        `${label(node)}: only 2× spatial upsampling is supported (scales [1, 1, 2, 2]); got ` +
          (scales
            ? `scales [${[...scales]}]`
            : sizes
            ? `sizes [${[...sizes]}]`
            : "neither scales nor sizes"),
      );
    }
    if (intAttr(node, "antialias", 0) !== 0) fail(`${label(node)}: antialias is not supported`);
    if (intsAttr(node, "axes")) fail(`${label(node)}: the axes attribute is not supported`);
    const mode = stringAttr(node, "mode", "nearest");
    const coords = upsample ? "asymmetric" : stringAttr(
      node,
      "coordinate_transformation_mode",
      opset < 11 ? "asymmetric" : "half_pixel",
    );
    let ours: "nearest" | "bilinear";
    if (mode === "nearest") {
      const rounding = upsample || opset < 11
        ? "floor"
        : stringAttr(node, "nearest_mode", "round_prefer_floor");
      if (!nearestIsFloorHalf(coords, rounding)) {
        fail(`${label(node)}: nearest with ${coords}/${rounding} does not pick source pixel ⌊x/2⌋`);
      }
      ours = "nearest";
    } else if (mode === "linear") {
      if (coords !== "half_pixel" && coords !== "pytorch_half_pixel") {
        fail(
          `${label(node)}: linear resize with ${coords} coordinates is not PyTorch's ` +
            `align_corners=False (half_pixel); only that one is supported`,
        );
      }
      ours = "bilinear";
    } else fail(`${label(node)}: ${mode} resize is not supported`);
    return add(node, "upsample2x", [x], { mode: ours }, uniqueName(nodeName(node)));
  }

  function slice(node: NodeProto): Value {
    const x = tensorOf(node, 0);
    let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
    if (opset < 10) {
      starts = intsAttr(node, "starts") ?? [];
      ends = intsAttr(node, "ends") ?? [];
      axes = intsAttr(node, "axes");
    } else {
      const list = (i: number, what: string) => {
        const c = constOf(node, i, what);
        return c ? [...c.data] : undefined;
      };
      starts = list(1, "starts") ?? [];
      ends = list(2, "ends") ?? [];
      axes = list(3, "axes");
      steps = list(4, "steps");
    }
    axes ??= starts.map((_, i) => i);
    if (starts.length !== 1 || axes.length !== 1 || ((axes[0] + 4) % 4) !== 1) {
      fail(`${label(node)}: only a slice of the channel axis is supported (axes [${axes}])`);
    }
    if (steps && steps.some((s) => s !== 1)) {
      fail(`${label(node)}: slice steps [${steps}] are not 1`);
    }
    const c = channels(x);
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + c : v, 0), c);
    return {
      kind: "slice",
      of: x,
      from: clamp(starts[0]),
      to: clamp(ends[0]),
      label: label(node),
    };
  }

  function split(node: NodeProto): void {
    const x = tensorOf(node, 0);
    let axis = intAttr(node, "axis", 0);
    if (axis < 0) axis += 4;
    if (axis !== 1) {
      fail(`${label(node)}: only a split of the channel axis is supported (axis ${axis})`);
    }
    const c = channels(x);
    let parts = opset >= 13 ? constOf(node, 1, "split")?.data : intsAttr(node, "split");
    if (!parts || parts.length === 0) {
      const k = node.output.length;
      if (c % k !== 0) fail(`${label(node)}: ${c} channels do not split evenly into ${k}`);
      parts = Array(k).fill(c / k);
    }
    let from = 0;
    [...parts].forEach((size, i) => {
      define(node, { kind: "slice", of: x, from, to: from + size, label: label(node) }, i);
      from += size;
    });
    if (from !== c) {
      fail(`${label(node)}: split sizes [${[...parts]}] do not add up to ${c} channels`);
    }
  }
}

/**
 * Whether nearest resizing at scale 2 under this coordinate mode and rounding picks source pixel
 * ⌊x/2⌋ (PyTorch's nearest), checked on the first output pixels.
 */
function nearestIsFloorHalf(coords: string, rounding: string): boolean {
  const source = (x: number): number | undefined => {
    switch (coords) {
      case "asymmetric":
        return x / 2;
      case "half_pixel":
      case "pytorch_half_pixel":
        return (x + 0.5) / 2 - 0.5;
      case "tf_half_pixel_for_nn":
        return (x + 0.5) / 2;
      default:
        return undefined;
    }
  };
  const round = (v: number): number | undefined => {
    switch (rounding) {
      case "floor":
        return Math.floor(v);
      case "ceil":
        return Math.ceil(v);
      case "round_prefer_floor":
        return v % 1 === 0.5 ? Math.floor(v) : Math.round(v);
      case "round_prefer_ceil":
        return Math.round(v);
      default:
        return undefined;
    }
  };
  for (let x = 0; x < 8; x++) {
    const s = source(x);
    if (s === undefined) return false;
    const r = round(s);
    if (r === undefined || Math.max(r, 0) !== x >> 1) return false;
  }
  return true;
}

/** The NHWC shape our graph gives an NCHW ONNX tensor of `dims`. */
export const nhwcOf = (dims: readonly number[]): Shape => [dims[0], dims[2], dims[3], dims[1]];
