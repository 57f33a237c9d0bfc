// The trainer end to end on WebGPU: a narrow student learns a known colour transform to near-zero
// loss, and a run resumed from a checkpoint is bit-for-bit the uninterrupted run. Plus the pieces
// without a GPU: the seeded sampler, checkpoints, the schedule, the progress line and the plots.

import assert from "node:assert/strict";
import { DEFAULT_STUDENT } from "../../src/graph/student.ts";
import { decodeImage, encodePng } from "../../src/media/codec.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { rgbaToTensor, Sampler, tensorToRgba } from "../../src/train/data.ts";
import { DEFAULT_ADAM, learningRate } from "../../src/train/optimizer.ts";
import { plotCurves } from "../../src/train/plot.ts";
import { formatDuration, Progress } from "../../src/train/progress.ts";
import { DEFAULT_TRAIN, type TrainConfig, Trainer } from "../../src/train/trainer.ts";
import { needs, requireWebGpu } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";
import { syntheticDataset } from "./synthetic.ts";

const NARROW: TrainConfig = {
  ...DEFAULT_TRAIN,
  student: { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 },
  batch: 2,
  steps: 250,
  readEvery: 25,
  checkpointEvery: 0,
  validateEvery: 0,
  optimizer: { ...DEFAULT_ADAM, lr: 5e-3, warmupSteps: 10, weightDecay: 0 },
};

Deno.test("the sampler is seeded, reshuffles per epoch, and resumes from its state", () => {
  const data = syntheticDataset(5, 8, 1);
  const a = new Sampler(data, 42, { flip: true });
  const first = [a.next(3), a.next(3), a.next(3)];
  assert.deepEqual(first[0].indices.concat(first[1].indices.slice(0, 2)).sort(), [0, 1, 2, 3, 4]);
  const b = new Sampler(data, 42, { flip: true });
  b.next(3);
  const saved = JSON.parse(JSON.stringify(b.state));
  const c = Sampler.restore(data, saved);
  for (const [x, y] of [[b.next(3), first[1]], [c.next(3), first[1]]]) {
    assert.deepEqual(x.indices, y.indices);
    assert.deepEqual(x.inputs.data, y.inputs.data);
  }
  assert.deepEqual(c.next(3).targets.data, first[2].targets.data);
  assert.notDeepEqual(new Sampler(data, 43).next(5).indices, new Sampler(data, 42).next(5).indices);
});

Deno.test("checkpoints round-trip weights, moments, sampler state and history", () => {
  const w = new Map([["a.weight", { shape: [2, 1, 1, 1], data: new Float32Array([1.5, -2]) }]]);
  const m = new Map([["a.weight", { shape: [2, 1, 1, 1], data: new Float32Array([0.1, 0.2]) }]]);
  const v = new Map([["a.weight", { shape: [2, 1, 1, 1], data: new Float32Array([3e-9, 4]) }]]);
  const state = {
    step: 17,
    weights: w,
    moments: { m, v },
    sampler: { rng: 123456789, epoch: 2, position: 1, order: [1, 0], flip: false },
    history: [{ step: 1, l1: 0.5, ssim: 0.25, edge: 0.125, total: 1 }],
    validation: [],
    config: { batch: 2 },
  };
  const back = decodeCheckpoint(encodeCheckpoint(state));
  assert.deepEqual(back, state);
});

Deno.test("learning rate: linear warm-up, then cosine down to the floor", () => {
  const c = { ...DEFAULT_ADAM, lr: 1, warmupSteps: 9, minLrFraction: 0.1 };
  assert.equal(learningRate(c, 1, 100), 0.1);
  assert.equal(learningRate(c, 9, 100), 0.9);
  assert.ok(Math.abs(learningRate(c, 10, 100) - 1) < 1e-3);
  assert.ok(Math.abs(learningRate(c, 100, 100) - 0.1) < 1e-12);
  assert.equal(learningRate({ ...c, schedule: "constant" }, 50, 100), 1);
});

Deno.test("progress: one rewritten line on a terminal, periodic lines otherwise, with ETA", () => {
  let t = 0;
  const out: string[] = [];
  const p = new Progress({
    total: 100,
    tty: false,
    everySteps: 50,
    write: (s) => out.push(s),
    now: () => t,
  });
  for (let s = 1; s <= 100; s++) {
    t += 250;
    p.update(s, 0.5 / s);
  }
  p.finish(0.005);
  assert.equal(out.length, 3); // step 1, 51, 100
  assert.match(out[1], /51\/100 51% loss 0\.009804 250 ms\/step ETA 12s/);
  const tty: string[] = [];
  const q = new Progress({ total: 10, tty: true, write: (s) => tty.push(s), now: () => t });
  q.update(1);
  assert.ok(tty[0].startsWith("\r\x1b[2K"));
  assert.equal(formatDuration(4000), "1h06m");
  assert.equal(formatDuration(75), "1m15s");
});

