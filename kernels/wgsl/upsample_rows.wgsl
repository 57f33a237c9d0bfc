// 2× upsampling along a row segment, shared by the pointwise kernels' UP epilogue
// (pointwise_uniform.wgsl, conv2d_baked.wgsl): where a segment of output row reads the low-res
// `res` (the output's size halved), and one low-res column of it blended between its two rows.
// Needs the kernel's `p` (ConvParams), `res` and UP override.

/** Where a tile's row segment reads the low-res `res`: its two rows, their blend, first column. */
struct UpRows {
  a: u32, // flat low-res pixel index of row A's column 0
  b: u32,
  t: f32, // row B's weight
  col0: u32, // low-res column under the tile's first pixel
}

fn upRows(pixel0: u32) -> UpRows {
  let lowH = p.outH / 2u;
  let lowW = p.outW / 2u;
  let rowIndex = pixel0 / p.outW; // n · outH + oy
  let oy = rowIndex % p.outH;
  let n = rowIndex / p.outH;
  let iy = oy / 2u;
  // Output row 2i blends low-res rows i-1, i; row 2i+1 blends i, i+1 (see upEven in common.wgsl).
  let odd = (oy & 1u) == 1u;
  let rowA = select(max(iy, 1u) - 1u, iy, odd);
  let rowB = select(iy, min(iy + 1u, lowH - 1u), odd);
  let t = select(upEven(UP == 2u), upOdd(UP == 2u), odd);
  return UpRows((n * lowH + rowA) * lowW, (n * lowH + rowB) * lowW, t, (pixel0 % p.outW) / 2u);
}

/** Low-res column `col0 + k` (clamped to the row) of quad q, blended between the two rows. */
fn upColumn(r: UpRows, k: i32, q: u32) -> vec4<real> {
  let col = u32(clamp(i32(r.col0) + k, 0, i32(p.outW / 2u) - 1));
  let a = res[(r.a + col) * p.resStride + p.resOffset + q];
  return vec4<real>(mix(a, res[(r.b + col) * p.resStride + p.resOffset + q], r.t));
}
