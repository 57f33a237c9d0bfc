// The peers chart: an SVG (no dependencies) with one panel for warm frame latency and one for cold
// start, log-scaled bars grouped by host and input size, one colour per runtime/EP.

export interface ChartRow {
  /** e.g. "facefx webgpu", "ort-web wasm". */
  series: string;
  /** e.g. "deno 128²". */
  group: string;
  warmMs: number;
  coldMs: number;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function peersChart(rows: ChartRow[], title: string): string {
  const series = [...new Set(rows.map((r) => r.series))];
  const groups = [...new Set(rows.map((r) => r.group))];
  const bar = 14, gap = 10, labelW = 110, panelW = 420, valueW = 70, top = 56;
  const groupH = series.length * bar + gap;
  const height = top + groups.length * groupH + 40;
  const width = labelW + 2 * (panelW + valueW) + 20;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
  );
  series.forEach((s, i) => {
    const x = 10 + i * 150;
    out.push(
      `<rect x="${x}" y="28" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${x + 14}" y="37">${esc(s)}</text>`,
    );
  });
  const panels: [string, (r: ChartRow) => number][] = [
    ["warm frame, ms (log)", (r) => r.warmMs],
    ["cold start, ms (log)", (r) => r.coldMs],
  ];
  panels.forEach(([name, value], p) => {
    const x0 = labelW + p * (panelW + valueW);
    const values = rows.map(value).filter((v) => Number.isFinite(v) && v > 0);
    const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 1))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 10))));
    const scale = (v: number) => (Math.log10(v / lo) / Math.log10(hi / lo)) * panelW;
    out.push(`<text x="${x0}" y="${top - 6}" font-weight="bold">${esc(name)}</text>`);
    for (let d = lo; d <= hi; d *= 10) {
      const x = x0 + scale(d);
      out.push(
        `<line x1="${x}" y1="${top}" x2="${x}" y2="${height - 30}" stroke="#ddd"/>`,
        `<text x="${x}" y="${height - 16}" text-anchor="middle" fill="#666">${d}</text>`,
      );
    }
    groups.forEach((g, gi) => {
      const y0 = top + gi * groupH;
      if (p === 0) out.push(`<text x="10" y="${y0 + groupH / 2}">${esc(g)}</text>`);
      series.forEach((s, si) => {
        const r = rows.find((row) => row.group === g && row.series === s);
        const y = y0 + si * bar;
        const v = r ? value(r) : NaN;
        if (!Number.isFinite(v) || v <= 0) {
          if (r) out.push(`<text x="${x0 + 4}" y="${y + bar - 3}" fill="#999">n/a</text>`);
          return;
        }
        const w = Math.max(1, scale(v));
        out.push(
          `<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${bar - 2}" ` +
            `fill="${COLORS[si % COLORS.length]}"/>`,
          `<text x="${(x0 + w + 3).toFixed(1)}" y="${y + bar - 3}">${
            v < 10 ? v.toFixed(1) : v.toFixed(0)
          }</text>`,
        );
      });
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
