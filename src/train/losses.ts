// Training losses on the student's 3-channel output: L1, SSIM (Gaussian window, in [0, 1] pixel
// space) and an edge loss (L1 of finite-difference image gradients), as a weighted sum. This file
// holds the configuration and the CPU reference (f64, value and gradient); the GPU passes are in
// kernels/wgsl/loss_*.wgsl and ssim_*.wgsl, recorded by gpu_loss.ts.

import { type HostTensor, hostTensor } from "../runtime/tensor.ts";

export interface LossConfig {
  /** Weight of mean |pred − target| (normalised units). */
  l1: number;
  /** Weight of 1 − mean SSIM (0 skips the SSIM passes). */
  ssim: number;
  /** Weight of mean |∇pred − ∇target| over horizontal and vertical neighbour differences. */
  edge: number;
  /** SSIM window side (7 or 11) and its Gaussian σ. */
  ssimWindow: number;
  ssimSigma: number;
  /** How tensors map to pixels: value·std + mean is in [0, 1] (the effect manifest's). */
  normalization: { mean: readonly number[]; std: readonly number[] };
}

export const DEFAULT_LOSS: LossConfig = {
  l1: 1,
  ssim: 0.5,
  edge: 0.5,
  ssimWindow: 11,
  ssimSigma: 1.5,
  normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};

/** SSIM's stabilisers for a data range of 1: (0.01)², (0.03)². */
export const SSIM_C1 = 0.0001;
export const SSIM_C2 = 0.0009;

export interface LossValues {
  l1: number;
  /** 1 − mean SSIM, or 0 when SSIM is off. */
  ssim: number;
  edge: number;
  total: number;
}

export function validateLoss(c: LossConfig, shape: readonly number[]): void {
  const [, h, w, ch] = shape;
  const fail = (why: string) => {
    throw new Error(`invalid loss config: ${why}`);
  };
  for (const k of ["l1", "ssim", "edge"] as const) {
    if (!(c[k] >= 0)) fail(`${k} weight ${c[k]} is not ≥ 0`);
  }
  if (ch < 1 || ch > 4) fail(`the loss works on 1..4 channels, the output has ${ch}`);
  if (c.ssim > 0) {
    if (!Number.isInteger(c.ssimWindow) || c.ssimWindow < 3 || c.ssimWindow % 2 === 0) {
      fail(`ssimWindow ${c.ssimWindow} is not an odd integer ≥ 3`);
    }
    if (c.ssimWindow > h || c.ssimWindow > w) {
      fail(`ssimWindow ${c.ssimWindow} is larger than the ${h}×${w} output`);
    }
    if (!(c.ssimSigma > 0)) fail(`ssimSigma ${c.ssimSigma} is not positive`);
  }
  if (c.normalization.mean.length < ch || c.normalization.std.length < ch) {
    fail(`normalization needs ${ch} means and stds`);
  }
}

/** The 1-D Gaussian window, normalised to sum 1 (the 2-D window is its outer product). */
export function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) w[i] /= sum;
  return w;
}

/** Counts the means divide by: values, neighbour differences, SSIM window positions × channels. */
export function lossCounts(shape: readonly number[], c: LossConfig) {
  const [n, h, w, ch] = shape;
  return {
    l1: n * h * w * ch,
    edge: n * ch * ((h - 1) * w + h * (w - 1)),
    ssim: n * ch * (h - c.ssimWindow + 1) * (w - c.ssimWindow + 1),
  };
}

/**
 * The loss and its gradient w.r.t. pred, in f64. SSIM is computed directly with the 2-D window
 * (the GPU uses separable passes), its gradient from ∂S/∂μ, ∂S/∂σ², ∂S/∂σxy per window.
 */
export function lossReference(
  pred: HostTensor,
  target: HostTensor,
  c: LossConfig,
): LossValues & { grad: HostTensor } {
  if (pred.shape.join() !== target.shape.join()) {
    throw new Error(`pred [${pred.shape}] and target [${target.shape}] differ`);
  }
  validateLoss(c, pred.shape);
  const [n, h, w, ch] = pred.shape;
  const counts = lossCounts(pred.shape, c);
  const g = new Float64Array(pred.data.length);
  const at = (b: number, y: number, x: number) => ((b * h + y) * w + x) * ch;
  const d = (i: number) => pred.data[i] - target.data[i];

  let l1 = 0;
  for (let i = 0; i < g.length; i++) {
    l1 += Math.abs(d(i));
    g[i] += c.l1 * Math.sign(d(i)) / counts.l1;
  }
  let edge = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (const [ny, nx] of [[y, x + 1], [y + 1, x]]) {
          if (ny >= h || nx >= w) continue;
          for (let k = 0; k < ch; k++) {
            const i = at(b, y, x) + k, j = at(b, ny, nx) + k;
            const e = d(j) - d(i);
            edge += Math.abs(e);
            g[j] += c.edge * Math.sign(e) / counts.edge;
            g[i] -= c.edge * Math.sign(e) / counts.edge;
          }
        }
      }
    }
  }
  let ssimSum = 0;
  if (c.ssim > 0) {
    const win = c.ssimWindow;
    const wt = gaussianWindow(win, c.ssimSigma);
    const { mean, std } = c.normalization;
    const u = (i: number) => pred.data[i] * std[i % ch] + mean[i % ch];
    const v = (i: number) => target.data[i] * std[i % ch] + mean[i % ch];
    const scale = -c.ssim / counts.ssim;
    for (let b = 0; b < n; b++) {
      for (let y0 = 0; y0 + win <= h; y0++) {
        for (let x0 = 0; x0 + win <= w; x0++) {
          for (let k = 0; k < ch; k++) {
            let mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
            for (let i = 0; i < win; i++) {
              for (let j = 0; j < win; j++) {
                const q = at(b, y0 + i, x0 + j) + k, wq = wt[i] * wt[j];
                const a = u(q), t = v(q);
                mx += wq * a;
                my += wq * t;
                xx += wq * a * a;
                yy += wq * t * t;
                xy += wq * a * t;
              }
            }
            const sx = xx - mx * mx, sy = yy - my * my, sxy = xy - mx * my;
            const a1 = 2 * mx * my + SSIM_C1, a2 = 2 * sxy + SSIM_C2;
            const b1 = mx * mx + my * my + SSIM_C1, b2 = sx + sy + SSIM_C2;
            const s = (a1 * a2) / (b1 * b2);
            ssimSum += s;
            const dMx = (2 * my * a2 - 2 * mx * s * b2) / (b1 * b2);
            const dSx = -s / b2;
            const dSxy = 2 * a1 / (b1 * b2);
            const alpha = dMx - 2 * mx * dSx - my * dSxy;
            for (let i = 0; i < win; i++) {
              for (let j = 0; j < win; j++) {
                const q = at(b, y0 + i, x0 + j) + k;
                const dsdu = wt[i] * wt[j] * (alpha + 2 * u(q) * dSx + v(q) * dSxy);
                g[q] += scale * std[k] * dsdu;
              }
            }
          }
        }
      }
    }
  }
  const values = {
    l1: l1 / counts.l1,
    edge: edge / counts.edge,
    ssim: c.ssim > 0 ? 1 - ssimSum / counts.ssim : 0,
  };
  return {
    ...values,
    total: c.l1 * values.l1 + c.ssim * values.ssim + c.edge * values.edge,
    grad: hostTensor(pred.shape, Float32Array.from(g)),
  };
}
