// Pointwise (1×1, stride 1) convolution as a register-tiled GEMM with its weights in a uniform
// buffer: one invocation computes TP pixels × TQ output quads (TP ≤ 8, TQ ≤ 4). llvmpipe gathers
// a uniform read without the per-lane branches and bounds checks of a storage read, so this kernel
// affords 4 quads per invocation, each input vec4 (a gathered load) feeding 4 blocks. Measured on
// llvmpipe on the student's expands at 128²: 0.78-0.83× the time of pointwise_reg's best tile
// (conv2d_baked.wgsl, where it applies, does better still). Weights must fit
// UNIFORM_WEIGHT_BYTES (inQ · outQ ≤ 1024 blocks). Otherwise as pointwise_reg.wgsl: conv2d's
// packing, fused epilogue, tiles as named variables guarded by the overrides, arithmetic in `real`.
//
// UP > 0 (pointwise_add_upsampled): before the activation, each output also adds `res` upsampled
// 2× (res is the output's size halved: the decoder's upsampled part, already multiplied by its
// weights at low resolution). A tile is then one row segment (outW % TP == 0): its TP pixels read
// TP/2 + 2 low-res columns of two rows, instead of four taps each (upsample_rows.wgsl).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> weight: array<mat4x4<real>, 1024>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override TP: u32 = 8u; // pixels per invocation, 1..8
override TQ: u32 = 4u; // output quads per invocation, 1..4
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1
override UP: u32 = 0u; // 0 none; add res upsampled 2×: 1 nearest, 2 bilinear (align_corners=False)

/**
 * The tile plus quad q of `res` upsampled under it: pixel 2m blends low-res columns m-1 and m,
 * pixel 2m+1 columns m and m+1.
 */
fn addUpsampled(t: Row, r: UpRows, quad: u32) -> Row {
  let q = min(quad, p.outQ - 1u);
  let e = real(upEven(UP == 2u));
  let o = real(upOdd(UP == 2u));
  let cm = upColumn(r, -1, q);
  let c0 = upColumn(r, 0, q);
  let c1 = upColumn(r, 1, q);
  var out = t;
  out.p0 += mix(cm, c0, e);
  if (TP > 1u) { out.p1 += mix(c0, c1, o); }
  if (TP > 2u) {
    let c2 = upColumn(r, 2, q);
    out.p2 += mix(c0, c1, e);
    out.p3 += mix(c1, c2, o);
    if (TP > 4u) {
      let c3 = upColumn(r, 3, q);
      let c4 = upColumn(r, 4, q);
      out.p4 += mix(c1, c2, e);
      out.p5 += mix(c2, c3, o);
      out.p6 += mix(c2, c3, e);
      out.p7 += mix(c3, c4, o);
    }
  }
  return out;
}

