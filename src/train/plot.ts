// Loss curves as a PNG without a plotting library: a tiny rasteriser (lines, rectangles, a 3×5
// bitmap font drawn at 2×) into RGBA, log-scaled losses against steps, one colour per series.

import type { RgbaImage } from "../media/codec.ts";

export interface Series {
  name: string;
  color: [number, number, number];
  points: [number, number][];
}

// 3×5 glyphs, rows top to bottom, bits left to right.
const FONT: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7],
  "1": [2, 6, 2, 2, 7],
  "2": [7, 1, 7, 4, 7],
  "3": [7, 1, 7, 1, 7],
  "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7],
  "6": [7, 4, 7, 5, 7],
  "7": [7, 1, 2, 2, 2],
  "8": [7, 5, 7, 5, 7],
  "9": [7, 5, 7, 1, 7],
  ".": [0, 0, 0, 0, 2],
  "-": [0, 0, 7, 0, 0],
  "+": [0, 2, 7, 2, 0],
  ":": [0, 2, 0, 2, 0],
  " ": [0, 0, 0, 0, 0],
  "(": [1, 2, 2, 2, 1],
  ")": [4, 2, 2, 2, 4],
  "/": [1, 1, 2, 4, 4],
  "a": [0, 7, 1, 7, 7],
  "b": [4, 4, 7, 5, 7],
  "c": [0, 7, 4, 4, 7],
  "d": [1, 1, 7, 5, 7],
  "e": [0, 7, 7, 4, 7],
  "f": [3, 4, 6, 4, 4],
  "g": [7, 5, 7, 1, 7],
  "h": [4, 4, 7, 5, 5],
  "i": [2, 0, 2, 2, 2],
  "j": [1, 0, 1, 5, 7],
  "k": [4, 5, 6, 5, 5],
  "l": [4, 4, 4, 4, 2],
  "m": [0, 7, 7, 5, 5],
  "n": [0, 6, 5, 5, 5],
  "o": [0, 7, 5, 5, 7],
  "p": [7, 5, 7, 4, 4],
  "q": [7, 5, 7, 1, 1],
  "r": [0, 7, 4, 4, 4],
  "s": [0, 7, 6, 1, 7],
  "t": [4, 7, 4, 4, 3],
  "u": [0, 5, 5, 5, 7],
  "v": [0, 5, 5, 5, 2],
  "w": [0, 5, 5, 7, 7],
  "x": [0, 5, 2, 2, 5],
  "y": [5, 5, 7, 1, 7],
  "z": [7, 1, 2, 4, 7],
};

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 4).fill(255);
  }
  set(x: number, y: number, [r, g, b]: readonly number[]) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set([r, g, b, 255], (y * this.width + x) * 4);
  }
  rect(x0: number, y0: number, w: number, h: number, color: readonly number[]) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, color);
  }
  /** A line `thick` pixels wide, stepped at sub-pixel spacing. */
  line(x0: number, y0: number, x1: number, y1: number, color: readonly number[], thick = 1) {
    const n = Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2) + 1;
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n, y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) this.set(x, y + d - (thick >> 1), color);
    }
  }
  text(x: number, y: number, s: string, color: readonly number[], scale = 2) {
    for (const ch of s.toLowerCase()) {
      const glyph = FONT[ch] ?? FONT[" "];
      glyph.forEach((bits, row) => {
        for (let col = 0; col < 3; col++) {
          if (bits & (4 >> col)) this.rect(x + col * scale, y + row * scale, scale, scale, color);
        }
      });
      x += 4 * scale;
    }
  }
}

/**
 * Equal-sized images in rows (e.g. input | teacher | student) on a light background with gutters.
 * Kept here rather than borrowed from src/distill so imports stay one-way: distill → train.
 */
