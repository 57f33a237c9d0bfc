// Adam / AdamW over a flat parameter buffer (every packed weight and bias of the network, one
// dispatch): m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², p ← p − stepSize·m / (√v·invSqrtBc2 + ε)
// with stepSize = lr / (1 − β1ᵗ) and invSqrtBc2 = 1/√(1 − β2ᵗ), PyTorch's formulation. Weight decay
// applies to the first decayCount vec4s (weights, not biases): decoupled (AdamW: p ← p·(1 − lr·wd))
// or as L2 (Adam: g ← g + wd·p). Padding lanes have g = p = m = v = 0 and so stay 0.

@group(0) @binding(0) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m1: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m2: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: AdamParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.count) { return; }
  var g = grad[i] * p.gradScale;
  var w = param[i];
  if (i < p.decayCount) {
    if (p.decoupled != 0u) { w = w * (1.0 - p.lr * p.weightDecay); } else { g = g + p.weightDecay * w; }
  }
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  param[i] = w - p.stepSize * m / (sqrt(v) * p.invSqrtBc2 + p.eps);
}
