// Channel concatenation of two tensors, a copy: out = [a, b] along C. The planner usually makes it
// disappear by writing producers into channel slices; this kernel covers what it cannot (e.g. a
// first part whose channel count is not a multiple of 4, so b's channels straddle quads).
// One invocation per output pixel × quad.

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ConcatParams;

override WG: u32 = 64u;
// True when a's channel count is a multiple of 4: every output quad is one whole input quad.
override ALIGNED: bool = false;

// One channel of the concatenation, or 0 in the output's padding.
fn channel(pixel: u32, c: u32) -> f32 {
  if (c < p.aC) {
    return a[pixel * p.aStride + p.aOffset + c / 4u][c % 4u];
  }
  let cb = c - p.aC;
  if (cb < p.bC) {
    return b[pixel * p.bStride + p.bOffset + cb / 4u][cb % 4u];
  }
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.outQ) { return; }
  let q = i % p.outQ;
  let pixel = i / p.outQ;

  var v: vec4<f32>;
  if (ALIGNED) {
    let aQ = p.aC / 4u;
    if (q < aQ) {
      v = a[pixel * p.aStride + p.aOffset + q];
    } else {
      v = b[pixel * p.bStride + p.bOffset + q - aQ];
    }
  } else {
    let c = q * 4u;
    v = vec4<f32>(channel(pixel, c), channel(pixel, c + 1u), channel(pixel, c + 2u),
      channel(pixel, c + 3u));
  }
  y[pixel * p.outStride + p.outOffset + q] = v;
}
