// Roofline microkernel: peak f16 multiply-add throughput (shader-f16), the same shape as
// roofline_fma.wgsl with vec4<f16> chains. Tells whether f16 kernel variants can pay on an adapter.

enable f16;

struct Roof { m: vec4<f32>, c: vec4<f32> }

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Roof;

override WG: u32 = 64u;
override ITERS: u32 = 256u;
override MODE: u32 = 0u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let m = vec4<f16>(p.m);
  let c = vec4<f16>(p.c);
  let s = vec4<f16>(f16(i & 255u)) * 1e-3h;
  var a0 = s;
  var a1 = s + 0.1h;
  var a2 = s + 0.2h;
  var a3 = s + 0.3h;
  var a4 = s + 0.4h;
  var a5 = s + 0.5h;
  var a6 = s + 0.6h;
  var a7 = s + 0.7h;
  for (var k = 0u; k < ITERS; k++) {
    if (MODE == 0u) {
      a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
      a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    } else {
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
  }
  let sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  if (i < arrayLength(&out)) { out[i] = vec4<f32>(sum); }
}
