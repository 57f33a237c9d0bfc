// Image quality metrics shared by tests, the trainer's validation and the bench reports.

/** Peak signal-to-noise ratio in dB between two equally long arrays with values in [0, peak]. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, peak = 1): number {
  if (a.length !== b.length || a.length === 0) {
    throw new Error(`psnr needs two equal, non-empty arrays (${a.length} vs ${b.length})`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

export interface SsimOptions {
  /** Gaussian window side (odd); default 11. */
  window?: number;
  /** Its standard deviation; default 1.5. */
  sigma?: number;
  /** Value range; default 1 (the stabilisers are (0.01·peak)² and (0.03·peak)²). */
  peak?: number;
}

/**
 * Mean structural similarity (Wang et al. 2004) between two interleaved H × W × C images with
 * values in [0, peak]: Gaussian-weighted local statistics over every window position that fits
 * inside the image ("valid", no padding), averaged over positions and channels. Identical
 * images give exactly 1. A plain CPU implementation (separable blurs, f64).
 */
export function ssim(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  width: number,
  height: number,
  channels = 3,
  options: SsimOptions = {},
): number {
  const size = options.window ?? 11, sigma = options.sigma ?? 1.5, peak = options.peak ?? 1;
  const n = width * height * channels;
  if (a.length !== n || b.length !== n) {
    throw new Error(
      `ssim needs two ${width}×${height}×${channels} images (${a.length}, ${b.length})`,
    );
  }
  if (!(Number.isInteger(size) && size >= 1 && size % 2 === 1)) {
    throw new Error(`ssim window ${size} is not an odd positive integer`);
  }
  if (size > width || size > height) {
    throw new Error(`ssim window ${size} is larger than the ${width}×${height} image`);
  }
  const g = new Float64Array(size);
  let gs = 0;
  for (let i = 0; i < size; i++) {
    gs += g[i] = Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma ** 2));
  }
  for (let i = 0; i < size; i++) g[i] /= gs;
  const c1 = (0.01 * peak) ** 2, c2 = (0.03 * peak) ** 2;
  const ow = width - size + 1, oh = height - size + 1;
  // Five planes per channel (x, y, x², y², xy), blurred horizontally then vertically (valid).
  const plane = new Float64Array(width * height * 5);
  const horiz = new Float64Array(ow * height * 5);
  let total = 0;
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < width * height; p++) {
      const x = a[p * channels + c], y = b[p * channels + c];
      const o = p * 5;
      plane[o] = x;
      plane[o + 1] = y;
      plane[o + 2] = x * x;
      plane[o + 3] = y * y;
      plane[o + 4] = x * y;
    }
    for (let r = 0; r < height; r++) {
      for (let col = 0; col < ow; col++) {
        const o = (r * ow + col) * 5;
        for (let k = 0; k < 5; k++) horiz[o + k] = 0;
        for (let i = 0; i < size; i++) {
          const s = (r * width + col + i) * 5, w = g[i];
          for (let k = 0; k < 5; k++) horiz[o + k] += w * plane[s + k];
        }
      }
    }
    for (let r = 0; r < oh; r++) {
      for (let col = 0; col < ow; col++) {
        let mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
        for (let i = 0; i < size; i++) {
          const s = ((r + i) * ow + col) * 5, w = g[i];
          mx += w * horiz[s];
          my += w * horiz[s + 1];
          xx += w * horiz[s + 2];
          yy += w * horiz[s + 3];
          xy += w * horiz[s + 4];
        }
        const vx = xx - mx * mx, vy = yy - my * my, cov = xy - mx * my;
        total += ((2 * mx * my + c1) * (2 * cov + c2)) /
          ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
    }
  }
  return total / (ow * oh * channels);
}

/** An RGBA8 image's RGB as interleaved floats in [0, 1] (the form psnr and ssim take). */
export function rgbUnit(
  img: { width: number; height: number; data: ArrayLike<number> },
): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = img.data[p * 4 + c] / 255;
  }
  return out;
}
