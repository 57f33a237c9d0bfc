// Dense 3×3 or 1×1 stride-1 convolution with few outputs (≤ 4 quads: the decoder's last 3×3 conv,
// 20 → 4 channels, and its last projection, 80 → 16): one invocation computes TX neighbouring
// output pixels along x × every output quad. The loop bounds are override constants, so the
// compiler unrolls them and every weight index is a constant. The weights are in a uniform buffer,
// which llvmpipe gathers without a storage read's per-lane branches (measured on those two layers:
// 23-30 % faster than the register-tiled kernels). Each input row segment is
// loaded once for the taps along x, as in depthwise_reg.wgsl. Same weight packing
// ([ky][kx][inQ][outQ] mat4x4 blocks), uniforms and epilogue as conv2d.wgsl; arithmetic in `real`.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
// 64 KiB, the uniform binding size every WebGPU device allows; the executor pads the weights to it.
@group(0) @binding(2) var<uniform> weight: array<mat4x4<real>, 1024>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override K: u32 = 3u; // 3, or 1 for a pointwise conv
override TX: u32 = 8u; // output pixels along x per invocation, 1..8
override IN_Q: u32 = 1u; // input quads (K² · IN_Q · OUT_Q ≤ 1024)
override OUT_Q: u32 = 1u; // output quads, 1..4
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1
// 1: the student's head (conv2d_residual_mask): the output quad holds logits (delta d in lanes
// < MASK_LANE, mask m in lane MASK_LANE) and becomes res + sigmoid(m) · p.alpha · tanh(d), as
// residual_mask.wgsl computes it, with res the image.
override HEAD: u32 = 0u;
override MASK_LANE: u32 = 3u;

