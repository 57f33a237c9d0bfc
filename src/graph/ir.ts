// A small graph IR: each node is one registry op producing one NHWC tensor (SSA values). The
// student builder writes it un-fused; the planner fuses and places it into a runtime Program.

import { getOp } from "../runtime/ops/index.ts";
import type { Shape } from "../runtime/tensor.ts";

export interface Node {
  id: number;
  /** A registry op name, or "input". */
  op: string;
  inputs: number[];
  attrs: Record<string, unknown>;
  /** Weight names, in the op's parameter order. */
  params: string[];
  shape: Shape;
  /** Readable name, also the prefix of this node's weights. */
  name: string;
}

export interface ParamSpec {
  name: string;
  shape: number[];
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: number[] = [];
  outputs: number[] = [];

  input(name: string, shape: Shape): number {
    const id = this.#push({ op: "input", inputs: [], attrs: {}, params: [], shape, name });
    this.inputs.push(id);
    return id;
  }

  /** Adds an op node; its weights are named `<name>.<param>` (PyTorch state-dict style). */
  add(op: string, inputs: number[], attrs: Record<string, unknown>, name: string): number {
    const def = getOp(op);
    const shapes = inputs.map((i) => this.nodes[i].shape);
    const shape = def.outputShape(shapes, attrs);
    const params = Object.keys(def.params(shapes, attrs)).map((p) => `${name}.${p}`);
    return this.#push({ op, inputs, attrs, params, shape, name });
  }

  shape(id: number): Shape {
    return this.nodes[id].shape;
  }

  /** Every weight the graph needs, with its PyTorch shape. */
  paramSpecs(): ParamSpec[] {
    return this.nodes.flatMap((n) => {
      if (n.op === "input") return [];
      const shapes = getOp(n.op).params(n.inputs.map((i) => this.nodes[i].shape), n.attrs);
      return Object.values(shapes).map((shape, i) => ({ name: n.params[i], shape }));
    });
  }

  /** Consumers of each node, in node order. */
  consumers(): number[][] {
    const users: number[][] = this.nodes.map(() => []);
    for (const n of this.nodes) for (const i of n.inputs) users[i].push(n.id);
    for (const o of this.outputs) users[o].push(-1);
    return users;
  }

  #push(node: Omit<Node, "id">): number {
    const id = this.nodes.length;
    this.nodes.push({ id, ...node });
    return id;
  }
}
