// A gradient copy: out = dy[:, start : start + channels] (a concat's gradient split into its parts
// where they were not aliased as slices, or a residual's pass-through gradient). ALIGNED when start
// is a multiple of 4 (whole-quad copies), else lane by lane. Lanes past `channels` are written as
// 0; ACCUM adds into what the output already holds. One invocation per pixel × output quad.

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: EltGradParams;

override WG: u32 = 64u;
override ALIGNED: bool = false;
override ACCUM: bool = false;

fn lane(pixel: u32, c: u32) -> f32 {
  if (c >= p.channels) { return 0.0; }
  let s = p.start + c;
  return dy[pixel * p.dyStride + p.dyOffset + s / 4u][s % 4u];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  var v: vec4<f32>;
  if (ALIGNED) {
    let lanes = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u;
    v = select(vec4<f32>(0.0), dy[pixel * p.dyStride + p.dyOffset + p.start / 4u + q],
      lanes < vec4<u32>(p.channels));
  } else {
    let c = q * 4u;
    v = vec4<f32>(lane(pixel, c), lane(pixel, c + 1u), lane(pixel, c + 2u), lane(pixel, c + 3u));
  }
  let at = pixel * p.outStride + p.outOffset + q;
  if (ACCUM) { v += out[at]; }
  out[at] = v;
}
