// Finite differences for the training tests: central differences of a scalar function of f32
// tensors, evaluated in f64, with a kink guard. Piecewise-linear activations (relu, relu6, leaky,
// hardswish's pieces) make a central difference wrong when a kink lies within ±eps; there the two
// one-sided differences disagree by twice the central difference's error, so elements whose
// one-sided differences disagree by more than the tolerance are skipped (and counted).

export interface FdResult {
  checked: number;
  skipped: number;
  worst: { index: number; fd: number; analytic: number; err: number } | undefined;
}

export interface FdOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements (a seeded sample), default all. */
  sample?: number;
  random?: () => number;
  /**
   * Skip elements whose one-sided differences disagree by more than this (default 2·tolerance);
   * Infinity for smooth functions, where the disagreement is only eps·f''.
   */
  kinkTol?: number;
}

/**
 * Compares `analytic` with central differences of f over the elements of `data` (perturbed in
 * place and restored). Fails when |fd − analytic| > atol + rtol·|analytic| at a non-kink element.
 */
export function checkGradient(
  f: () => number,
  data: Float32Array,
  analytic: ArrayLike<number>,
  what: string,
  options: FdOptions = {},
): FdResult {
  const eps = options.eps ?? 4e-3;
  const atol = options.atol ?? 2e-3;
  const rtol = options.rtol ?? 2e-3;
  let indices = Array.from(data, (_, i) => i);
  if (options.sample !== undefined && indices.length > options.sample) {
    const random = options.random ?? Math.random;
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    indices = indices.slice(0, options.sample);
  }
  const f0 = f();
  const result: FdResult = { checked: 0, skipped: 0, worst: undefined };
  const failures: string[] = [];
  for (const i of indices) {
    const orig = data[i];
    data[i] = orig + eps;
    const up = data[i] - orig; // the step f32 actually took
    const fp = f();
    data[i] = orig - eps;
    const down = orig - data[i];
    const fm = f();
    data[i] = orig;
    const fd = (fp - fm) / (up + down);
    const tol = atol + rtol * Math.abs(analytic[i]);
    if (Math.abs((fp - f0) / up - (f0 - fm) / down) > (options.kinkTol ?? 2 * tol)) {
      result.skipped++;
      continue;
    }
    result.checked++;
    const err = Math.abs(fd - analytic[i]);
    if (!result.worst || err > result.worst.err) {
      result.worst = { index: i, fd, analytic: analytic[i], err };
    }
    if (err > tol && failures.length < 5) {
      failures.push(`${what}[${i}]: finite difference ${fd}, analytic ${analytic[i]}`);
    }
  }
  if (failures.length) throw new Error(failures.join("\n"));
  return result;
}

/** Σ weights·values in f64: the scalar whose gradient w.r.t. values is `weights`. */
export function dot(values: ArrayLike<number>, weights: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * weights[i];
  return s;
}
