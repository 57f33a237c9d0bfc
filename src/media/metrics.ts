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
