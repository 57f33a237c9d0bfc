// The training plan and executor on whole networks: the plan's shape on the real student, the
// composed CPU backward against finite differences of forward + loss, and the GPU training step
// (gradients, loss record, Adam update) against the CPU reference, on a miniature UNet and on the
// real (narrow) student at 128².

import assert from "node:assert/strict";
import { plan } from "../../src/graph/planner.ts";
import { buildStudent } from "../../src/graph/student.ts";
import { initWeights } from "../../src/graph/weights.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import type { Weights } from "../../src/runtime/executor.ts";
import { OPS } from "../../src/runtime/ops/index.ts";
import type { Param } from "../../src/runtime/ops/types.ts";
import { elementCount, type HostTensor, hostTensor, type Shape } from "../../src/runtime/tensor.ts";
import { forwardValues, trainStepReference } from "../../src/train/cpu.ts";
import { TrainingExecutor } from "../../src/train/executor.ts";
import { DEFAULT_LOSS, lossReference } from "../../src/train/losses.ts";
import { adamReference, DEFAULT_ADAM } from "../../src/train/optimizer.ts";
import {
  layoutParams,
  packAll,
  paddingMask,
  unpackAll,
  UNPACKERS,
} from "../../src/train/params.ts";
import { type BackwardTask, isClear, planTraining } from "../../src/train/plan.ts";
import { needs, requireWebGpu } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";
import { TINY_STUDENT } from "../support/students.ts";
import { checkGradient } from "./fd.ts";
import { miniUnet } from "./graphs.ts";

const LOSS = { ...DEFAULT_LOSS, ssimWindow: 7, ssimSigma: 1.5 };

function randomWeights(specs: { name: string; shape: number[] }[], seed: number): Weights {
  const random = rng(seed);
  return new Map(specs.map(({ name, shape }) => [name, {
    shape,
    data: randomArray(random, shape.reduce((a, b) => a * b, 1), 0.4),
  }]));
}

function batch(shape: Shape, seed: number): { input: HostTensor; target: HostTensor } {
  const random = rng(seed);
  const input = hostTensor(shape, randomArray(random, elementCount(shape), 0.9));
  const target = hostTensor(shape, input.data.map((v, i) => 0.8 * v + 0.1 * Math.sin(i)));
  return { input, target };
}

Deno.test("every op with parameters has an unpacker that inverts its packing", () => {
  const graph = miniUnet(1);
  const program = plan(graph, { fuseForInference: false }).program;
  const layout = layoutParams(program);
  const weights = randomWeights(graph.paramSpecs(), 1);
  const back = unpackAll(layout, program, packAll(layout, program, weights));
  for (const [name, p] of weights) assert.deepEqual(back.get(name), p, name);
  for (const [name, op] of Object.entries(OPS)) {
    if (op.inferenceOnly) continue;
    const hasParams = Object.keys(op.params([[1, 4, 4, 4], [1, 4, 4, 4]], {
      cout: 4,
      k: 1,
      stride: 1,
      pad: 0,
      act: "none",
      mode: "nearest",
    })).length > 0;
    if (hasParams) assert.ok(UNPACKERS[name], `no unpacker for ${name}`);
  }
  // Offsets are 256-byte aligned, weights (decayed) before biases, padding lanes reported.
  for (const s of layout.slots) assert.equal(s.offset % 64, 0);
  assert.ok(layout.slots.every((s) => s.decay === (s.offset < layout.decayFloats)));
  const mask = paddingMask(layout, program);
  const packed = packAll(layout, program, weights);
  assert.ok(packed.every((v, i) => !mask[i] || v === 0));
});

Deno.test("the student's training plan: every weight gets a gradient, concats cost nothing", () => {
  const graph = buildStudent(TINY_STUDENT, 2);
  const p = planTraining(graph);
  const tasks = p.tasks.filter((t): t is BackwardTask => !isClear(t));
  const written = new Set(tasks.flatMap((t) => (t.output.kind === "param" ? [t.output.name] : [])));
  for (const spec of graph.paramSpecs()) assert.ok(written.has(spec.name), spec.name);
  // Aliased concats: their gradients split into parts in place, and no buffer is cleared.
  assert.ok(tasks.some((t) => t.elided));
  assert.ok(!p.tasks.some(isClear));
  // Gradient buffers are shared by lifetime.
  assert.ok(p.gradSlots.length < p.grads.length / 2, `${p.gradSlots.length} of ${p.grads.length}`);
  // The image needs no gradient, nor do the head's image channels.
  assert.ok(!p.requiresGrad[p.forward.inputs[0]]);
  assert.ok(tasks.some((t) => t.label === "head.conv.dx" && t.attrs.dxChannels));
  // Activations are differentiated inside the grad-input that feeds them, except where a
  // gradient has two sources (the stem feeds the first block and its residual).
  const separate = tasks.filter((t) => t.row === "epilogue.grad").map((t) => t.label);
  assert.deepEqual(separate, ["stem.act'"]);
  assert.ok(tasks.filter((t) => t.attrs.dyAct).length >= 20);
});

