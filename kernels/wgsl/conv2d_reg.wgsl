// Dense k×k convolution, register-tiled: one invocation computes TX (≤ 8) neighbouring output
// pixels along x × TQ (≤ 2) output quads. Every weight block loaded serves TX pixels and every
// input vec4 TQ quads, which is what the Cin = 3 stem and the final 3×3 decoder conv need (few
// channels, many pixels). No workgroup memory, so software adapters run it well. Same weight
// packing, uniforms and epilogue as conv2d.wgsl.
//
// The tile is spelled out as named variables guarded by the TX/TQ overrides, not arrays indexed by
// loops: measured on llvmpipe, the array form stays in memory and runs at half the speed.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
// [ky][kx][inQ][outQ] blocks of 16 floats, read as a mat4x4 whose column i holds input channel
// i's weights for the 4 outputs: one block applied to an input vec4 is W * v.
@group(0) @binding(2) var<storage, read> weight: array<mat4x4<real>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override K: u32 = 3u;
override STRIDE: u32 = 1u;
override TX: u32 = 8u; // output pixels along x per invocation, 1..8
override TQ: u32 = 2u; // output quads per invocation, 1..2
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1

/** Where input column `ix` of a row starts; columns outside the image read a clamped address. */
fn columnAt(row: u32, ix: i32) -> u32 {
  return (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.inStride + p.inOffset;
}

fn inside(ix: i32) -> bool {
  return ix >= 0 && ix < i32(p.inW);
}

/** Input quad c of a column, or the zero padding when the column is outside the image. */
fn load(at: u32, valid: bool, c: u32) -> vec4<real> {
  return select(vec4<real>(0.0), vec4<real>(x[at + c]), valid);
}

/** Epilogue for one pixel × quad of the tile; tail pixels and quads are not stored. */
fn store(rowPixel: u32, ox: u32, q: u32, acc: vec4<real>) {
  if (ox >= p.outW || q >= p.outQ) { return; }
  let pixel = rowPixel + ox;
  var out = activate(clamp(vec4<f32>(acc), vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    out += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let tilesX = (p.outW + TX - 1u) / TX;
  let rows = p.batch * p.outH;
  let quadTiles = (p.outQ + TQ - 1u) / TQ;
  if (i >= tilesX * rows * quadTiles) { return; }
  // Pixel tiles vary fastest, so neighbouring invocations read the same weights.
  let ox0 = (i % tilesX) * TX;
  let rowIndex = (i / tilesX) % rows; // n * outH + oy
  let quad0 = (i / (tilesX * rows)) * TQ;
  let oy = rowIndex % p.outH;
  let n = rowIndex / p.outH;

  // Tail quads read the last valid quad's weights; store() drops them.
  let q0 = min(quad0, p.outQ - 1u);
  let q1 = min(quad0 + 1u, p.outQ - 1u);
  // a<pixel><quad>
  let b0 = bias[q0];
  let b1 = bias[q1];
  var a00 = b0; var a10 = b0; var a20 = b0; var a30 = b0;
  var a40 = b0; var a50 = b0; var a60 = b0; var a70 = b0;
  var a01 = b1; var a11 = b1; var a21 = b1; var a31 = b1;
  var a41 = b1; var a51 = b1; var a61 = b1; var a71 = b1;

  let dx = i32(STRIDE);
  for (var ky = 0u; ky < K; ky++) {
    let iy = i32(oy * STRIDE + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (n * p.inH + u32(iy)) * p.inW;
    for (var kx = 0u; kx < K; kx++) {
      // Input columns of the tile's pixels for this tap (tail pixels clamp and are dropped).
      let ix = i32(ox0 * STRIDE + kx) - i32(p.pad);
      let at0 = columnAt(row, ix);
      let at1 = columnAt(row, ix + dx);
      let at2 = columnAt(row, ix + 2 * dx);
      let at3 = columnAt(row, ix + 3 * dx);
      let at4 = columnAt(row, ix + 4 * dx);
      let at5 = columnAt(row, ix + 5 * dx);
      let at6 = columnAt(row, ix + 6 * dx);
      let at7 = columnAt(row, ix + 7 * dx);
      let in0 = inside(ix);
      let in1 = inside(ix + dx);
      let in2 = inside(ix + 2 * dx);
      let in3 = inside(ix + 3 * dx);
      let in4 = inside(ix + 4 * dx);
      let in5 = inside(ix + 5 * dx);
      let in6 = inside(ix + 6 * dx);
      let in7 = inside(ix + 7 * dx);
      let tap = (ky * K + kx) * p.inQ;
      for (var c = 0u; c < p.inQ; c++) {
        let wRow = (tap + c) * p.outQ;
        let w0 = weight[wRow + q0];
        var w1 = w0;
        if (TQ > 1u) { w1 = weight[wRow + q1]; }
        var v = load(at0, in0, c);
        a00 += w0 * v;
        a01 += w1 * v;
        if (TX > 1u) { v = load(at1, in1, c); a10 += w0 * v; a11 += w1 * v; }
        if (TX > 2u) { v = load(at2, in2, c); a20 += w0 * v; a21 += w1 * v; }
        if (TX > 3u) { v = load(at3, in3, c); a30 += w0 * v; a31 += w1 * v; }
        if (TX > 4u) { v = load(at4, in4, c); a40 += w0 * v; a41 += w1 * v; }
        if (TX > 5u) { v = load(at5, in5, c); a50 += w0 * v; a51 += w1 * v; }
        if (TX > 6u) { v = load(at6, in6, c); a60 += w0 * v; a61 += w1 * v; }
        if (TX > 7u) { v = load(at7, in7, c); a70 += w0 * v; a71 += w1 * v; }
      }
    }
  }

  let rowPixel = rowIndex * p.outW;
  store(rowPixel, ox0, quad0, a00);
  if (TX > 1u) { store(rowPixel, ox0 + 1u, quad0, a10); }
  if (TX > 2u) { store(rowPixel, ox0 + 2u, quad0, a20); }
  if (TX > 3u) { store(rowPixel, ox0 + 3u, quad0, a30); }
  if (TX > 4u) { store(rowPixel, ox0 + 4u, quad0, a40); }
  if (TX > 5u) { store(rowPixel, ox0 + 5u, quad0, a50); }
  if (TX > 6u) { store(rowPixel, ox0 + 6u, quad0, a60); }
  if (TX > 7u) { store(rowPixel, ox0 + 7u, quad0, a70); }
  if (TQ > 1u) {
    let q = quad0 + 1u;
    store(rowPixel, ox0, q, a01);
    if (TX > 1u) { store(rowPixel, ox0 + 1u, q, a11); }
    if (TX > 2u) { store(rowPixel, ox0 + 2u, q, a21); }
    if (TX > 3u) { store(rowPixel, ox0 + 3u, q, a31); }
    if (TX > 4u) { store(rowPixel, ox0 + 4u, q, a41); }
    if (TX > 5u) { store(rowPixel, ox0 + 5u, q, a51); }
    if (TX > 6u) { store(rowPixel, ox0 + 6u, q, a61); }
    if (TX > 7u) { store(rowPixel, ox0 + 7u, q, a71); }
  }
}
