// Pointwise (1×1, stride 1) convolution as a register-tiled GEMM: one invocation computes TP
// pixels × TQ output quads (TP ≤ 8, TQ ≤ 2), with no workgroup memory or barriers, which is what
// software adapters (llvmpipe, SwiftShader) run fastest. Each input vec4 loaded is reused TQ times
// and each weight block TP times. Fused epilogue: bias, activation, then the residual add.
//
// The tile is spelled out as named variables, guarded by the TP/TQ overrides, rather than held in
// arrays indexed by loops: measured on llvmpipe, the array form stays in memory and runs at half
// the speed. Disabled rows fold away once the overrides are set.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
// conv2d's packing, 1×1 case: [inQ][outQ] blocks of 16 floats. Read as a mat4x4 whose column i
// holds input channel i's weights for the 4 outputs, so one block applied to a pixel is W * v.
@group(0) @binding(2) var<storage, read> weight: array<mat4x4<real>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override TP: u32 = 8u; // pixels per invocation, 1..8
override TQ: u32 = 2u; // output quads per invocation, 1..2
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1

/** Epilogue for one pixel × quad of the tile; tail pixels and quads are not stored. */
fn store(pixel: u32, pixels: u32, q: u32, acc: vec4<real>) {
  if (pixel >= pixels || q >= p.outQ) { return; }
  var out = activate(clamp(vec4<f32>(acc), vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    out += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let pixels = p.batch * p.outH * p.outW;
  let pixelTiles = (pixels + TP - 1u) / TP;
  let quadTiles = (p.outQ + TQ - 1u) / TQ;
  if (i >= pixelTiles * quadTiles) { return; }
  // Pixel tiles vary fastest: neighbouring invocations share their weights (one broadcast load on
  // SIMD-across-invocations CPUs, one cache line on GPUs).
  let pixel0 = (i % pixelTiles) * TP;
  let quad0 = (i / pixelTiles) * TQ;

  // Tails read the last valid pixel / quad; store() drops them.
  let last = pixels - 1u;
  let x0 = min(pixel0, last) * p.inStride + p.inOffset;
  let x1 = min(pixel0 + 1u, last) * p.inStride + p.inOffset;
  let x2 = min(pixel0 + 2u, last) * p.inStride + p.inOffset;
  let x3 = min(pixel0 + 3u, last) * p.inStride + p.inOffset;
  let x4 = min(pixel0 + 4u, last) * p.inStride + p.inOffset;
  let x5 = min(pixel0 + 5u, last) * p.inStride + p.inOffset;
  let x6 = min(pixel0 + 6u, last) * p.inStride + p.inOffset;
  let x7 = min(pixel0 + 7u, last) * p.inStride + p.inOffset;
  let q0 = min(quad0, p.outQ - 1u);
  let q1 = min(quad0 + 1u, p.outQ - 1u);

  // a<pixel><quad>
  let b0 = bias[q0];
  let b1 = bias[q1];
  var a00 = b0; var a10 = b0; var a20 = b0; var a30 = b0;
  var a40 = b0; var a50 = b0; var a60 = b0; var a70 = b0;
  var a01 = b1; var a11 = b1; var a21 = b1; var a31 = b1;
  var a41 = b1; var a51 = b1; var a61 = b1; var a71 = b1;

  for (var c = 0u; c < p.inQ; c++) {
    let w0 = weight[c * p.outQ + q0];
    var w1 = w0;
    if (TQ > 1u) { w1 = weight[c * p.outQ + q1]; }
    var v = vec4<real>(x[x0 + c]);
    a00 += w0 * v;
    a01 += w1 * v;
    if (TP > 1u) { v = vec4<real>(x[x1 + c]); a10 += w0 * v; a11 += w1 * v; }
    if (TP > 2u) { v = vec4<real>(x[x2 + c]); a20 += w0 * v; a21 += w1 * v; }
    if (TP > 3u) { v = vec4<real>(x[x3 + c]); a30 += w0 * v; a31 += w1 * v; }
    if (TP > 4u) { v = vec4<real>(x[x4 + c]); a40 += w0 * v; a41 += w1 * v; }
    if (TP > 5u) { v = vec4<real>(x[x5 + c]); a50 += w0 * v; a51 += w1 * v; }
    if (TP > 6u) { v = vec4<real>(x[x6 + c]); a60 += w0 * v; a61 += w1 * v; }
    if (TP > 7u) { v = vec4<real>(x[x7 + c]); a70 += w0 * v; a71 += w1 * v; }
  }

  store(pixel0, pixels, quad0, a00);
  if (TP > 1u) { store(pixel0 + 1u, pixels, quad0, a10); }
  if (TP > 2u) { store(pixel0 + 2u, pixels, quad0, a20); }
  if (TP > 3u) { store(pixel0 + 3u, pixels, quad0, a30); }
  if (TP > 4u) { store(pixel0 + 4u, pixels, quad0, a40); }
  if (TP > 5u) { store(pixel0 + 5u, pixels, quad0, a50); }
  if (TP > 6u) { store(pixel0 + 6u, pixels, quad0, a60); }
  if (TP > 7u) { store(pixel0 + 7u, pixels, quad0, a70); }
  if (TQ > 1u) {
    let q = quad0 + 1u;
    store(pixel0, pixels, q, a01);
    if (TP > 1u) { store(pixel0 + 1u, pixels, q, a11); }
    if (TP > 2u) { store(pixel0 + 2u, pixels, q, a21); }
    if (TP > 3u) { store(pixel0 + 3u, pixels, q, a31); }
    if (TP > 4u) { store(pixel0 + 4u, pixels, q, a41); }
    if (TP > 5u) { store(pixel0 + 5u, pixels, q, a51); }
    if (TP > 6u) { store(pixel0 + 6u, pixels, q, a61); }
    if (TP > 7u) { store(pixel0 + 7u, pixels, q, a71); }
  }
}
