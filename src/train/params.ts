// Parameters as training sees them: one flat f32 buffer holding every step's packed weights and
// biases (the forward kernels bind their ranges as-is), with gradients, Adam moments and the
// update laid out identically, so the optimizer is one dispatch. Weights (decayed) come first,
// biases after. `unpack*` are the inverses of the ops' packParams, back to PyTorch layout.

import type { Weights } from "../runtime/executor.ts";
import { getOp } from "../runtime/ops/index.ts";
import type { Param, StepContext } from "../runtime/ops/types.ts";
import type { ConvAttrs, DepthwiseAttrs } from "../runtime/ops/conv.ts";
import type { Program, ProgramStep } from "../runtime/program.ts";
import { pad4 } from "../runtime/tensor.ts";

export interface ParamSlot {
  name: string;
  /** PyTorch shape. */
  shape: number[];
  /** The program step that owns it and its index in that op's parameters. */
  step: number;
  index: number;
  /** Range in the flat buffer, in floats (offset a multiple of 64: 256-byte binding offsets). */
  offset: number;
  floats: number;
  /** Weight decay applies (weights, not biases). */
  decay: boolean;
}

export interface ParamLayout {
  slots: ParamSlot[];
  byName: Map<string, ParamSlot>;
  /** Total floats; the first `decayFloats` hold the decayed parameters. */
  floats: number;
  decayFloats: number;
}

/** 256 bytes: the largest minStorageBufferOffsetAlignment WebGPU allows. */
const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function stepContext(program: Program, step: ProgramStep): StepContext<unknown> {
  return {
    inputs: step.inputs.map((i) => program.tensors[i]),
    output: program.tensors[step.output],
    attrs: step.attrs,
  };
}

const zeros = (shape: readonly number[]): Param => ({
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
});

export function layoutParams(program: Program): ParamLayout {
  const found: Omit<ParamSlot, "offset">[] = [];
  const seen = new Set<string>();
  program.steps.forEach((step, s) => {
    if (step.params.length === 0) return;
    const op = getOp(step.op);
    const ctx = stepContext(program, step);
    const shapes = Object.values(op.params(ctx.inputs.map((t) => t.shape), step.attrs));
    const packed = op.packParams(shapes.map(zeros), ctx);
    step.params.forEach((name, index) => {
      // One owner per weight: a shared weight would need its gradients summed across steps.
      if (seen.has(name)) throw new Error(`weight "${name}" is used by two steps: not supported`);
      seen.add(name);
      const shape = shapes[index];
      found.push({
        name,
        shape,
        step: s,
        index,
        floats: packed[index].length,
        decay: shape.length > 1,
      });
    });
  });
  const slots: ParamSlot[] = [];
  let floats = 0;
  for (const decay of [true, false]) {
    for (const p of found.filter((f) => f.decay === decay)) {
      slots.push({ ...p, offset: floats });
      floats = align(floats + p.floats);
    }
  }
  const decayed = slots.filter((s) => s.decay);
  const lastDecayed = decayed[decayed.length - 1];
  const decayFloats = lastDecayed ? align(lastDecayed.offset + lastDecayed.floats) : 0;
  return { slots, byName: new Map(slots.map((s) => [s.name, s])), floats, decayFloats };
}

/** Packs weights (or Adam moments, anything shaped like them) into one flat buffer. */
export function packAll(layout: ParamLayout, program: Program, weights: Weights): Float32Array {
  const flat = new Float32Array(layout.floats);
  const steps = new Set(layout.slots.map((s) => s.step));
  for (const s of steps) {
    const step = program.steps[s];
    const params = step.params.map((name) => {
      const p = weights.get(name);
      if (!p) throw new Error(`weight "${name}" is missing`);
      const want = layout.byName.get(name)!.shape;
      if (p.shape.join() !== want.join()) {
        throw new Error(`weight "${name}" has shape [${p.shape}], the graph needs [${want}]`);
      }
      return p;
    });
    const packed = getOp(step.op).packParams(params, stepContext(program, step));
    step.params.forEach((name, i) => flat.set(packed[i], layout.byName.get(name)!.offset));
  }
  return flat;
}

/** The inverse of packAll: PyTorch-layout tensors out of a flat buffer. */
export function unpackAll(layout: ParamLayout, program: Program, flat: Float32Array): Weights {
  const weights: Weights = new Map();
  const steps = new Set(layout.slots.map((s) => s.step));
  for (const s of steps) {
    const step = program.steps[s];
    const unpack = UNPACKERS[step.op];
    if (!unpack) throw new Error(`no unpacker for op "${step.op}"`);
    const slots = step.params.map((name) => layout.byName.get(name)!);
    const packed = slots.map((p) => flat.subarray(p.offset, p.offset + p.floats));
    const params = unpack(packed, stepContext(program, step));
    slots.forEach((slot, i) => weights.set(slot.name, params[i]));
  }
  return weights;
}

/** Lanes of a packed layout that hold no parameter (they must stay exactly 0). */
export function paddingMask(layout: ParamLayout, program: Program): Uint8Array {
  const ones: Weights = new Map(
    layout.slots.map((s) => [s.name, { shape: s.shape, data: zeros(s.shape).data.fill(1) }]),
  );
  return Uint8Array.from(packAll(layout, program, ones), (v) => (v === 0 ? 1 : 0));
}

// ---- inverses of the ops' packParams ---------------------------------------------------------

type Unpacker = (packed: Float32Array[], ctx: StepContext<unknown>) => Param[];

const unpackBias = (packed: Float32Array, c: number): Param => ({
  shape: [c],
  data: packed.slice(0, c),
});

/** Every op with parameters has one (tests check it against packParams). */
export const UNPACKERS: Record<string, Unpacker> = {
  // conv2d packs [ky][kx][inQ][outQ] blocks of 16: float (ci & 3)·4 + (co & 3).
  conv2d([packed, bias], ctx) {
    const { k, cout } = (ctx as StepContext<ConvAttrs>).attrs;
    const cin = ctx.inputs[0].shape[3];
    const inQ = pad4(cin) / 4, outQ = pad4(cout) / 4;
    const weight = new Float32Array(cout * cin * k * k);
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const block = ((ky * k + kx) * inQ + (ci >> 2)) * outQ + (co >> 2);
            weight[((co * cin + ci) * k + ky) * k + kx] =
              packed[block * 16 + (ci & 3) * 4 + (co & 3)];
          }
        }
      }
    }
    return [{ shape: [cout, cin, k, k], data: weight }, unpackBias(bias, cout)];
  },
  // depthwise packs [ky][kx][quad] vec4s.
  depthwise_conv2d([packed, bias], ctx) {
    const { k } = (ctx as StepContext<DepthwiseAttrs>).attrs;
    const c = ctx.inputs[0].shape[3];
    const q = pad4(c) / 4;
    const weight = new Float32Array(c * k * k);
    for (let ch = 0; ch < c; ch++) {
      for (let tap = 0; tap < k * k; tap++) {
        weight[ch * k * k + tap] = packed[(tap * q + (ch >> 2)) * 4 + (ch & 3)];
      }
    }
    return [{ shape: [c, 1, k, k], data: weight }, unpackBias(bias, c)];
  },
};
