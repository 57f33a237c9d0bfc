// Elementwise sum of two same-shaped tensors with an optional fused activation: out = act(a + b).
// The graph IR emits it un-fused; the planner folds most adds into the projecting conv's residual.
// One invocation per pixel × quad; padding lanes map like any other (they hold finite values).

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: EltwiseParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  let v = a[pixel * p.aStride + p.aOffset + q] + b[pixel * p.bStride + p.bOffset + q];
  y[pixel * p.outStride + p.outOffset + q] = activate(v, p.alpha);
}
