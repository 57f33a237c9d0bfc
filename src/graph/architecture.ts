// What network a weight file holds: one of our students (its config), or any graph of our ops,
// such as a student imported from ONNX (the graph itself, without its batch size). Plain data, so
// it travels to workers and into a weight file's metadata; `buildNetwork` makes it a graph for
// any batch.

import { z } from "zod";
import { ACTIVATIONS } from "../runtime/activation.ts";
import { Graph } from "./ir.ts";
import { buildStudent, type StudentConfig } from "./student.ts";

/** A graph of one image input [H, W, C] and one output; node i's inputs are earlier nodes. */
export interface GraphSpec {
  input: { name: string; shape: [number, number, number] };
  /** Node 0 is the input; these are nodes 1, 2, … */
  nodes: { op: string; inputs: number[]; attrs: Record<string, unknown>; name: string }[];
  output: number;
}

export type Architecture =
  | { kind: "student"; config: StudentConfig }
  | { kind: "graph"; graph: GraphSpec };

/** The graph for `batch` crops at a time. */
export function buildNetwork(a: Architecture, batch = 1): Graph {
  if (a.kind === "student") return buildStudent(a.config, batch);
  const g = new Graph();
  g.input(a.graph.input.name, [batch, ...a.graph.input.shape]);
  for (const n of a.graph.nodes) g.add(n.op, n.inputs, n.attrs, n.name);
  g.outputs = [a.graph.output];
  return g;
}

/** Side of the square crop the network takes. */
export const inputSizeOf = (a: Architecture): number =>
  a.kind === "student" ? a.config.inputSize : a.graph.input.shape[0];

/** The spec of a graph with one input and one output (its batch size dropped). */
export function graphSpec(g: Graph): GraphSpec {
  if (g.inputs.length !== 1 || g.outputs.length !== 1 || g.inputs[0] !== 0) {
    throw new Error(
      `a network needs exactly one input (node 0) and one output, this graph has ` +
        `${g.inputs.length} and ${g.outputs.length}`,
    );
  }
  const [input, ...nodes] = g.nodes;
  const [, h, w, c] = input.shape;
  return {
    input: { name: input.name, shape: [h, w, c] },
    nodes: nodes.map((n) => ({ op: n.op, inputs: [...n.inputs], attrs: n.attrs, name: n.name })),
    output: g.outputs[0],
  };
}

// ---- validation of a spec read from a file --------------------------------------------------

const int = (min: number, max: number) => z.int().min(min).max(max);
const act = z.enum(ACTIVATIONS);
const alpha = z.number().min(0).max(1).optional();
const window = { k: int(1, 7), stride: int(1, 2), pad: int(0, 3), act, alpha };
const channels = int(1, 4096);

/** The attributes each op of an imported network may carry. */
const ATTRS: Record<string, z.ZodType> = {
  conv2d: z.strictObject({ cout: channels, ...window }),
  depthwise_conv2d: z.strictObject({ cout: channels.optional(), ...window }),
  activation: z.strictObject({ act, alpha }),
  add: z.strictObject({ act: act.optional(), alpha }),
  concat: z.strictObject({}),
  upsample2x: z.strictObject({ mode: z.enum(["nearest", "bilinear"]) }),
  residual_mask: z.strictObject({ deltaScale: z.number().gt(0).max(100).optional() }),
};

const GraphSpecSchema = z.strictObject({
  input: z.strictObject({
    name: z.string().max(200),
    shape: z.tuple([int(16, 1024), int(16, 1024), int(1, 4)]),
  }),
  nodes: z.array(
    z.strictObject({
      op: z.enum(Object.keys(ATTRS) as [string, ...string[]]),
      inputs: z.array(z.int().min(0)).min(1).max(8),
      attrs: z.record(z.string(), z.unknown()),
      name: z.string().max(200),
    }),
  ).min(1).max(1000),
  output: z.int().min(1),
});

/**
 * A graph spec from untrusted JSON: the schema, each node's attributes, inputs that refer to
 * earlier nodes, and a graph that builds (every shape agrees). Throws an Error saying what is wrong.
 */
export function parseGraphSpec(json: unknown): GraphSpec {
  const parsed = GraphSpecSchema.safeParse(json);
  if (!parsed.success) throw new Error(`graph: ${describe(parsed.error)}`);
  const spec = parsed.data as GraphSpec;
  spec.nodes.forEach((n, i) => {
    const attrs = ATTRS[n.op].safeParse(n.attrs);
    if (!attrs.success) throw new Error(`graph node ${i + 1} (${n.op}): ${describe(attrs.error)}`);
    const later = n.inputs.find((j) => j > i);
    if (later !== undefined) {
      throw new Error(`graph node ${i + 1} (${n.op}) reads node ${later}, which is not before it`);
    }
  });
  if (spec.output > spec.nodes.length) {
    throw new Error(`graph output ${spec.output} is not a node (there are ${spec.nodes.length})`);
  }
  try {
    buildNetwork({ kind: "graph", graph: spec });
  } catch (e) {
    throw new Error(`graph does not build: ${(e as Error).message}`);
  }
  return spec;
}

const describe = (e: z.ZodError) =>
  e.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
