// Second pass of the gradient reductions: out[i] = Σ_s partial[s · len + i] over the chunks the
// first pass wrote (conv2d_grad_weight, depthwise_grad_weight, bias_grad). One invocation per
// vec4; ACCUM adds into what the gradient already holds.

@group(0) @binding(0) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: SumParams;

override WG: u32 = 64u;
override ACCUM: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.len) { return; }
  var acc = vec4<f32>(0.0);
  for (var s = 0u; s < p.splits; s++) { acc += partial[s * p.len + i]; }
  if (ACCUM) { acc += out[i]; }
  out[i] = acc;
}
