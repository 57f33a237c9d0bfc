// Synthetic training images for the trainer tests: smooth random colour fields with a few hard
// edged discs and bars (colours spread over the whole cube, edges for the SSIM/edge losses),
// reproducible from a seed. No files needed, so the tests run in a fresh clone.

import { rng } from "../../src/graph/random.ts";
import type { Dataset } from "../../src/train/data.ts";

/** One H × W × 3 image in [−1, 1]. */
export function syntheticImage(size: number, seed: number): Float32Array {
  const random = rng(seed);
  const img = new Float32Array(size * size * 3);
  const waves = Array.from({ length: 3 }, () =>
    Array.from({ length: 3 }, () => ({
      fx: (random() - 0.5) * 0.12,
      fy: (random() - 0.5) * 0.12,
      phase: random() * 6.28,
      amp: 0.25 + 0.35 * random(),
    })));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (const w of waves[c]) v += w.amp * Math.sin(w.fx * x + w.fy * y + w.phase);
        img[(y * size + x) * 3 + c] = Math.max(-1, Math.min(1, v));
      }
    }
  }
  for (let s = 0; s < 4; s++) {
    const cx = random() * size, cy = random() * size, r = size * (0.05 + 0.12 * random());
    const color = [random() * 2 - 1, random() * 2 - 1, random() * 2 - 1];
    const bar = random() < 0.5;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = bar
          ? Math.abs(x - cx) < r * 0.4 && Math.abs(y - cy) < r * 1.6
          : (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        if (inside) img.set(color, (y * size + x) * 3);
      }
    }
  }
  return img;
}

/** A known colour transform in normalised space: lower contrast and a warm tint. */
export function tint(img: Float32Array): Float32Array {
  const shift = [0.15, 0.03, -0.15];
  return img.map((v, i) => 0.8 * v + shift[i % 3]);
}

export function syntheticDataset(count: number, size: number, seed: number): Dataset {
  const inputs = Array.from({ length: count }, (_, i) => syntheticImage(size, seed + i));
  const targets = inputs.map(tint);
  return {
    size: count,
    width: size,
    height: size,
    get: (i) => ({ input: inputs[i], target: targets[i] }),
  };
}
