// Roofline microkernel: peak f32 multiply-add throughput. Each invocation runs 8 independent vec4
// chains (enough to hide FMA latency on GPUs and on SIMD CPUs), ITERS steps each; the operands come
// from a uniform so no compiler can fold the loop. MODE 0 uses fma(), MODE 1 writes a * m + c
// (what our kernels write; a compiler may or may not contract it).
// FLOPs per invocation: ITERS · 8 chains · 4 lanes · 2.

struct Roof { m: vec4<f32>, c: vec4<f32> }

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Roof;

override WG: u32 = 64u;
override ITERS: u32 = 256u;
override MODE: u32 = 0u;

fn step(a: vec4<f32>) -> vec4<f32> {
  if (MODE == 0u) { return fma(a, p.m, p.c); }
  return a * p.m + p.c;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = vec4<f32>(f32(i & 255u)) * 1e-3;
  var a0 = s;
  var a1 = s + 0.1;
  var a2 = s + 0.2;
  var a3 = s + 0.3;
  var a4 = s + 0.4;
  var a5 = s + 0.5;
  var a6 = s + 0.6;
  var a7 = s + 0.7;
  for (var k = 0u; k < ITERS; k++) {
    a0 = step(a0);
    a1 = step(a1);
    a2 = step(a2);
    a3 = step(a3);
    a4 = step(a4);
    a5 = step(a5);
    a6 = step(a6);
    a7 = step(a7);
  }
  if (i < arrayLength(&out)) { out[i] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)); }
}
