// Gradient of a dense k×k convolution w.r.t. its weights, dW = Σ_pixels x ⊗ dz, written straight
// into conv2d's packed layout. WGSL has no float atomics, so each invocation owns one packed 4×4
// block (tap, input quad, TO output quads) and one chunk of output rows, and writes a partial sum:
// partial s lives at s · blocks. With one split that is the gradient itself (ACCUM then adds into
// it); otherwise sum_partials.wgsl adds the chunks. Input lanes past cin are masked: padding
// channels may hold nonzero values (a sigmoid of 0), their weights must stay zero.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<mat4x4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override K: u32 = 3u;
override STRIDE: u32 = 1u;
override TO: u32 = 2u; // output quads per invocation, 1..2
override ACCUM: bool = false;
override SPLIT_FASTEST: bool = false;

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
  let outTiles = (p.outQ + TO - 1u) / TO;
  let blocks = K * K * p.inQ * outTiles;
  if (i >= blocks * p.splits) { return; }
  // SPLIT_FASTEST: neighbouring invocations reduce chunks of one block (equal loop bounds);
  // otherwise blocks vary fastest.
  var b = i % blocks;
  var split = i / blocks;
  if (SPLIT_FASTEST) {
    split = i % p.splits;
    b = i / p.splits;
  }
  let c0 = (b % outTiles) * TO;
  let c1 = min(c0 + 1u, p.outQ - 1u);
  let rest = b / outTiles;
  let q = rest % p.inQ;
  let tap = rest / p.inQ;
  let ky = tap / K;
  let kx = tap % K;

  // Output columns whose tap kx lands inside the input: 0 ≤ ox·STRIDE + kx − pad < inW.
  var lo = 0u;
  if (p.pad > kx) { lo = (p.pad - kx + STRIDE - 1u) / STRIDE; }
  var hi = 0u;
  if (p.inW + p.pad > kx) { hi = min(p.outW, (p.inW + p.pad - kx - 1u) / STRIDE + 1u); }
  let live = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u < vec4<u32>(p.cin);

  var acc0 = mat4x4<f32>();
  var acc1 = mat4x4<f32>();
  let r0 = split * p.rowsPerSplit;
  let r1 = min(r0 + p.rowsPerSplit, p.batch * p.outH);
  for (var r = r0; r < r1; r++) {
    let n = r / p.outH;
    let oy = r % p.outH;
    let iy = i32(oy * STRIDE + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let xRow = (n * p.inH + u32(iy)) * p.inW;
    for (var ox = lo; ox < hi; ox++) {
      let ix = ox * STRIDE + kx - p.pad;
      let v = select(vec4<f32>(0.0), x[(xRow + ix) * p.xStride + p.xOffset + q], live);
      let dzAt = (r * p.outW + ox) * p.dzStride + p.dzOffset;
      acc0 += outer(dz[dzAt + c0], v);
      if (TO > 1u) { acc1 += outer(dz[dzAt + c1], v); }
    }
  }
  let base = split * K * K * p.inQ * p.outQ + (tap * p.inQ + q) * p.outQ;
  store(base + c0, acc0);
  if (TO > 1u && c0 + 1u < p.outQ) { store(base + c0 + 1u, acc1); }
}
