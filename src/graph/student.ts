// The student: a UNet whose encoder is MobileNetV2 inverted-residual stages at 1/2, 1/4, 1/8 and
// 1/16, whose decoder is upsample + skip concat + inverted-residual blocks, with a residual + mask head.

import type { Activation } from "../runtime/activation.ts";
import { Graph } from "./ir.ts";

export interface StudentConfig {
  /** Square input crop side, 128..512, a multiple of 16 (four stride-2 stages). */
  inputSize: number;
  /** Multiplies every channel count (rounded to multiples of 4, the runtime's vec4 width). */
  width: number;
  /** Stages at 1/2, 1/4, 1/8, 1/16: output channels, block count, expansion factor. */
  encoder: { channels: number; blocks: number; expansion: number }[];
  /** Stages at 1/8, 1/4, 1/2, each one inverted-residual block over [upsampled, skip]. */
  decoder: { channels: number; expansion: number }[];
  activation: Activation;
  upsample: "nearest" | "bilinear";
  /** Head: out = x + sigmoid(mask) · deltaScale · tanh(delta). */
  deltaScale: number;
}

/** Phone-class at 256²: about 0.74 GFLOP (multiply-add = 2) and 0.22 M parameters. */
export const DEFAULT_STUDENT: StudentConfig = {
  inputSize: 256,
  width: 1,
  encoder: [
    { channels: 16, blocks: 1, expansion: 1 },
    { channels: 24, blocks: 2, expansion: 6 },
    { channels: 32, blocks: 3, expansion: 6 },
    { channels: 64, blocks: 3, expansion: 6 },
  ],
  decoder: [
    { channels: 32, expansion: 2 },
    { channels: 24, expansion: 2 },
    { channels: 16, expansion: 2 },
  ],
  activation: "relu6",
  upsample: "bilinear",
  deltaScale: 2,
};

export function validateStudentConfig(c: StudentConfig): void {
  const fail = (why: string) => {
    throw new Error(`invalid student config: ${why}`);
  };
  if (!Number.isInteger(c.inputSize) || c.inputSize < 128 || c.inputSize > 512) {
    fail(`inputSize ${c.inputSize} is not an integer in 128..512`);
  }
  if (c.inputSize % 16 !== 0) fail(`inputSize ${c.inputSize} is not a multiple of 16`);
  if (!(c.width > 0 && c.width <= 4)) fail(`width ${c.width} is not in (0, 4]`);
  if (c.encoder.length !== 4) fail(`encoder needs 4 stages, got ${c.encoder.length}`);
  if (c.decoder.length !== 3) fail(`decoder needs 3 stages, got ${c.decoder.length}`);
  for (const s of [...c.encoder, ...c.decoder]) {
    if (!(s.channels >= 1 && s.expansion >= 1)) fail(`stage ${JSON.stringify(s)} is not positive`);
  }
  for (const s of c.encoder) if (!(s.blocks >= 1)) fail(`stage ${JSON.stringify(s)} has no blocks`);
  if (!(c.deltaScale > 0)) fail(`deltaScale ${c.deltaScale} is not positive`);
}

const roundChannels = (c: number) => Math.max(4, Math.round(c / 4) * 4);

/** The un-fused student graph for `batch` crops; the planner fuses and places it. */
export function buildStudent(config: StudentConfig = DEFAULT_STUDENT, batch = 1): Graph {
  validateStudentConfig(config);
  const g = new Graph();
  const act = config.activation;
  const s = config.inputSize;
  const x = g.input("image", [batch, s, s, 3]);

  const conv = (input: number, cout: number, k: number, stride: number, name: string) =>
    g.add("conv2d", [input], { cout, k, stride, pad: k >> 1, act: "none" }, name);
  const activated = (input: number, name: string) =>
    g.add("activation", [input], { act }, `${name}.act`);

  // MobileNetV2 block: 1×1 expand, 3×3 depthwise, linear 1×1 projection, identity skip when shapes allow.
  const invertedResidual = (
    input: number,
    cout: number,
    expansion: number,
    stride: number,
    name: string,
  ) => {
    const cin = g.shape(input)[3];
    let h = input;
    if (expansion !== 1) {
      h = activated(
        conv(h, roundChannels(cin * expansion), 1, 1, `${name}.expand`),
        `${name}.expand`,
      );
    }
    const c = g.shape(h)[3];
    const dwAttrs = { cout: c, k: 3, stride, pad: 1, act: "none" };
    h = activated(g.add("depthwise_conv2d", [h], dwAttrs, `${name}.dw`), `${name}.dw`);
    h = conv(h, cout, 1, 1, `${name}.project`);
    return stride === 1 && cin === cout
      ? g.add("add", [h, input], { act: "none" }, `${name}.add`)
      : h;
  };

  const stem = config.encoder[0].channels * config.width;
  let h = activated(conv(x, roundChannels(stem), 3, 2, "stem"), "stem");
  const skips: number[] = [];
  config.encoder.forEach((stage, i) => {
    const cout = roundChannels(stage.channels * config.width);
    for (let b = 0; b < stage.blocks; b++) {
      const stride = b === 0 && i > 0 ? 2 : 1;
      h = invertedResidual(h, cout, stage.expansion, stride, `enc${i}.${b}`);
    }
    skips.push(h);
  });

  config.decoder.forEach((stage, i) => {
    const up = g.add("upsample2x", [h], { mode: config.upsample }, `dec${i}.up`);
    const cat = g.add("concat", [up, skips[2 - i]], {}, `dec${i}.cat`);
    h = invertedResidual(
      cat,
      roundChannels(stage.channels * config.width),
      stage.expansion,
      1,
      `dec${i}`,
    );
  });

  // Full resolution: the input image joins the last features so fine edits (lines, edges) stay sharp.
  const up = g.add("upsample2x", [h], { mode: config.upsample }, "head.up");
  const cat = g.add("concat", [up, x], {}, "head.cat");
  const logits = conv(cat, 4, 3, 1, "head.conv");
  g.outputs = [g.add("residual_mask", [x, logits], { deltaScale: config.deltaScale }, "head")];
  return g;
}
