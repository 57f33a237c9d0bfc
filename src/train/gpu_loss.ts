// The loss on the GPU: per-pixel L1 + edge terms and gradient, the four SSIM passes (separable
// window forward, transposed window backward), then a two-stage reduction that writes this step's
// (l1, 1 − SSIM, edge, total) into a ring of loss records, read back only every N steps.

import { workgroups1d } from "../runtime/ops/types.ts";
import { denseLayout, type Layout, type Shape } from "../runtime/tensor.ts";
import { uniformStruct } from "../runtime/uniforms.ts";
import type { Binding, Dispatch, Recorder } from "./gpu.ts";
import {
  gaussianWindow,
  type LossConfig,
  lossCounts,
  SSIM_C1,
  SSIM_C2,
  validateLoss,
} from "./losses.ts";

/** Shared by the loss kernels; strides/offsets in vec4s; gX are the weights over the counts. */
export const LossParams = uniformStruct("LossParams", {
  batch: "u32",
  height: "u32",
  width: "u32",
  channels: "u32",
  predStride: "u32",
  predOffset: "u32",
  targetStride: "u32",
  targetOffset: "u32",
  gradStride: "u32",
  gradOffset: "u32",
  win: "u32",
  validH: "u32",
  validW: "u32",
  gL1: "f32",
  gEdge: "f32",
  gSsim: "f32",
  mean0: "f32",
  mean1: "f32",
  mean2: "f32",
  mean3: "f32",
  std0: "f32",
  std1: "f32",
  std2: "f32",
  std3: "f32",
  c1: "f32",
  c2: "f32",
});

export const ReduceParams = uniformStruct("ReduceParams", {
  count: "u32",
  chunk: "u32",
  slot: "u32",
  invL1: "f32",
  invEdge: "f32",
  invSsim: "f32",
  wL1: "f32",
  wEdge: "f32",
  wSsim: "f32",
});

export interface LossBindings {
  pred: { buffer: GPUBuffer; layout: Layout };
  /** Dense NHWC, channels padded to 4. */
  target: GPUBuffer;
  grad: { buffer: GPUBuffer; layout: Layout };
  /** Ring of vec4 loss records. */
  history: GPUBuffer;
}

/** One set of loss dispatches; `write(slot)` points the final reduction at a ring entry. */
export class GpuLoss {
  private constructor(
    readonly dispatches: Dispatch[],
    private readonly finalUniform: GPUBuffer,
    private readonly finalValues: Parameters<typeof ReduceParams.pack>[0],
    private readonly queue: GPUQueue,
  ) {}

  static async create(
    rec: Recorder,
    shape: Shape,
    c: LossConfig,
    b: LossBindings,
    label = "loss",
  ): Promise<GpuLoss> {
    validateLoss(c, shape);
    const [n, h, w, ch] = shape;
    const counts = lossCounts(shape, c);
    const ssim = c.ssim > 0;
    const win = ssim ? c.ssimWindow : 1;
    const validH = h - win + 1, validW = w - win + 1;
    const lane = (a: readonly number[], i: number) => (i < ch ? a[i] : 0);
    const { mean, std } = c.normalization;
    const params = rec.uniform(LossParams, {
      batch: n,
      height: h,
      width: w,
      channels: ch,
      predStride: b.pred.layout.pixelStride / 4,
      predOffset: b.pred.layout.channelOffset / 4,
      targetStride: denseLayout(shape).pixelStride / 4,
      targetOffset: 0,
      gradStride: b.grad.layout.pixelStride / 4,
      gradOffset: b.grad.layout.channelOffset / 4,
      win,
      validH,
      validW,
      gL1: c.l1 / counts.l1,
      gEdge: c.edge / counts.edge,
      gSsim: ssim ? -c.ssim / counts.ssim : 0,
      mean0: lane(mean, 0),
      mean1: lane(mean, 1),
      mean2: lane(mean, 2),
      mean3: lane(mean, 3),
      std0: lane(std, 0),
      std1: lane(std, 1),
      std2: lane(std, 2),
      std3: lane(std, 3),
      c1: SSIM_C1,
      c2: SSIM_C2,
    }, `${label}.params`);
    const pixels = n * h * w;
    const terms = rec.buffer(pixels * 16, `${label}.terms`);
    const pred: Binding = b.pred.buffer, target: Binding = b.target, grad = b.grad.buffer;
    const wg = (threads: number) => workgroups1d(threads, 64);
    const o = { WG: 64 };
    const pending: Promise<Dispatch>[] = [
      rec.dispatch(
        "loss_pixel",
        LossParams,
        o,
        wg(pixels),
        [pred, target, grad, terms, params],
        `${label}.pixel`,
      ),
    ];
    if (ssim) {
      const window = rec.upload(
        Float32Array.from(gaussianWindow(win, c.ssimSigma)),
        `${label}.window`,
      );
      const stats = rec.buffer(n * h * validW * 5 * 16, `${label}.stats`);
      const coef = rec.buffer(n * validH * validW * 3 * 16, `${label}.coef`);
      const gh = rec.buffer(n * validH * w * 3 * 16, `${label}.gh`);
      pending.push(
        rec.dispatch("ssim_stats", LossParams, o, wg(n * h * validW), [
          pred,
          target,
          window,
          stats,
          params,
        ], `${label}.ssim1`),
        rec.dispatch("ssim_map", LossParams, o, wg(n * validH * validW), [
          stats,
          window,
          coef,
          terms,
          params,
        ], `${label}.ssim2`),
        rec.dispatch(
          "ssim_grad_h",
          LossParams,
          o,
          wg(n * validH * w),
          [coef, window, gh, params],
          `${label}.ssim3`,
        ),
        rec.dispatch("ssim_grad_v", LossParams, o, wg(pixels), [
          gh,
          pred,
          target,
          window,
          grad,
          params,
        ], `${label}.ssim4`),
      );
    }
    const partials = Math.min(256, Math.ceil(pixels / 64));
    const chunk = Math.ceil(pixels / partials);
    const partialBuf = rec.buffer(partials * 16, `${label}.partials`);
    const weights = {
      invL1: 1 / counts.l1,
      invEdge: 1 / counts.edge,
      invSsim: ssim ? 1 / counts.ssim : 0,
      wL1: c.l1,
      wEdge: c.edge,
      wSsim: c.ssim,
    };
    const first = rec.uniform(
      ReduceParams,
      { count: pixels, chunk, slot: 0, ...weights },
      `${label}.reduce1`,
    );
    const finalValues = { count: partials, chunk: partials, slot: 0, ...weights };
    const final = rec.uniform(ReduceParams, finalValues, `${label}.reduce2`);
    pending.push(
      rec.dispatch("loss_reduce", ReduceParams, { WG: 64, FINAL: 0 }, wg(partials), [
        terms,
        partialBuf,
        first,
      ], `${label}.reduce1`),
      rec.dispatch("loss_reduce", ReduceParams, { WG: 64, FINAL: 1 }, [1, 1, 1], [
        partialBuf,
        b.history,
        final,
      ], `${label}.reduce2`),
    );
    return new GpuLoss(await Promise.all(pending), final, finalValues, rec.device.queue);
  }

  /** Makes the next run write its record to ring entry `slot` (queued before the next submit). */
  write(slot: number): void {
    this.queue.writeBuffer(this.finalUniform, 0, ReduceParams.pack({ ...this.finalValues, slot }));
  }
}
