// Depthwise 3×3 convolution, register-blocked: one invocation computes TX neighbouring output
// pixels along x × 4 channels (TX ≤ 8 at stride 1, ≤ 4 at stride 2: at most 10 input columns).
// Each input row segment is loaded once and shared by the windows that overlap on it
// ((TX-1)·STRIDE + 3 loads per row instead of 3·TX), and each row of taps once per invocation.
// No workgroup memory, so software adapters run it well. Same packing, uniforms and epilogue as
// depthwise.wgsl.
//
// The block is spelled out as named variables guarded by the TX/STRIDE overrides, not arrays
// indexed by loops: measured on llvmpipe, the array form stays in memory and runs 2.5× slower.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override STRIDE: u32 = 1u; // 1 or 2
override TX: u32 = 8u; // output pixels per invocation: 1..8 at stride 1, 1..4 at stride 2
override HAS_RESIDUAL: bool = false;

/** Input column `ix` of one row, channel quad q; columns outside the image are the zero padding. */
fn column(row: u32, ix: i32, q: u32) -> vec4<f32> {
  let inside = ix >= 0 && ix < i32(p.inW);
  let at = (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.inStride + p.inOffset + q;
  return select(vec4<f32>(0.0), x[at], inside);
}

fn store(pixel: u32, q: u32, acc: vec4<f32>) {
  var out = activate(clamp(acc, vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (HAS_RESIDUAL) { out += res[pixel * p.resStride + p.resOffset + q]; }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let tilesX = (p.outW + TX - 1u) / TX;
  if (i >= p.batch * p.outH * tilesX * p.outQ) { return; }
  // Channel quads vary fastest: neighbouring invocations read neighbouring vec4s.
  let q = i % p.outQ;
  let tile = i / p.outQ;
  let ox0 = (tile % tilesX) * TX;
  let rowIndex = tile / tilesX; // n * outH + oy
  let oy = rowIndex % p.outH;
  let n = rowIndex / p.outH;

  let b = bias[q];
  var a0 = b;
  var a1 = b;
  var a2 = b;
  var a3 = b;
  var a4 = b;
  var a5 = b;
  var a6 = b;
  var a7 = b;
  let ix0 = i32(ox0 * STRIDE) - i32(p.pad);
  let span = (TX - 1u) * STRIDE + 3u; // input columns the block covers, ≤ 10
  for (var ky = 0u; ky < 3u; ky++) {
    let iy = i32(oy * STRIDE + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (n * p.inH + u32(iy)) * p.inW;
    let w0 = weight[(ky * 3u) * p.outQ + q];
    let w1 = weight[(ky * 3u + 1u) * p.outQ + q];
    let w2 = weight[(ky * 3u + 2u) * p.outQ + q];
    let c0 = column(row, ix0, q);
    let c1 = column(row, ix0 + 1, q);
    let c2 = column(row, ix0 + 2, q);
    var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0);
    var c5 = vec4<f32>(0.0);
    var c6 = vec4<f32>(0.0);
    var c7 = vec4<f32>(0.0);
    var c8 = vec4<f32>(0.0);
    var c9 = vec4<f32>(0.0);
    if (span > 3u) { c3 = column(row, ix0 + 3, q); }
    if (span > 4u) { c4 = column(row, ix0 + 4, q); }
    if (span > 5u) { c5 = column(row, ix0 + 5, q); }
    if (span > 6u) { c6 = column(row, ix0 + 6, q); }
    if (span > 7u) { c7 = column(row, ix0 + 7, q); }
    if (span > 8u) { c8 = column(row, ix0 + 8, q); }
    if (span > 9u) { c9 = column(row, ix0 + 9, q); }
    a0 += c0 * w0 + c1 * w1 + c2 * w2;
    if (STRIDE == 1u) {
      if (TX > 1u) { a1 += c1 * w0 + c2 * w1 + c3 * w2; }
      if (TX > 2u) { a2 += c2 * w0 + c3 * w1 + c4 * w2; }
      if (TX > 3u) { a3 += c3 * w0 + c4 * w1 + c5 * w2; }
      if (TX > 4u) { a4 += c4 * w0 + c5 * w1 + c6 * w2; }
      if (TX > 5u) { a5 += c5 * w0 + c6 * w1 + c7 * w2; }
      if (TX > 6u) { a6 += c6 * w0 + c7 * w1 + c8 * w2; }
      if (TX > 7u) { a7 += c7 * w0 + c8 * w1 + c9 * w2; }
    } else {
      if (TX > 1u) { a1 += c2 * w0 + c3 * w1 + c4 * w2; }
      if (TX > 2u) { a2 += c4 * w0 + c5 * w1 + c6 * w2; }
      if (TX > 3u) { a3 += c6 * w0 + c7 * w1 + c8 * w2; }
    }
  }

  let pixel0 = rowIndex * p.outW + ox0;
  store(pixel0, q, a0);
  if (TX > 1u && ox0 + 1u < p.outW) { store(pixel0 + 1u, q, a1); }
  if (TX > 2u && ox0 + 2u < p.outW) { store(pixel0 + 2u, q, a2); }
  if (TX > 3u && ox0 + 3u < p.outW) { store(pixel0 + 3u, q, a3); }
  if (TX > 4u && ox0 + 4u < p.outW) { store(pixel0 + 4u, q, a4); }
  if (TX > 5u && ox0 + 5u < p.outW) { store(pixel0 + 5u, q, a5); }
  if (TX > 6u && ox0 + 6u < p.outW) { store(pixel0 + 6u, q, a6); }
  if (TX > 7u && ox0 + 7u < p.outW) { store(pixel0 + 7u, q, a7); }
}
