// Roofline microkernel: peak f16 multiply-add throughput (shader-f16), the same shape as
// roofline_fma.wgsl with vec4<f16> chains. Tells whether f16 kernel variants can pay on an adapter.

enable f16;

struct Roof { m: vec4<f32>, c: vec4<f32> }

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Roof;

override WG: u32 = 64u;
override ITERS: u32 = 64u;
override MODE: u32 = 0u;

struct Chains {
  a0: vec4<f16>, a1: vec4<f16>, a2: vec4<f16>, a3: vec4<f16>,
  a4: vec4<f16>, a5: vec4<f16>, a6: vec4<f16>, a7: vec4<f16>,
}

fn step(a: vec4<f16>, m: vec4<f16>, c: vec4<f16>) -> vec4<f16> {
  if (MODE == 0u) { return fma(a, m, c); }
  return a * m + c;
}

fn steps(c: Chains, m: vec4<f16>, k: vec4<f16>) -> Chains {
  return Chains(
    step(c.a0, m, k), step(c.a1, m, k), step(c.a2, m, k), step(c.a3, m, k),
    step(c.a4, m, k), step(c.a5, m, k), step(c.a6, m, k), step(c.a7, m, k),
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let m = vec4<f16>(p.m);
  let k = vec4<f16>(p.c);
  let s = vec4<f16>(f16(i & 255u)) * 1e-3h;
  var c = Chains(s, s + 0.1h, s + 0.2h, s + 0.3h, s + 0.4h, s + 0.5h, s + 0.6h, s + 0.7h);
  for (var n = 0u; n < ITERS; n++) {
    c = steps(steps(steps(steps(c, m, k), m, k), m, k), m, k);
  }
  let sum = ((c.a0 + c.a1) + (c.a2 + c.a3)) + ((c.a4 + c.a5) + (c.a6 + c.a7));
  if (i < arrayLength(&out)) { out[i] = vec4<f32>(sum); }
}
