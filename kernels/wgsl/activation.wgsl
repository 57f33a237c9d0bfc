// A standalone activation, out = act(x) (ACT override, see common.wgsl): what the graph IR emits
// before the planner folds it into the producing conv's epilogue, and the fallback where it can't.
// One invocation per pixel × quad.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: EltwiseParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  y[pixel * p.outStride + p.outOffset + q] = activate(x[pixel * p.aStride + p.aOffset + q], p.alpha);
}
