// Contact sheets for people to look at: images laid out in a grid (rows × columns), resized to a
// common cell size with area averaging, on a plain background with gutters.

import type { RgbaImage } from "../media/codec.ts";

/** Box-filter resize (area average when shrinking, bilinear-ish nearest when growing). */
export function resize(img: RgbaImage, width: number, height: number): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  const sx = img.width / width, sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = y * sy, y1 = Math.max(y0 + 1e-6, (y + 1) * sy);
    for (let x = 0; x < width; x++) {
      const x0 = x * sx, x1 = Math.max(x0 + 1e-6, (x + 1) * sx);
      const acc = [0, 0, 0, 0];
      let wsum = 0;
      for (let j = Math.floor(y0); j < Math.ceil(y1) && j < img.height; j++) {
        const wy = Math.min(y1, j + 1) - Math.max(y0, j);
        for (let i = Math.floor(x0); i < Math.ceil(x1) && i < img.width; i++) {
          const w = wy * (Math.min(x1, i + 1) - Math.max(x0, i));
          const at = (j * img.width + i) * 4;
          for (let c = 0; c < 4; c++) acc[c] += w * img.data[at + c];
          wsum += w;
        }
      }
      for (let c = 0; c < 4; c++) out[(y * width + x) * 4 + c] = Math.round(acc[c] / wsum);
    }
  }
  return { width, height, data: out };
}

/** Lays rows of images into one picture; every cell is `cell` pixels square (aspect kept, centred). */
export function grid(
  rows: readonly (readonly (RgbaImage | undefined)[])[],
  options: { cell?: number; gutter?: number; background?: [number, number, number] } = {},
): RgbaImage {
  const cell = options.cell ?? 256, gap = options.gutter ?? 6;
  const [br, bg, bb] = options.background ?? [250, 250, 250];
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * cell + (cols + 1) * gap,
    height = rows.length * cell + (rows.length + 1) * gap;
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([br, bg, bb, 255], p * 4);
  rows.forEach((row, r) =>
    row.forEach((img, c) => {
      if (!img) return;
      const k = cell / Math.max(img.width, img.height);
      const w = Math.max(1, Math.round(img.width * k)), h = Math.max(1, Math.round(img.height * k));
      const small = w === img.width && h === img.height ? img : resize(img, w, h);
      const ox = gap + c * (cell + gap) + ((cell - w) >> 1);
      const oy = gap + r * (cell + gap) + ((cell - h) >> 1);
      for (let y = 0; y < h; y++) {
        data.set(small.data.subarray(y * w * 4, (y + 1) * w * 4), ((oy + y) * width + ox) * 4);
      }
    })
  );
  return { width, height, data };
}
