// Gradient of a pointwise (1×1, stride 1) convolution w.r.t. its input, dx = dz · Wᵀ, as a
// register-tiled GEMM like pointwise_reg.wgsl: TP pixels × TQ input quads per invocation, no
// workgroup memory or barriers (what software adapters run fastest). Reads conv2d's forward
// packing as-is: block (inQ q, outQ c) as a mat4x4 whose column i holds input i's 4 weights, so
// dz_c · block is input quad q's share. ACCUM adds into what dx already holds.

@group(0) @binding(0) var<storage, read> dz: array<vec4<f32>>;
// EPILOGUE: the forward input, itself the output of an activation: dx is multiplied by that
// activation's derivative (ACT, from its output), so the previous layer's act' needs no pass.
@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<mat4x4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override TP: u32 = 8u; // pixels per invocation, 1..8
override TQ: u32 = 2u; // input quads per invocation, 1..2
override ACCUM: bool = false;
override EPILOGUE: bool = false;

fn store(pixel: u32, pixels: u32, q: u32, v: vec4<f32>) {
  if (pixel >= pixels || q >= p.inQ) { return; }
  let at = pixel * p.xStride + p.xOffset + q;
  // Quads from dxQ on are not needed (e.g. a concatenated image's channels): written as 0.
  var out = select(vec4<f32>(0.0), v, q < p.dxQ);
  if (EPILOGUE) {
    out *= activateGradFromOutput(act[pixel * p.actStride + p.actOffset + q], p.alpha);
  }
  if (ACCUM) { out += dx[at]; }
  dx[at] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let pixels = p.batch * p.inH * p.inW;
  let pixelTiles = (pixels + TP - 1u) / TP;
  let quadTiles = (p.inQ + TQ - 1u) / TQ;
  if (i >= pixelTiles * quadTiles) { return; }
  let pixel0 = (i % pixelTiles) * TP;
  let quad0 = (i / pixelTiles) * TQ;

  // Tails read the last valid pixel / quad; store() drops them.
  let last = pixels - 1u;
  let d0 = min(pixel0, last) * p.dzStride + p.dzOffset;
  let d1 = min(pixel0 + 1u, last) * p.dzStride + p.dzOffset;
  let d2 = min(pixel0 + 2u, last) * p.dzStride + p.dzOffset;
  let d3 = min(pixel0 + 3u, last) * p.dzStride + p.dzOffset;
  let d4 = min(pixel0 + 4u, last) * p.dzStride + p.dzOffset;
  let d5 = min(pixel0 + 5u, last) * p.dzStride + p.dzOffset;
  let d6 = min(pixel0 + 6u, last) * p.dzStride + p.dzOffset;
  let d7 = min(pixel0 + 7u, last) * p.dzStride + p.dzOffset;
  let q0 = min(quad0, p.inQ - 1u);
  let q1 = min(quad0 + 1u, p.inQ - 1u);

  // a<pixel><quad>
  var a00 = vec4<f32>(0.0); var a10 = a00; var a20 = a00; var a30 = a00;
  var a40 = a00; var a50 = a00; var a60 = a00; var a70 = a00;
  var a01 = a00; var a11 = a00; var a21 = a00; var a31 = a00;
  var a41 = a00; var a51 = a00; var a61 = a00; var a71 = a00;

  for (var c = 0u; c < p.outQ; c++) {
    let w0 = weight[q0 * p.outQ + c];
    var w1 = w0;
    if (TQ > 1u) { w1 = weight[q1 * p.outQ + c]; }
    var v = dz[d0 + c];
    a00 += v * w0;
    a01 += v * w1;
    if (TP > 1u) { v = dz[d1 + c]; a10 += v * w0; a11 += v * w1; }
    if (TP > 2u) { v = dz[d2 + c]; a20 += v * w0; a21 += v * w1; }
    if (TP > 3u) { v = dz[d3 + c]; a30 += v * w0; a31 += v * w1; }
    if (TP > 4u) { v = dz[d4 + c]; a40 += v * w0; a41 += v * w1; }
    if (TP > 5u) { v = dz[d5 + c]; a50 += v * w0; a51 += v * w1; }
    if (TP > 6u) { v = dz[d6 + c]; a60 += v * w0; a61 += v * w1; }
    if (TP > 7u) { v = dz[d7 + c]; a70 += v * w0; a71 += v * w1; }
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
