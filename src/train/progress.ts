// A progress line for long runs: step, bar, current loss, time per step and ETA. On a terminal it
// is one line rewritten in place; otherwise (CI logs, files) a line every so often.

export interface ProgressOptions {
  total: number;
  /** Step the run starts from (a resumed run). */
  start?: number;
  label?: string;
  /** Rewrite one line (terminal) or print lines; default: whether stderr is a terminal. */
  tty?: boolean;
  /** Non-terminal: a line at least every this many steps (default total/20) or … */
  everySteps?: number;
  /** … every this many milliseconds (default 30 s), whichever comes first. */
  everyMs?: number;
  write?: (text: string) => void;
  now?: () => number;
}

const stderrWrite = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));

/** 75 → "1m15s", 4000 → "1h06m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class Progress {
  readonly #o: Required<Omit<ProgressOptions, "label">> & { label: string };
  /** Recent (step, time) samples: the ETA uses the recent rate, not the average since start. */
  #samples: [number, number][] = [];
  #lastLineAt = -Infinity;
  #lastLineStep = -Infinity;
  #step: number;

  constructor(o: ProgressOptions) {
    this.#o = {
      start: 0,
      label: "train",
      tty: (() => {
        try {
          return Deno.stderr.isTerminal();
        } catch {
          return false;
        }
      })(),
      everySteps: Math.max(1, Math.round(o.total / 20)),
      everyMs: 30_000,
      write: stderrWrite,
      now: () => performance.now(),
      ...o,
    };
    this.#step = this.#o.start;
    this.#samples.push([this.#step, this.#o.now()]);
  }

  /** The text of the line for `step` (also what tests look at). */
  line(step: number, loss?: number): string {
    const { total, label } = this.#o;
    const [s0, t0] = this.#samples[0];
    const now = this.#o.now();
    const perStep = step > s0 ? (now - t0) / 1000 / (step - s0) : NaN;
    const width = 24;
    const filled = Math.round((width * step) / Math.max(1, total));
    const bar = "#".repeat(filled) + ".".repeat(Math.max(0, width - filled));
    const pct = Math.floor((100 * step) / Math.max(1, total));
    const lossText = loss === undefined ? "" : ` loss ${loss.toPrecision(4)}`;
    const rate = Number.isFinite(perStep)
      ? ` ${perStep < 1 ? `${(perStep * 1000).toFixed(0)} ms` : `${perStep.toFixed(2)} s`}/step`
      : "";
    const eta = Number.isFinite(perStep) ? ` ETA ${formatDuration(perStep * (total - step))}` : "";
    return `${label} [${bar}] ${step}/${total} ${pct}%${lossText}${rate}${eta}`;
  }

  update(step: number, loss?: number): void {
    this.#step = step;
    const now = this.#o.now();
    this.#samples.push([step, now]);
    if (this.#samples.length > 50) this.#samples.shift();
    if (this.#o.tty) {
      this.#o.write(`\r\x1b[2K${this.line(step, loss)}`);
      return;
    }
    const due = step - this.#lastLineStep >= this.#o.everySteps ||
      now - this.#lastLineAt >= this.#o.everyMs;
    if (due || step >= this.#o.total) {
      this.#o.write(`${this.line(step, loss)}\n`);
      this.#lastLineAt = now;
      this.#lastLineStep = step;
    }
  }

  /** Prints a message without breaking the progress line. */
  log(text: string): void {
    this.#o.write(this.#o.tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  finish(loss?: number): void {
    if (this.#o.tty) this.#o.write(`\r\x1b[2K${this.line(this.#step, loss)}\n`);
    else if (this.#lastLineStep !== this.#step) this.#o.write(`${this.line(this.#step, loss)}\n`);
  }
}