Deno.test("composed backward of a whole network matches finite differences of forward + loss", () => {
  const graph = miniUnet(2, 12);
  const p = planTraining(graph);
  const weights = randomWeights(graph.paramSpecs(), 2);
  const { input, target } = batch(graph.shape(graph.inputs[0]), 3);
  const { grads } = trainStepReference(p, weights, [input], target, LOSS);
  const f = () => {
    const values = forwardValues(p.forward, weights, [input]);
    return lossReference(values[p.prediction], target, LOSS).total;
  };
  const random = rng(4);
  let checked = 0;
  for (const [name, w] of weights) {
    // Loss terms are means (~1e-3 per element): tolerances scale with the gradients.
    const r = checkGradient(f, w.data, grads.get(name)!.data, name, {
      eps: 2e-3,
      atol: 2e-5,
      rtol: 5e-3,
      sample: 6,
      random,
    });
    checked += r.checked;
  }
  assert.ok(checked >= 60, `only ${checked} elements checked`);
});

const webGpu = await requireWebGpu();

async function gpuMatchesCpu(graph: ReturnType<typeof miniUnet>, weights: Weights, seed: number) {
  const gpu = await testGpu();
  const p = planTraining(graph);
  const { input, target } = batch(graph.shape(graph.inputs[0]), seed);
  const want = trainStepReference(p, weights, [input], target, LOSS);
  const exec = await TrainingExecutor.create(gpu, p, weights, {
    loss: LOSS,
    optimizer: DEFAULT_ADAM,
    ring: 4,
  });
  try {
    exec.writeBatch(input, target);
    exec.step(3, 0.01, { update: false });
    const got = await exec.readGradients();
    for (const [name, g] of want.grads) {
      const have = got.get(name)!;
      let scale = 0, worst = 0;
      for (let i = 0; i < g.data.length; i++) {
        scale = Math.max(scale, Math.abs(g.data[i]));
        worst = Math.max(worst, Math.abs(have.data[i] - g.data[i]));
      }
      // f32 sums over up to batch × pixels products against the f64-accumulating references.
      assert.ok(worst <= 1e-3 * scale + 1e-7, `${name}: worst ${worst} of ${scale}`);
    }
    const [record] = (await exec.readLossRing()).slice(3);
    for (const k of ["l1", "ssim", "edge", "total"] as const) {
      assert.ok(Math.abs(record[k] - want.loss[k]) < 1e-4, `${k}: ${record[k]} vs ${want.loss[k]}`);
    }

    // One Adam step on the GPU equals the CPU reference on the GPU's own gradients.
    const lr = 0.01;
    exec.step(1, lr);
    const after = await exec.readWeights();
    const grads = await exec.readGradients();
    const { m, v } = await exec.readMoments();
    const layout = exec.layout;
    const state = {
      param: packAll(layout, p.forward, weights),
      m: new Float32Array(layout.floats),
      v: new Float32Array(layout.floats),
    };
    adamReference(
      DEFAULT_ADAM,
      1,
      lr,
      state,
      packAll(layout, p.forward, grads),
      layout.decayFloats,
    );
    const expect = unpackAll(layout, p.forward, state.param);
    for (const [name, w] of expect) {
      const have = after.get(name)!;
      for (let i = 0; i < w.data.length; i++) {
        assert.ok(
          Math.abs(have.data[i] - w.data[i]) <= 1e-6 * Math.max(1, Math.abs(w.data[i])),
          `${name}[${i}]`,
        );
      }
      assert.equal(m.get(name)!.data.length, w.data.length);
      assert.ok(v.get(name)!.data.every((x) => x >= 0));
    }
  } finally {
    exec.dispose();
  }
}

Deno.test(needs(webGpu, {
  name: "GPU training step on a miniature UNet matches the CPU reference",
  fn: async () => {
    const graph = miniUnet(2, 16);
    await gpuMatchesCpu(graph, randomWeights(graph.paramSpecs(), 5), 6);
  },
}));

Deno.test(needs(webGpu, {
  name: "GPU training step on the narrow student at 128² matches the CPU reference",
  fn: async () => {
    const graph = buildStudent(TINY_STUDENT, 1);
    // Fresh weights with a livelier head than initWeights', so every gradient is far from 0.
    const weights = initWeights(graph, 7);
    const head = weights.get("head.conv.weight") as Param;
    head.data.forEach((v, i) => head.data[i] = v * 10);
    await gpuMatchesCpu(graph, weights, 8);
  },
}));
