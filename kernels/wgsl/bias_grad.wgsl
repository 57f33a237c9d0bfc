// Gradient of a convolution's bias: Σ dz over batch × pixels, per output quad. One invocation per
// quad and chunk of output rows writes a partial sum (partial s at s · outQ); sum_partials.wgsl
// adds them (no float atomics in WGSL). With one split ACCUM adds into the gradient directly.

@group(0) @binding(0) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> db: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override ACCUM: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.outQ * p.splits) { return; }
  let q = i % p.outQ;
  let split = i / p.outQ;
  let r0 = split * p.rowsPerSplit;
  let r1 = min(r0 + p.rowsPerSplit, p.batch * p.outH);
  var acc = vec4<f32>(0.0);
  for (var at = r0 * p.outW; at < r1 * p.outW; at++) {
    acc += dz[at * p.dzStride + p.dzOffset + q];
  }
  let live = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u < vec4<u32>(p.cout);
  acc = select(vec4<f32>(0.0), acc, live);
  let out = split * p.outQ + q;
  if (ACCUM) { acc += db[out]; }
  db[out] = acc;
}
