// The student's output head: out = x + sigmoid(m) · deltaScale · tanh(d), where h holds the delta
// logits d (C channels) followed by the mask logit m (channel C). sigmoid(m) → 0 keeps the input
// exactly, so identity holds by construction. One invocation per pixel × output quad.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> h: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ResidualMaskParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  let hAt = pixel * p.hStride + p.hOffset;
  let m = h[hAt + p.channels / 4u][p.channels % 4u];
  let mask = 1.0 / (1.0 + exp(-m));
  // tanh of a clamped argument: some implementations overflow exp() inside tanh for large |d|.
  let d = tanh(clamp(h[hAt + q], vec4<f32>(-15.0), vec4<f32>(15.0)));
  let v = x[pixel * p.xStride + p.xOffset + q] + (mask * p.deltaScale) * d;
  // Lanes past C (the mask logit itself, or padding) are written as 0, not as a meaningless sum.
  let lane = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u;
  y[pixel * p.outStride + p.outOffset + q] = select(v, vec4<f32>(0.0), lane >= vec4<u32>(p.channels));
}
