// The student as a TF.js layers model, built from our planned program with our weights, so TF.js
// runs the same architecture and numbers (NHWC natively, like us). Fused steps map to TF.js's own
// fusions: conv + bias + activation in one conv layer (TF.js fuses those on WebGPU), the residual
// as an add layer. PyTorch's padding for stride-2 convs is symmetric, TF's "same" is not, so those
// get an explicit ZeroPadding2D. Layers TF.js lacks (bilinear with half-pixel centres = PyTorch's
// align_corners=False, the residual + mask head, hardswish) are small custom layers.

import type * as TF from "@tensorflow/tfjs";
import type { Program } from "../../src/runtime/program.ts";
import type { Weights } from "../../src/runtime/executor.ts";

type Tf = typeof TF;
type Sym = TF.SymbolicTensor;

/** OIHW → HWIO (conv) or [C,1,k,k] → [k,k,C,1] (depthwise). */
function kernelHwio(w: { shape: readonly number[]; data: Float32Array }): Float32Array {
  const [o, i, kh, kw] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let co = 0; co < o; co++) {
    for (let ci = 0; ci < i; ci++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * i + ci) * o + co] = w.data[((co * i + ci) * kh + y) * kw + x];
        }
      }
    }
  }
  return out;
}

function depthwiseKernel(w: { shape: readonly number[]; data: Float32Array }): Float32Array {
  const [c, , kh, kw] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let ch = 0; ch < c; ch++) {
    for (let t = 0; t < kh * kw; t++) out[t * c + ch] = w.data[ch * kh * kw + t];
  }
  return out;
}

/** Custom layers, defined against the `tf` module the caller loaded (Deno or a browser bundle). */
function customLayers(tf: Tf) {
  class Upsample2x extends tf.layers.Layer {
    static className = "FacefxUpsample2x";
    constructor(readonly mode: string, name: string) {
      super({ name });
    }
    override computeOutputShape(s: TF.Shape | TF.Shape[]) {
      const [n, h, w, c] = s as number[];
      return [n, h * 2, w * 2, c];
    }
    override call(inputs: TF.Tensor | TF.Tensor[]) {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as TF.Tensor4D;
      const size: [number, number] = [x.shape[1] * 2, x.shape[2] * 2];
      return this.mode === "nearest"
        ? tf.image.resizeNearestNeighbor(x, size, false, false)
        : tf.image.resizeBilinear(x, size, false, true);
    }
  }
  class ResidualMask extends tf.layers.Layer {
    static className = "FacefxResidualMask";
    constructor(readonly deltaScale: number, name: string) {
      super({ name });
    }
    override computeOutputShape(s: TF.Shape | TF.Shape[]) {
      return (s as TF.Shape[])[0];
    }
    override call(inputs: TF.Tensor | TF.Tensor[]) {
      const [x, h] = inputs as TF.Tensor4D[];
      const c = x.shape[3];
      return tf.tidy(() => {
        const delta = tf.tanh(tf.slice(h, [0, 0, 0, 0], [-1, -1, -1, c]));
        const mask = tf.sigmoid(tf.slice(h, [0, 0, 0, c], [-1, -1, -1, 1]));
        return tf.add(x, tf.mul(tf.mul(mask, this.deltaScale), delta));
      });
    }
  }
  class HardSwish extends tf.layers.Layer {
    static className = "FacefxHardSwish";
    override computeOutputShape(s: TF.Shape | TF.Shape[]) {
      return s;
    }
    override call(inputs: TF.Tensor | TF.Tensor[]) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)));
    }
  }
  return { Upsample2x, ResidualMask, HardSwish };
}

/** A TF.js model computing the planned program (batch 1 or more, NHWC). */
export function buildTfjsStudent(tf: Tf, program: Program, weights: Weights): TF.LayersModel {
  const { Upsample2x, ResidualMask, HardSwish } = customLayers(tf);
  const values = new Map<number, Sym>();
  const [inputId] = program.inputs;
  const [, h, w, c] = program.tensors[inputId].shape;
  const input = tf.input({ shape: [h, w, c], name: "image" });
  values.set(inputId, input);
  const param = (name: string) => weights.get(name)!;

  /** Applies an activation TF.js can't fuse into the conv layer; fusable ones go in `fused`. */
  const fusable: Record<string, string> = {
    none: "linear",
    relu: "relu",
    relu6: "relu6",
    sigmoid: "sigmoid",
    tanh: "tanh",
  };
  const activate = (x: Sym, act: string, alpha: number | undefined, name: string): Sym => {
    if (act === "leaky_relu") {
      return tf.layers.leakyReLU({ alpha: alpha ?? 0.01, name }).apply(x) as Sym;
    }
    if (act === "hardswish") return new HardSwish({ name }).apply(x) as Sym;
    if (act === "none") return x;
    return tf.layers.activation({ activation: fusable[act] as "relu", name }).apply(x) as Sym;
  };

  program.steps.forEach((step, i) => {
    const a = step.attrs as Record<string, unknown>;
    const x = step.inputs.map((id) => values.get(id)!);
    const name = `s${i}_${(step.label ?? step.op).replace(/[^\w]/g, "_")}`;
    let y: Sym;
    switch (step.op) {
      case "conv2d":
      case "depthwise_conv2d": {
        const k = a.k as number, stride = a.stride as number, pad = a.pad as number;
        const act = (a.act as string) ?? "none";
        const same = stride === 1 && pad === k >> 1 && k % 2 === 1;
        let src = x[0];
        if (!same && pad > 0) {
          src = tf.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }).apply(src) as Sym;
        }
        const activation = (fusable[act] ?? "linear") as "relu";
        const [wt, bias] = step.params.map(param);
        const common = {
          kernelSize: k,
          strides: stride,
          padding: (same ? "same" : "valid") as "same",
          useBias: true,
          activation,
          name,
        };
        y = step.op === "conv2d"
          ? tf.layers.conv2d({
            ...common,
            filters: a.cout as number,
            weights: [
              tf.tensor4d(kernelHwio(wt), [k, k, wt.shape[1], wt.shape[0]]),
              tf.tensor1d(bias.data),
            ],
          }).apply(src) as Sym
          : tf.layers.depthwiseConv2d({
            ...common,
            depthMultiplier: 1,
            weights: [
              tf.tensor4d(depthwiseKernel(wt), [k, k, wt.shape[0], 1]),
              tf.tensor1d(bias.data),
            ],
          }).apply(src) as Sym;
        if (!(act in fusable)) y = activate(y, act, a.alpha as number, `${name}_act`);
        if (x[1]) y = tf.layers.add({ name: `${name}_res` }).apply([y, x[1]]) as Sym;
        break;
      }
      case "activation":
        y = activate(x[0], a.act as string, a.alpha as number, name);
        break;
      case "add":
        y = activate(
          tf.layers.add({ name }).apply([x[0], x[1]]) as Sym,
          (a.act as string) ?? "none",
          a.alpha as number,
          `${name}_act`,
        );
        break;
      case "concat":
        y = tf.layers.concatenate({ axis: -1, name }).apply([x[0], x[1]]) as Sym;
        break;
      case "upsample2x":
        y = new Upsample2x(a.mode as string, name).apply(x[0]) as Sym;
        break;
      case "residual_mask":
        y = new ResidualMask((a.deltaScale as number) ?? 2, name).apply([x[0], x[1]]) as Sym;
        break;
      default:
        throw new Error(`TF.js student: no mapping for op ${step.op}`);
    }
    values.set(step.output, y);
  });
  return tf.model({ inputs: input, outputs: program.outputs.map((id) => values.get(id)!) });
}