/** Input column `ix` of one row, quad c; columns outside the image are the zero padding. */
fn column(row: u32, ix: i32, c: u32) -> vec4<real> {
  let inside = ix >= 0 && ix < i32(p.inW);
  let at = (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.inStride + p.inOffset + c;
  return select(vec4<real>(0.0), vec4<real>(x[at]), inside);
}

/** acc + one row of taps (blocks m0..m2, along x) applied to input columns c0..c9. */
fn addTaps(
  acc: Row,
  c: Row,
  c8: vec4<real>,
  c9: vec4<real>,
  m0: mat4x4<real>,
  m1: mat4x4<real>,
  m2: mat4x4<real>,
) -> Row {
  var r = acc;
  r.p0 += m0 * c.p0 + m1 * c.p1 + m2 * c.p2;
  if (TX > 1u) { r.p1 += m0 * c.p1 + m1 * c.p2 + m2 * c.p3; }
  if (TX > 2u) { r.p2 += m0 * c.p2 + m1 * c.p3 + m2 * c.p4; }
  if (TX > 3u) { r.p3 += m0 * c.p3 + m1 * c.p4 + m2 * c.p5; }
  if (TX > 4u) { r.p4 += m0 * c.p4 + m1 * c.p5 + m2 * c.p6; }
  if (TX > 5u) { r.p5 += m0 * c.p5 + m1 * c.p6 + m2 * c.p7; }
  if (TX > 6u) { r.p6 += m0 * c.p6 + m1 * c.p7 + m2 * c8; }
  if (TX > 7u) { r.p7 += m0 * c.p7 + m1 * c8 + m2 * c9; }
  return r;
}

/** acc + one 1×1 tap (block m) applied to input columns c0..c7. */
fn addTap(acc: Row, c: Row, m: mat4x4<real>) -> Row {
  var r = acc;
  r.p0 += m * c.p0;
  if (TX > 1u) { r.p1 += m * c.p1; }
  if (TX > 2u) { r.p2 += m * c.p2; }
  if (TX > 3u) { r.p3 += m * c.p3; }
  if (TX > 4u) { r.p4 += m * c.p4; }
  if (TX > 5u) { r.p5 += m * c.p5; }
  if (TX > 6u) { r.p6 += m * c.p6; }
  if (TX > 7u) { r.p7 += m * c.p7; }
  return r;
}

/** Quad q's blocks for tap row ky, input quad c, taps kx = 0..K-1 (constant indices once unrolled). */
fn addQuad(acc: Row, c: Row, c8: vec4<real>, c9: vec4<real>, ky: u32, ci: u32, q: u32) -> Row {
  let block = (ky * K * IN_Q + ci) * OUT_Q + q;
  if (K == 1u) { return addTap(acc, c, weight[block]); }
  let step = IN_Q * OUT_Q; // from one kx to the next
  return addTaps(acc, c, c8, c9, weight[block], weight[block + step], weight[block + 2u * step]);
}

fn store(pixel: u32, q: u32, acc: vec4<real>) {
  if (HEAD == 1u) {
    let image = res[pixel * p.resStride + p.resOffset];
    y[pixel * p.outStride + p.outOffset] = headOutput(image, vec4<f32>(acc), p.alpha, MASK_LANE);
    return;
  }
  var out = activate(clamp(vec4<f32>(acc), vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    out += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

/** Output quad q of the tile, from pixel0 (at column ox0); pixels past the row are dropped. */
fn storeQuad(pixel0: u32, ox0: u32, q: u32, a: Row) {
  store(pixel0, q, a.p0);
  if (TX > 1u && ox0 + 1u < p.outW) { store(pixel0 + 1u, q, a.p1); }
  if (TX > 2u && ox0 + 2u < p.outW) { store(pixel0 + 2u, q, a.p2); }
  if (TX > 3u && ox0 + 3u < p.outW) { store(pixel0 + 3u, q, a.p3); }
  if (TX > 4u && ox0 + 4u < p.outW) { store(pixel0 + 4u, q, a.p4); }
  if (TX > 5u && ox0 + 5u < p.outW) { store(pixel0 + 5u, q, a.p5); }
  if (TX > 6u && ox0 + 6u < p.outW) { store(pixel0 + 6u, q, a.p6); }
  if (TX > 7u && ox0 + 7u < p.outW) { store(pixel0 + 7u, q, a.p7); }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let tilesX = (p.outW + TX - 1u) / TX;
  if (i >= tilesX * p.batch * p.outH) { return; }
  let ox0 = (i % tilesX) * TX;
  let rowIndex = i / tilesX; // n * outH + oy
  let oy = rowIndex % p.outH;
  let n = rowIndex / p.outH;

  let b0 = bias[0];
  let b1 = bias[min(1u, OUT_Q - 1u)];
  let b2 = bias[min(2u, OUT_Q - 1u)];
  let b3 = bias[min(3u, OUT_Q - 1u)];
  var a0 = Row(b0, b0, b0, b0, b0, b0, b0, b0);
  var a1 = Row(b1, b1, b1, b1, b1, b1, b1, b1);
  var a2 = Row(b2, b2, b2, b2, b2, b2, b2, b2);
  var a3 = Row(b3, b3, b3, b3, b3, b3, b3, b3);

  let ix0 = i32(ox0) - i32(p.pad);
  let span = TX + K - 1u; // input columns the tile covers, ≤ 10
  for (var ky = 0u; ky < K; ky++) {
    let iy = i32(oy + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (n * p.inH + u32(iy)) * p.inW;
    for (var ci = 0u; ci < IN_Q; ci++) {
      // Input columns ix0 .. ix0 + 9: c.p0..p7, c8, c9 (0 past the tile's span).
      let zero = vec4<real>(0.0);
      var c = Row(zero, zero, zero, zero, zero, zero, zero, zero);
      var c8 = zero;
      var c9 = zero;
      c.p0 = column(row, ix0, ci);
      if (span > 1u) { c.p1 = column(row, ix0 + 1, ci); }
      if (span > 2u) { c.p2 = column(row, ix0 + 2, ci); }
      if (span > 3u) { c.p3 = column(row, ix0 + 3, ci); }
      if (span > 4u) { c.p4 = column(row, ix0 + 4, ci); }
      if (span > 5u) { c.p5 = column(row, ix0 + 5, ci); }
      if (span > 6u) { c.p6 = column(row, ix0 + 6, ci); }
      if (span > 7u) { c.p7 = column(row, ix0 + 7, ci); }
      if (span > 8u) { c8 = column(row, ix0 + 8, ci); }
      if (span > 9u) { c9 = column(row, ix0 + 9, ci); }
      a0 = addQuad(a0, c, c8, c9, ky, ci, 0u);
      if (OUT_Q > 1u) { a1 = addQuad(a1, c, c8, c9, ky, ci, 1u); }
      if (OUT_Q > 2u) { a2 = addQuad(a2, c, c8, c9, ky, ci, 2u); }
      if (OUT_Q > 3u) { a3 = addQuad(a3, c, c8, c9, ky, ci, 3u); }
    }
  }

  let pixel0 = rowIndex * p.outW + ox0;
  storeQuad(pixel0, ox0, 0u, a0);
  if (OUT_Q > 1u) { storeQuad(pixel0, ox0, 1u, a1); }
  if (OUT_Q > 2u) { storeQuad(pixel0, ox0, 2u, a2); }
  if (OUT_Q > 3u) { storeQuad(pixel0, ox0, 3u, a3); }
}