export function imageGrid(rows: readonly (readonly RgbaImage[])[], gutter = 6): RgbaImage {
  const w = Math.max(...rows.flat().map((i) => i.width));
  const h = Math.max(...rows.flat().map((i) => i.height));
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * w + (cols + 1) * gutter,
    height = rows.length * h + (rows.length + 1) * gutter;
  const c = new Canvas(width, height);
  c.rect(0, 0, width, height, [250, 250, 250]);
  rows.forEach((row, r) =>
    row.forEach((img, k) => {
      const ox = gutter + k * (w + gutter), oy = gutter + r * (h + gutter);
      for (let y = 0; y < img.height; y++) {
        c.data.set(
          img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4),
          ((oy + y) * width + ox) * 4,
        );
      }
    })
  );
  return { width, height, data: c.data };
}

/** Short tick labels: 0.0123 → "0.012", 1.5e-5 → "1.5e-5", 20000 → "20000". */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp >= -3 && exp <= 5) return String(Number(v.toPrecision(2)));
  return `${Number((v / 10 ** exp).toPrecision(2))}e${exp}`;
}

/** Renders series (x = step, y = loss > 0) on a log-y plot with a legend. */
export function plotCurves(
  series: readonly Series[],
  o: { width?: number; height?: number; title?: string } = {},
): RgbaImage {
  const width = o.width ?? 720, height = o.height ?? 420;
  const c = new Canvas(width, height);
  const left = 64, right = width - 16, top = 36, bottom = height - 36;
  const pts = series.flatMap((s) => s.points.filter(([, y]) => y > 0 && Number.isFinite(y)));
  const ink = [40, 40, 40], grid = [225, 225, 225];
  if (o.title) c.text(left, 10, o.title, ink);
  if (pts.length === 0) {
    c.text(left, (top + bottom) >> 1, "no data", ink);
    return { width, height, data: c.data };
  }
  const xmin = Math.min(...pts.map(([x]) => x)), xmax = Math.max(...pts.map(([x]) => x));
  let lo = Math.log10(Math.min(...pts.map(([, y]) => y)));
  let hi = Math.log10(Math.max(...pts.map(([, y]) => y)));
  if (hi - lo < 0.5) [lo, hi] = [(lo + hi) / 2 - 0.25, (lo + hi) / 2 + 0.25];
  lo = Math.floor(lo * 4) / 4;
  hi = Math.ceil(hi * 4) / 4;
  const px = (x: number) => left + ((x - xmin) / Math.max(1e-9, xmax - xmin)) * (right - left);
  const py = (y: number) => bottom - ((Math.log10(y) - lo) / (hi - lo)) * (bottom - top);

  // Horizontal grid at 1, 2, 5 × powers of ten; vertical grid at round step counts.
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e, y = py(v);
      if (y < top - 0.5 || y > bottom + 0.5) continue;
      c.line(left, y, right, y, grid);
      c.text(4, Math.round(y) - 5, tickLabel(v), ink);
    }
  }
  const span = Math.max(1, xmax - xmin);
  const raw = span / 6, mag = 10 ** Math.floor(Math.log10(raw));
  const stepX = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  for (let x = Math.ceil(xmin / stepX) * stepX; x <= xmax; x += stepX) {
    c.line(px(x), top, px(x), bottom, grid);
    const label = tickLabel(x);
    c.text(Math.round(px(x)) - label.length * 4, bottom + 8, label, ink);
  }
  c.line(left, bottom, right, bottom, ink);
  c.line(left, top, left, bottom, ink);
  c.text(right - 32, bottom + 22, "step", ink);

  for (const s of series) {
    const p = s.points.filter(([, y]) => y > 0 && Number.isFinite(y));
    for (let i = 1; i < p.length; i++) {
      c.line(px(p[i - 1][0]), py(p[i - 1][1]), px(p[i][0]), py(p[i][1]), s.color, 2);
    }
    if (p.length === 1) {
      c.rect(Math.round(px(p[0][0])) - 2, Math.round(py(p[0][1])) - 2, 5, 5, s.color);
    }
  }
  let lx = right - 8;
  for (const s of [...series].reverse()) {
    lx -= s.name.length * 8 + 22;
    c.rect(lx, 14, 12, 6, s.color);
    c.text(lx + 16, 12, s.name, ink);
  }
  return { width, height, data: c.data };
}