/** Epilogue for one pixel × quad of the tile; tail pixels and quads are not stored. */
fn store(pixel: u32, pixels: u32, q: u32, acc: vec4<real>) {
  if (pixel >= pixels || q >= p.outQ) { return; }
  var out = activate(clamp(vec4<f32>(acc), vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    out += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

/** Output quad q of the tile from pixel0, with the upsampled `res` added first where UP > 0. */
fn storeRow(pixel0: u32, pixels: u32, q: u32, tile: Row, up: UpRows) {
  var t = tile;
  if (UP > 0u) { t = addUpsampled(t, up, q); }
  store(pixel0, pixels, q, t.p0);
  if (TP > 1u) { store(pixel0 + 1u, pixels, q, t.p1); }
  if (TP > 2u) { store(pixel0 + 2u, pixels, q, t.p2); }
  if (TP > 3u) { store(pixel0 + 3u, pixels, q, t.p3); }
  if (TP > 4u) { store(pixel0 + 4u, pixels, q, t.p4); }
  if (TP > 5u) { store(pixel0 + 5u, pixels, q, t.p5); }
  if (TP > 6u) { store(pixel0 + 6u, pixels, q, t.p6); }
  if (TP > 7u) { store(pixel0 + 7u, pixels, q, t.p7); }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let pixels = p.batch * p.outH * p.outW;
  let pixelTiles = (pixels + TP - 1u) / TP;
  let quadTiles = (p.outQ + TQ - 1u) / TQ;
  if (i >= pixelTiles * quadTiles) { return; }
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
  let q2 = min(quad0 + 2u, p.outQ - 1u);
  let q3 = min(quad0 + 3u, p.outQ - 1u);

  // a<pixel><quad>
  let b0 = bias[q0];
  let b1 = bias[q1];
  let b2 = bias[q2];
  let b3 = bias[q3];
  var a00 = b0; var a10 = b0; var a20 = b0; var a30 = b0;
  var a40 = b0; var a50 = b0; var a60 = b0; var a70 = b0;
  var a01 = b1; var a11 = b1; var a21 = b1; var a31 = b1;
  var a41 = b1; var a51 = b1; var a61 = b1; var a71 = b1;
  var a02 = b2; var a12 = b2; var a22 = b2; var a32 = b2;
  var a42 = b2; var a52 = b2; var a62 = b2; var a72 = b2;
  var a03 = b3; var a13 = b3; var a23 = b3; var a33 = b3;
  var a43 = b3; var a53 = b3; var a63 = b3; var a73 = b3;

  for (var c = 0u; c < p.inQ; c++) {
    let row = c * p.outQ;
    let w0 = weight[row + q0];
    let w1 = weight[row + q1];
    let w2 = weight[row + q2];
    let w3 = weight[row + q3];
    var v = vec4<real>(x[x0 + c]);
    a00 += w0 * v; if (TQ > 1u) { a01 += w1 * v; } if (TQ > 2u) { a02 += w2 * v; } if (TQ > 3u) { a03 += w3 * v; }
    if (TP > 1u) {
      v = vec4<real>(x[x1 + c]);
      a10 += w0 * v; if (TQ > 1u) { a11 += w1 * v; } if (TQ > 2u) { a12 += w2 * v; } if (TQ > 3u) { a13 += w3 * v; }
    }
    if (TP > 2u) {
      v = vec4<real>(x[x2 + c]);
      a20 += w0 * v; if (TQ > 1u) { a21 += w1 * v; } if (TQ > 2u) { a22 += w2 * v; } if (TQ > 3u) { a23 += w3 * v; }
    }
    if (TP > 3u) {
      v = vec4<real>(x[x3 + c]);
      a30 += w0 * v; if (TQ > 1u) { a31 += w1 * v; } if (TQ > 2u) { a32 += w2 * v; } if (TQ > 3u) { a33 += w3 * v; }
    }
    if (TP > 4u) {
      v = vec4<real>(x[x4 + c]);
      a40 += w0 * v; if (TQ > 1u) { a41 += w1 * v; } if (TQ > 2u) { a42 += w2 * v; } if (TQ > 3u) { a43 += w3 * v; }
    }
    if (TP > 5u) {
      v = vec4<real>(x[x5 + c]);
      a50 += w0 * v; if (TQ > 1u) { a51 += w1 * v; } if (TQ > 2u) { a52 += w2 * v; } if (TQ > 3u) { a53 += w3 * v; }
    }
    if (TP > 6u) {
      v = vec4<real>(x[x6 + c]);
      a60 += w0 * v; if (TQ > 1u) { a61 += w1 * v; } if (TQ > 2u) { a62 += w2 * v; } if (TQ > 3u) { a63 += w3 * v; }
    }
    if (TP > 7u) {
      v = vec4<real>(x[x7 + c]);
      a70 += w0 * v; if (TQ > 1u) { a71 += w1 * v; } if (TQ > 2u) { a72 += w2 * v; } if (TQ > 3u) { a73 += w3 * v; }
    }
  }

  var up = UpRows(0u, 0u, 0.0, 0u);
  if (UP > 0u) { up = upRows(pixel0); }
  storeRow(pixel0, pixels, quad0, Row(a00, a10, a20, a30, a40, a50, a60, a70), up);
  if (TQ > 1u) {
    storeRow(pixel0, pixels, quad0 + 1u, Row(a01, a11, a21, a31, a41, a51, a61, a71), up);
  }
  if (TQ > 2u) {
    storeRow(pixel0, pixels, quad0 + 2u, Row(a02, a12, a22, a32, a42, a52, a62, a72), up);
  }
  if (TQ > 3u) {
    storeRow(pixel0, pixels, quad0 + 3u, Row(a03, a13, a23, a33, a43, a53, a63, a73), up);
  }
}
