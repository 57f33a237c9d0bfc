// The losses: the CPU reference's gradient against finite differences of its own value (L1, edge,
// SSIM with 7×7 and 11×11 windows, and their weighted sum), then the GPU passes against the CPU
// reference, values and gradient, including a prediction stored as a strided slice.

import assert from "node:assert/strict";
import { randomArray, rng } from "../../src/graph/random.ts";
import { PipelineCache } from "../../src/runtime/pipelines.ts";
import {
  denseLayout,
  hostTensor,
  type Layout,
  layoutFloats,
  pack,
  type Shape,
  unpack,
} from "../../src/runtime/tensor.ts";
import { encodeDispatches, readBuffer, Recorder } from "../../src/train/gpu.ts";
import { GpuLoss } from "../../src/train/gpu_loss.ts";
import { DEFAULT_LOSS, type LossConfig, lossReference } from "../../src/train/losses.ts";
import { needs, requireWebGpu } from "../support/env.ts";
import { testGpu } from "../support/gpu.ts";
import { checkGradient } from "./fd.ts";

const only = (k: "l1" | "ssim" | "edge", extra: Partial<LossConfig> = {}): LossConfig => ({
  ...DEFAULT_LOSS,
  l1: 0,
  ssim: 0,
  edge: 0,
  [k]: 1,
  ...extra,
});

const CONFIGS: [string, LossConfig][] = [
  ["l1", only("l1")],
  ["edge", only("edge")],
  ["ssim 11x11", only("ssim")],
  [
    "ssim 7x7 σ=1, other normalisation",
    only("ssim", {
      ssimWindow: 7,
      ssimSigma: 1,
      normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    }),
  ],
  ["weighted sum", { ...DEFAULT_LOSS, l1: 0.7, ssim: 0.4, edge: 0.3 }],
];

/** A prediction near the target (as in training) and one far from it. */
function images(shape: Shape, seed: number, near: boolean) {
  const random = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const target = hostTensor(shape, randomArray(random, size, 0.9));
  const noise = randomArray(random, size, near ? 0.1 : 0.8);
  const pred = hostTensor(shape, target.data.map((v, i) => (near ? v : 0) + noise[i]));
  return { pred, target };
}

CONFIGS.forEach(([name, config], index) => {
  Deno.test(`loss gradient matches finite differences: ${name}`, () => {
    const { pred, target } = images([2, 13, 15, 3], 100 + index, index % 2 === 0);
    const { grad } = lossReference(pred, target, config);
    const f = () => lossReference(pred, target, config).total;
    // f64 loss of f32 data: no rounding noise worth the name, so a small step and tight tolerance.
    // SSIM alone is smooth (no kink guard); |·| terms have kinks where a difference crosses 0.
    const smooth = config.l1 === 0 && config.edge === 0;
    const r = checkGradient(f, pred.data, grad.data, name, {
      eps: 1e-4,
      atol: 1e-8,
      rtol: 1e-4,
      sample: 150,
      random: rng(5),
      kinkTol: smooth ? Infinity : 1e-6,
    });
    assert.ok(r.skipped <= 5, `${r.skipped} kinks`);
  });
});

Deno.test("SSIM of an image with itself is 1, and the gradient there is zero", () => {
  const { target } = images([1, 12, 12, 3], 3, true);
  const r = lossReference(target, target, only("ssim"));
  assert.ok(Math.abs(r.ssim) < 1e-12, `1 − SSIM = ${r.ssim}`);
  assert.ok(r.grad.data.every((g) => Math.abs(g) < 1e-9));
});

const webGpu = await requireWebGpu();

const GPU_CASES: { name: string; config: LossConfig; shape: Shape; layout?: Layout }[] = [
  {
    name: "all terms, 11×11",
    config: { ...DEFAULT_LOSS, l1: 0.7, ssim: 0.4, edge: 0.3 },
    shape: [2, 16, 20, 3],
  },
  {
    name: "SSIM 7×7, odd sizes",
    config: only("ssim", { ssimWindow: 7, ssimSigma: 1 }),
    shape: [1, 9, 13, 3],
  },
  {
    name: "prediction as a strided slice",
    config: DEFAULT_LOSS,
    shape: [2, 12, 11, 3],
    layout: { pixelStride: 12, channelOffset: 4 },
  },
  { name: "L1 + edge only", config: { ...DEFAULT_LOSS, ssim: 0 }, shape: [3, 5, 7, 3] },
];

GPU_CASES.forEach((c, index) => {
  Deno.test(needs(webGpu, {
    name: `GPU loss matches the CPU reference: ${c.name}`,
    fn: async () => {
      const gpu = await testGpu();
      const rec = new Recorder(gpu.device, new PipelineCache(gpu.device));
      try {
        const { pred, target } = images(c.shape, 300 + index, true);
        const want = lossReference(pred, target, c.config);
        const layout = c.layout ?? denseLayout(c.shape);
        const predBuf = rec.upload(pack(pred, layout), "pred");
        const targetBuf = rec.upload(pack(target), "target");
        const gradBuf = rec.buffer(layoutFloats(c.shape, layout) * 4, "grad");
        const history = rec.buffer(4 * 16, "history");
        const dispatches = await rec.checked(async () => {
          const loss = await GpuLoss.create(rec, c.shape, c.config, {
            pred: { buffer: predBuf, layout },
            target: targetBuf,
            grad: { buffer: gradBuf, layout },
            history,
          });
          loss.write(2);
          return loss.dispatches;
        }, "the loss");
        const encoder = gpu.device.createCommandEncoder();
        encodeDispatches(encoder, dispatches);
        gpu.device.queue.submit([encoder.finish()]);
        const record = await readBuffer(gpu.device, history);
        const [l1, ssim, edge, total] = record.subarray(8, 12);
        const close = (a: number, b: number, what: string) =>
          assert.ok(
            Math.abs(a - b) <= 2e-5 * Math.max(1, Math.abs(b)),
            `${what}: gpu ${a}, cpu ${b}`,
          );
        close(l1, want.l1, "l1");
        close(ssim, want.ssim, "1 − ssim");
        close(edge, want.edge, "edge");
        close(total, want.total, "total");
        const grad = unpack(
          await readBuffer(gpu.device, gradBuf, 0, layoutFloats(c.shape, layout) * 4),
          c.shape,
          layout,
        );
        let scale = 0, worst = 0;
        for (let i = 0; i < grad.data.length; i++) {
          scale = Math.max(scale, Math.abs(want.grad.data[i]));
          worst = Math.max(worst, Math.abs(grad.data[i] - want.grad.data[i]));
        }
        // f32 moments (E[x²] − μ²) against f64: well inside 0.1% of the largest gradient.
        assert.ok(worst <= 1e-3 * scale, `gradient: worst ${worst} of ${scale}`);
      } finally {
        rec.destroy();
      }
    },
  }));
});
