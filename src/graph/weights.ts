// The student's weight file: safetensors in PyTorch layout with the architecture in `__metadata__`
// (a student config, or the graph of a network imported from ONNX), stored as f32, f16 or int8
// per-output-channel, checked against the graph on load.

import type { Weights } from "../runtime/executor.ts";
import { type Architecture, buildNetwork, parseGraphSpec } from "./architecture.ts";
import { buildStudent } from "./student.ts";
import { dequantizeWeights, quantizeWeights } from "./quantize.ts";
import {
  parseSafetensors,
  type Tensor,
  validateTensors,
  WeightsError,
  writeSafetensors,
} from "./safetensors.ts";
import type { Graph } from "./ir.ts";
import { gaussian, rng } from "./random.ts";

export type WeightDtype = "f32" | "f16" | "int8";
const FORMAT = "facefx-student/1";

export function encodeStudentWeights(
  architecture: Architecture,
  weights: Weights,
  dtype: WeightDtype,
): Uint8Array {
  const plain = Object.fromEntries(
    [...weights].map(([name, p]) => [name, { shape: [...p.shape], data: p.data }]),
  );
  const tensors: Record<string, Tensor> = dtype === "int8"
    ? quantizeWeights(plain)
    : Object.fromEntries(
      Object.entries(plain).map(([n, t]) => [n, { dtype: dtype === "f16" ? "F16" : "F32", ...t }]),
    );
  const network: Record<string, string> = architecture.kind === "student"
    ? { config: JSON.stringify(architecture.config) }
    : { graph: JSON.stringify(architecture.graph) };
  return writeSafetensors(tensors, { format: FORMAT, dtype, ...network });
}

/** Parses, dequantises and checks a weight file; every problem is a WeightsError. */
export function decodeStudentWeights(
  bytes: Uint8Array,
): { architecture: Architecture; dtype: WeightDtype; weights: Weights } {
  const { metadata, tensors } = parseSafetensors(bytes);
  if (metadata.format !== FORMAT) {
    throw new WeightsError(
      "metadata",
      `__metadata__.format is "${metadata.format}", expected "${FORMAT}"`,
    );
  }
  const dtype = metadata.dtype as WeightDtype;
  if (!["f32", "f16", "int8"].includes(dtype)) {
    throw new WeightsError(
      "metadata",
      `__metadata__.dtype "${metadata.dtype}" is not f32, f16 or int8`,
    );
  }
  const architecture = readArchitecture(metadata);
  const graph = buildNetwork(architecture);
  // The client and the server paste the output back where the crop came from.
  const [input, output] = [graph.shape(graph.inputs[0]), graph.shape(graph.outputs[0])];
  if (input[1] !== input[2] || input[3] !== 3 || output.join() !== input.join()) {
    throw new WeightsError(
      "metadata",
      `__metadata__.graph must map a square RGB crop to one of the same size, not ` +
        `[${input.slice(1)}] to [${output.slice(1)}] (H, W, C)`,
    );
  }
  const specs = graph.paramSpecs();
  // Each tensor's stored dtype must be what the declared dtype stores it as.
  const stored = (rank: number) =>
    dtype === "f16" ? ["F16"] : dtype === "int8" && rank >= 2 ? ["I8"] : ["F32"];
  const expected = specs.flatMap((s) => {
    const main = { name: s.name, shape: s.shape, dtypes: stored(s.shape.length) };
    if (dtype !== "int8" || s.shape.length < 2) return [main];
    return [main, { name: `${s.name}.scale`, shape: [s.shape[0]], dtypes: ["F32", "F16"] }];
  });
  validateTensors(tensors, expected);
  const weights: Weights = new Map();
  for (const [name, t] of dequantizeWeights(tensors)) weights.set(name, t);
  return { architecture, dtype, weights };
}

/** The network of `__metadata__`: a student config, or a graph of our ops. */
function readArchitecture(metadata: Record<string, string>): Architecture {
  if ((metadata.config === undefined) === (metadata.graph === undefined)) {
    throw new WeightsError("metadata", "__metadata__ needs either a config or a graph, not both");
  }
  if (metadata.config !== undefined) {
    try {
      const config = JSON.parse(metadata.config);
      buildStudent(config);
      return { kind: "student", config };
    } catch (e) {
      throw new WeightsError(
        "metadata",
        `__metadata__.config is not a valid student config: ${(e as Error).message}`,
      );
    }
  }
  try {
    return { kind: "graph", graph: parseGraphSpec(JSON.parse(metadata.graph)) };
  } catch (e) {
    throw new WeightsError("metadata", `__metadata__.graph: ${(e as Error).message}`);
  }
}

/**
 * Fresh weights: He-normal convolutions and zero biases, except the head, which starts near the
 * identity (small delta, mask mostly closed) so an untrained student returns its input.
 */
export function initWeights(graph: Graph, seed = 1): Weights {
  const random = rng(seed);
  const weights: Weights = new Map();
  for (const { name, shape } of graph.paramSpecs()) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (shape.length > 1) {
      const fanIn = size / shape[0];
      const std = Math.sqrt(2 / fanIn) * (name.startsWith("head.") ? 0.1 : 1);
      for (let i = 0; i < size; i++) data[i] = gaussian(random) * std;
    } else if (name === "head.conv.bias") {
      data[3] = -2; // mask logit: sigmoid(-2) ≈ 0.12
    }
    weights.set(name, { shape, data });
  }
  return weights;
}
