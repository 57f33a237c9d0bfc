// Gradient of a depthwise k×k convolution w.r.t. its weights, Σ_pixels x · dz per tap and channel,
// written in depthwise_conv2d's packing ([ky][kx][quad] vec4s). One invocation per (tap, quad) and
// chunk of output rows writes a partial sum (partial s at s · K·K·quads); sum_partials.wgsl adds
// them. Lanes past the channel count are masked (padding channels may be nonzero).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override K: u32 = 3u;
override STRIDE: u32 = 1u;
override ACCUM: bool = false;
override SPLIT_FASTEST: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let blocks = K * K * p.outQ;
  if (i >= blocks * p.splits) { return; }
  // SPLIT_FASTEST: neighbouring invocations reduce chunks of one block (equal loop bounds);
  // otherwise blocks vary fastest.
  var b = i % blocks;
  var split = i / blocks;
  if (SPLIT_FASTEST) {
    split = i % p.splits;
    b = i / p.splits;
  }
  let q = b % p.outQ;
  let tap = b / p.outQ;
  let ky = tap / K;
  let kx = tap % K;

  var lo = 0u;
  if (p.pad > kx) { lo = (p.pad - kx + STRIDE - 1u) / STRIDE; }
  var hi = 0u;
  if (p.inW + p.pad > kx) { hi = min(p.outW, (p.inW + p.pad - kx - 1u) / STRIDE + 1u); }

  var acc = vec4<f32>(0.0);
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
      acc += x[(xRow + ix) * p.xStride + p.xOffset + q] * dz[(r * p.outW + ox) * p.dzStride + p.dzOffset + q];
    }
  }
  let live = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u < vec4<u32>(p.cout);
  acc = select(vec4<f32>(0.0), acc, live);
  let out = split * blocks + b;
  if (ACCUM) { acc += dw[out]; }
  dw[out] = acc;
}
