// The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) for vectors: an adaptive low-pass whose
// cutoff rises with speed, so a still face gives a still crop and a moving one is followed quickly.
//
// Per component: the derivative is low-passed at `dCutoff` Hz; the signal is low-passed at
// minCutoff + beta·|derivative| Hz. Cutoffs are in Hz, timestamps in milliseconds; beta is in
// 1/(signal unit) — e.g. for landmarks in crop pixels, beta 0.01 adds 1 Hz per 100 px/s.

export interface OneEuroParams {
  /** Cutoff at rest, Hz: lower = steadier, more lag when slow. */
  minCutoff: number;
  /** Speed coefficient: higher = less lag when moving fast. */
  beta: number;
  /** Cutoff of the derivative's own low-pass, Hz. */
  dCutoff: number;
}

/** Defaults for landmarks in pixels of a 256-pixel crop at camera rates (the manifest's shape). */
export const DEFAULT_SMOOTHING: OneEuroParams = { minCutoff: 1.5, beta: 0.02, dCutoff: 1.0 };

/** Weight of the new sample for a one-pole low-pass at `cutoff` Hz after `dt` seconds. */
export function smoothingFactor(cutoff: number, dt: number): number {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
}

export class OneEuroFilter {
  readonly params: OneEuroParams;
  #x?: Float64Array; // filtered values
  #raw?: Float64Array; // previous raw values
  #dx?: Float64Array; // filtered derivative
  #t = 0;

  constructor(params: OneEuroParams = DEFAULT_SMOOTHING) {
    const { minCutoff, beta, dCutoff } = params;
    if (!(minCutoff > 0 && dCutoff > 0 && beta >= 0)) {
      throw new RangeError(`bad One-Euro parameters ${JSON.stringify(params)}`);
    }
    this.params = { minCutoff, beta, dCutoff };
  }

  /** Length of the vectors being filtered, once the first sample has been seen. */
  get size(): number | undefined {
    return this.#x?.length;
  }

  /** The latest filtered vector (a copy), or undefined before the first sample. */
  get value(): Float64Array | undefined {
    return this.#x?.slice();
  }

  /**
   * Filters one sample taken at `timestampMs` and returns the filtered vector (a new array). The
   * first sample passes through unchanged; a sample not later than the previous one changes
   * nothing and returns the previous output; a change of length starts over.
   */
  filter(values: ArrayLike<number>, timestampMs: number): Float64Array {
    const n = values.length;
    if (!Number.isFinite(timestampMs)) {
      throw new RangeError(`timestamp ${timestampMs} is not finite`);
    }
    if (!this.#x || this.#x.length !== n) {
      this.#x = Float64Array.from(values);
      this.#raw = Float64Array.from(values);
      this.#dx = new Float64Array(n);
      this.#t = timestampMs;
      return this.#x.slice();
    }
    const dt = (timestampMs - this.#t) / 1000;
    if (!(dt > 0)) return this.#x.slice();
    this.#t = timestampMs;
    const { minCutoff, beta, dCutoff } = this.params;
    const aD = smoothingFactor(dCutoff, dt);
    const x = this.#x, raw = this.#raw!, dx = this.#dx!;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      dx[i] += aD * ((v - raw[i]) / dt - dx[i]);
      raw[i] = v;
      const a = smoothingFactor(minCutoff + beta * Math.abs(dx[i]), dt);
      // x + a·(v − x) rather than a·v + (1 − a)·x: once v − x is below rounding, x stops moving.
      x[i] += a * (v - x[i]);
    }
    return x.slice();
  }

  /** Forgets the state: the next sample passes through. */
  reset(): void {
    this.#x = this.#raw = this.#dx = undefined;
  }
}
