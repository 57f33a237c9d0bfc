// Small graphs for the training tests: the student's structure in miniature (so the planner fuses
// and aliases exactly as it does for the student), plus the epilogues the plan must split.

import { Graph } from "../../src/graph/ir.ts";
import type { Activation } from "../../src/runtime/activation.ts";

/**
 * A UNet in miniature at size × size: a stride-2 stem, an inverted-residual block (hardswish
 * expand: split; relu6 depthwise; linear projection with its residual fused), a conv with both an
 * activation and a residual (split), bilinear upsampling, a skip concat and the input concat that
 * the planner aliases into channel slices, a 3×3 head and the residual + mask output.
 */
export function miniUnet(batch: number, size = 12, act: Activation = "relu6"): Graph {
  const g = new Graph();
  const x = g.input("image", [batch, size, size, 3]);
  const conv = (i: number, cout: number, k: number, stride: number, name: string, a = "none") =>
    g.add("conv2d", [i], { cout, k, stride, pad: k >> 1, act: a }, name);
  const activated = (i: number, a: Activation, name: string) =>
    g.add("activation", [i], { act: a }, `${name}.act`);
  const stem = activated(conv(x, 8, 3, 2, "stem"), act, "stem");
  const e = activated(conv(stem, 12, 1, 1, "b.expand"), "hardswish", "b.expand");
  const d = activated(
    g.add("depthwise_conv2d", [e], { k: 3, stride: 1, pad: 1, act: "none" }, "b.dw"),
    act,
    "b.dw",
  );
  const proj = g.add("add", [conv(d, 8, 1, 1, "b.project"), stem], { act: "none" }, "b.add");
  const mixed = g.add(
    "add",
    [activated(conv(proj, 8, 3, 1, "mix"), "tanh", "mix"), proj],
    {},
    "mix.add",
  );
  const up = g.add("upsample2x", [mixed], { mode: "bilinear" }, "up");
  const skip = activated(conv(x, 4, 3, 1, "skip"), act, "skip");
  const cat = g.add("concat", [up, skip], {}, "cat");
  const fuse = activated(conv(cat, 8, 1, 1, "fuse"), act, "fuse");
  const cat2 = g.add("concat", [fuse, x], {}, "head.cat");
  const logits = conv(cat2, 4, 3, 1, "head.conv");
  g.outputs = [g.add("residual_mask", [x, logits], { deltaScale: 2 }, "head")];
  return g;
}
