// Roofline microkernel: memory bandwidth. Each invocation touches PER vec4s, either strided by the
// invocation count (LAYOUT 0: neighbouring invocations, neighbouring addresses, coalesced on GPUs)
// or contiguous (LAYOUT 1: long runs per invocation, what CPU adapters stream best). MODE 0 reads
// src and writes one sum per invocation (read bandwidth); MODE 1 copies src to dst (read + write,
// the traffic of an elementwise kernel). The roofline keeps the best of all shapes.

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

override WG: u32 = 64u;
override PER: u32 = 16u;
override MODE: u32 = 0u;
override LAYOUT: u32 = 0u;

fn at(i: u32, k: u32, n: u32) -> u32 {
  if (LAYOUT == 0u) { return k * n + i; }
  return i * PER + k;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let n = arrayLength(&src) / PER; // invocations
  if (i >= n) { return; }
  if (MODE == 0u) {
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < PER; k++) { acc += src[at(i, k, n)]; }
    dst[i] = acc;
  } else {
    for (var k = 0u; k < PER; k++) { dst[at(i, k, n)] = src[at(i, k, n)]; }
  }
}