Deno.test("plots and grids are real images", () => {
  const img = plotCurves([
    { name: "total", color: [0, 0, 0], points: [[1, 0.3], [50, 0.02], [100, 0.004]] },
    { name: "val", color: [200, 0, 0], points: [[100, 0.005]] },
  ]);
  const png = decodeImage(encodePng(img));
  assert.equal(png.width, 720);
  let inked = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 100) inked++;
  assert.ok(inked > 1000, `${inked} dark pixels`);
  const norm = DEFAULT_TRAIN.loss.normalization;
  const rgba = tensorToRgba(new Float32Array([-1, 0, 1, 2, -2, 0.5]), 2, 1, norm);
  assert.deepEqual([...rgba.data], [0, 128, 255, 255, 255, 0, 191, 255]);
  assert.deepEqual(
    [...rgbaToTensor(rgba, norm)].map((v) => Math.round(v * 100)),
    [-100, 0, 100, 100, -100, 50],
  );
});

const webGpu = await requireWebGpu();

Deno.test(needs(webGpu, {
  name: "a narrow student learns a colour transform to near-zero loss",
  fn: async () => {
    const gpu = await testGpu();
    const train = syntheticDataset(16, 128, 1), val = syntheticDataset(4, 128, 100);
    const trainer = await Trainer.create(gpu, train, NARROW, { validation: val, progress: false });
    try {
      const before = await trainer.validate();
      await trainer.run();
      const after = await trainer.validate();
      assert.equal(trainer.history.length, NARROW.steps);
      // Threshold: L1 below 0.012 in [−1, 1] units is under 1.5/255 per channel (invisible), from
      // ≈ 0.1 before training; a wrong gradient anywhere stalls far above it within these steps.
      assert.ok(after.l1 < 0.012, `validation L1 ${after.l1} (before: ${before.l1})`);
      assert.ok(after.total < before.total / 8, `total ${after.total}, before ${before.total}`);
      const last = trainer.history.slice(-25).reduce((a, p) => a + p.total, 0) / 25;
      assert.ok(last < 0.02, `training loss ${last}`);
      const grid = await trainer.validationGrid(2);
      assert.equal(grid.width, 3 * 128 + 4 * 6);
    } finally {
      trainer.dispose();
    }
  },
}));

Deno.test(needs(webGpu, {
  name: "resuming from a checkpoint gives exactly the uninterrupted run",
  fn: async () => {
    const gpu = await testGpu();
    const data = syntheticDataset(5, 128, 7);
    const config: TrainConfig = { ...NARROW, steps: 12, readEvery: 4, flip: true };
    const quiet = { progress: false as const };
    const whole = await Trainer.create(gpu, data, config, quiet);
    await whole.run();
    const wholeCkpt = decodeCheckpoint(await whole.checkpoint());
    whole.dispose();

    const first = await Trainer.create(gpu, data, config, quiet);
    await first.run(7); // stops between loss readbacks and mid-epoch
    const saved = await first.checkpoint();
    first.dispose();
    const second = await Trainer.create(gpu, data, config, { ...quiet, resume: saved });
    assert.equal(second.step, 7);
    await second.run();
    const resumed = decodeCheckpoint(await second.checkpoint());
    second.dispose();

    // Bit for bit: the same kernels on the same data and state, with no atomics anywhere.
    for (const [name, w] of wholeCkpt.weights) {
      assert.deepEqual(resumed.weights.get(name)!.data, w.data, name);
      assert.deepEqual(resumed.moments.m.get(name)!.data, wholeCkpt.moments.m.get(name)!.data);
      assert.deepEqual(resumed.moments.v.get(name)!.data, wholeCkpt.moments.v.get(name)!.data);
    }
    assert.deepEqual(resumed.history, wholeCkpt.history);
    assert.deepEqual(resumed.sampler, wholeCkpt.sampler);
    await assert.rejects(
      () => Trainer.create(gpu, data, { ...config, seed: 2 }, { ...quiet, resume: saved }),
      /different seed/,
    );
  },
}));
