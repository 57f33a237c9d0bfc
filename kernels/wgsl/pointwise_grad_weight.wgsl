// Weight gradient of a pointwise (1×1, stride 1) convolution, dW = Σ_pixels x ⊗ dz, register
// tiled: one invocation owns TI input quads × TO output quads (up to 2 × 4 packed 4×4 blocks) and
// a chunk of pixels, so each pixel's loads feed 16·TI·TO multiply-adds (software adapters gather
// every per-invocation load: the ratio is what sets the speed). The tile is spelled out as named
// variables guarded by the overrides, as in pointwise_reg.wgsl. Partial sums as in
// conv2d_grad_weight.wgsl (chunk s at s · inQ · outQ blocks; ACCUM with a single chunk).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<mat4x4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override TI: u32 = 2u; // input quads per invocation, 1..2
override TO: u32 = 2u; // output quads per invocation, 1..4
override ACCUM: bool = false;

fn outer(d: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(d * v.x, d * v.y, d * v.z, d * v.w);
}

fn store(at: u32, m: mat4x4<f32>) {
  var out = m;
  if (ACCUM) {
    let old = dw[at];
    out = mat4x4<f32>(out[0] + old[0], out[1] + old[1], out[2] + old[2], out[3] + old[3]);
  }
  dw[at] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let inTiles = (p.inQ + TI - 1u) / TI;
  let outTiles = (p.outQ + TO - 1u) / TO;
  let blocks = inTiles * outTiles;
  if (i >= blocks * p.splits) { return; }
  let b = i % blocks;
  let split = i / blocks;
  let q0 = (b / outTiles) * TI;
  let c0 = (b % outTiles) * TO;
  // Tails re-read the last quad; their blocks are not stored.
  let q1 = min(q0 + 1u, p.inQ - 1u);
  let c1 = min(c0 + 1u, p.outQ - 1u);
  let c2 = min(c0 + 2u, p.outQ - 1u);
  let c3 = min(c0 + 3u, p.outQ - 1u);
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);
  let live0 = lanes + q0 * 4u < vec4<u32>(p.cin);
  let live1 = lanes + q1 * 4u < vec4<u32>(p.cin);

  // a<input><output>
  var a00 = mat4x4<f32>(); var a01 = a00; var a02 = a00; var a03 = a00;
  var a10 = a00; var a11 = a00; var a12 = a00; var a13 = a00;
  let first = split * p.rowsPerSplit * p.outW;
  let last = min(first + p.rowsPerSplit * p.outW, p.batch * p.outH * p.outW);
  for (var pix = first; pix < last; pix++) {
    let xAt = pix * p.xStride + p.xOffset;
    let dAt = pix * p.dzStride + p.dzOffset;
    let v0 = select(vec4<f32>(0.0), x[xAt + q0], live0);
    var v1 = v0;
    if (TI > 1u) { v1 = select(vec4<f32>(0.0), x[xAt + q1], live1); }
    var d = dz[dAt + c0];
    a00 += outer(d, v0);
    if (TI > 1u) { a10 += outer(d, v1); }
    if (TO > 1u) {
      d = dz[dAt + c1];
      a01 += outer(d, v0);
      if (TI > 1u) { a11 += outer(d, v1); }
    }
    if (TO > 2u) {
      d = dz[dAt + c2];
      a02 += outer(d, v0);
      if (TI > 1u) { a12 += outer(d, v1); }
    }
    if (TO > 3u) {
      d = dz[dAt + c3];
      a03 += outer(d, v0);
      if (TI > 1u) { a13 += outer(d, v1); }
    }
  }
  let row0 = split * p.inQ * p.outQ + q0 * p.outQ + c0;
  store(row0, a00);
  if (TO > 1u && c0 + 1u < p.outQ) { store(row0 + 1u, a01); }
  if (TO > 2u && c0 + 2u < p.outQ) { store(row0 + 2u, a02); }
  if (TO > 3u && c0 + 3u < p.outQ) { store(row0 + 3u, a03); }
  if (TI > 1u && q0 + 1u < p.inQ) {
    let row1 = row0 + p.outQ;
    store(row1, a10);
    if (TO > 1u && c0 + 1u < p.outQ) { store(row1 + 1u, a11); }
    if (TO > 2u && c0 + 2u < p.outQ) { store(row1 + 2u, a12); }
    if (TO > 3u && c0 + 3u < p.outQ) { store(row1 + 3u, a13); }
  }
}
