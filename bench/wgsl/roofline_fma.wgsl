// Roofline microkernel: peak f32 multiply-add throughput. Each invocation runs 8 independent vec4
// chains (enough to hide FMA latency on GPUs and on SIMD CPUs), 4 steps of each per loop iteration:
// llvmpipe's loop control costs about as much as 30 vec4 multiply-adds, and with one step per
// iteration it capped this kernel at 0.4× the peak measured with 8 (37 vs 85-97 GFLOP/s, 2 cores).
// The operands come from a uniform so no compiler can fold the loop. MODE 0 uses fma(), MODE 1
// writes a * m + c (what our kernels write; a compiler may or may not contract it).
// FLOPs per invocation: ITERS · 4 steps · 8 chains · 4 lanes · 2.

struct Roof { m: vec4<f32>, c: vec4<f32> }

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Roof;

override WG: u32 = 64u;
override ITERS: u32 = 64u;
override MODE: u32 = 0u;

struct Chains {
  a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
  a4: vec4<f32>, a5: vec4<f32>, a6: vec4<f32>, a7: vec4<f32>,
}

fn step(a: vec4<f32>) -> vec4<f32> {
  if (MODE == 0u) { return fma(a, p.m, p.c); }
  return a * p.m + p.c;
}

fn steps(c: Chains) -> Chains {
  return Chains(
    step(c.a0), step(c.a1), step(c.a2), step(c.a3),
    step(c.a4), step(c.a5), step(c.a6), step(c.a7),
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = vec4<f32>(f32(i & 255u)) * 1e-3;
  var c = Chains(s, s + 0.1, s + 0.2, s + 0.3, s + 0.4, s + 0.5, s + 0.6, s + 0.7);
  for (var k = 0u; k < ITERS; k++) {
    c = steps(steps(steps(steps(c))));
  }
  let sum = ((c.a0 + c.a1) + (c.a2 + c.a3)) + ((c.a4 + c.a5) + (c.a6 + c.a7));
  if (i < arrayLength(&out)) { out[i] = sum; }
}
