// Pointwise (1×1, stride 1) convolution as a GEMM tiled through workgroup memory, the strategy
// real GPUs prefer: a workgroup of 64 computes 64 pixels × 8 output quads; per step it stages 4
// input quads of its 64 pixels and the matching 4×8 weight blocks in workgroup memory, then each
// invocation accumulates 4 pixels × 2 quads from there. Barriers make this slow on software
// adapters (use pointwise_reg there). Weights use conv2d's packing; same uniforms and epilogue.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1

// A fixed tile (not overrides), so the workgroup arrays below have constant sizes.
const WG = 64u;
const TILE_P = 64u; // pixels per workgroup
const TILE_Q = 8u; // output quads per workgroup
const KC = 4u; // input quads staged per step
const LANES_P = 16u; // invocations along pixels; each takes pixels lane + 16·r, r < 4
const PER_P = 4u;
const PER_Q = 2u; // quads per invocation: (lane / 16)·2 + j

// [kc][pixel]: in the inner loop neighbouring invocations read neighbouring vec4s (no bank
// conflicts); staging writes it transposed once per step.
var<workgroup> xs: array<vec4<f32>, 256>; // KC * TILE_P
var<workgroup> ws: array<vec4<f32>, 128>; // [kc][quad][4], KC * TILE_Q * 4

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let pixels = p.batch * p.outH * p.outW;
  let pixelTiles = (pixels + TILE_P - 1u) / TILE_P;
  let quadTiles = (p.outQ + TILE_Q - 1u) / TILE_Q;
  // Uniform per workgroup, so returning here keeps every barrier below in uniform control flow.
  let group = wid.x + wid.y * nwg.x;
  if (group >= pixelTiles * quadTiles) { return; }
  let pixel0 = (group % pixelTiles) * TILE_P;
  let quad0 = (group / pixelTiles) * TILE_Q;
  let lp = lid % LANES_P;
  let lq = (lid / LANES_P) * PER_Q;

  var acc: array<vec4<f32>, 8>; // PER_P * PER_Q, index r * PER_Q + j
  for (var j = 0u; j < PER_Q; j++) {
    let b = bias[min(quad0 + lq + j, p.outQ - 1u)];
    for (var r = 0u; r < PER_P; r++) { acc[r * PER_Q + j] = b; }
  }

  for (var c0 = 0u; c0 < p.inQ; c0 += KC) {
    // Stage: consecutive invocations read consecutive quads of one pixel; out of range is zero.
    for (var e = lid; e < TILE_P * KC; e += WG) {
      let pixel = pixel0 + e / KC;
      let c = c0 + e % KC;
      var v = vec4<f32>(0.0);
      if (pixel < pixels && c < p.inQ) { v = x[pixel * p.inStride + p.inOffset + c]; }
      xs[(e % KC) * TILE_P + e / KC] = v;
    }
    for (var e = lid; e < KC * TILE_Q * 4u; e += WG) {
      let c = c0 + e / (TILE_Q * 4u);
      let q = quad0 + (e / 4u) % TILE_Q;
      var w = vec4<f32>(0.0);
      if (c < p.inQ && q < p.outQ) { w = weight[(c * p.outQ + q) * 4u + e % 4u]; }
      ws[e] = w;
    }
    workgroupBarrier();
    for (var kc = 0u; kc < KC; kc++) {
      for (var j = 0u; j < PER_Q; j++) {
        let at = (kc * TILE_Q + lq + j) * 4u;
        let w0 = ws[at];
        let w1 = ws[at + 1u];
        let w2 = ws[at + 2u];
        let w3 = ws[at + 3u];
        for (var r = 0u; r < PER_P; r++) {
          let a = xs[kc * TILE_P + lp + r * LANES_P];
          acc[r * PER_Q + j] += w0 * a.x + w1 * a.y + w2 * a.z + w3 * a.w;
        }
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < PER_P; r++) {
    let pixel = pixel0 + lp + r * LANES_P;
    if (pixel >= pixels) { break; }
    for (var j = 0u; j < PER_Q; j++) {
      let q = quad0 + lq + j;
      if (q >= p.outQ) { break; }
      var out = activate(clamp(acc[r * PER_Q + j], vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
      if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
        out += res[pixel * p.resStride + p.resOffset + q];
      }
      y[pixel * p.outStride + p.outOffset + q] = out;
    }
  }
}
