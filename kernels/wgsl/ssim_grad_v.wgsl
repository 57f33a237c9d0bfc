// SSIM, pass 4 of 4: the transpose of the window's vertical half, which leaves per pixel
// A = Σ w·α, B = Σ w·β, C = Σ w·γ over the windows covering it; then
// ∂(1 − mean S)/∂pred = −(1/count)·std·(A + 2u·B + v·C), weighted and added into the gradient the
// first loss pass wrote. One invocation per pixel.

@group(0) @binding(0) var<storage, read> gh: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> pred: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> tgt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> window: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: LossParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.batch * p.height * p.width) { return; }
  let col = pixel % p.width;
  let row = (pixel / p.width) % p.height;
  let n = pixel / (p.width * p.height);
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  var c = vec4<f32>(0.0);
  let first = u32(max(i32(row) - i32(p.win) + 1, 0));
  let last = min(row, p.validH - 1u);
  for (var vr = first; vr <= last; vr++) {
    let w = window[row - vr];
    let at = ((n * p.validH + vr) * p.width + col) * 3u;
    a += w * gh[at];
    b += w * gh[at + 1u];
    c += w * gh[at + 2u];
  }
  let sd = vec4<f32>(p.std0, p.std1, p.std2, p.std3);
  let mean = vec4<f32>(p.mean0, p.mean1, p.mean2, p.mean3);
  let u = pred[pixel * p.predStride + p.predOffset] * sd + mean;
  let v = tgt[pixel * p.targetStride + p.targetOffset] * sd + mean;
  let live = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.channels);
  let g = select(vec4<f32>(0.0), p.gSsim * sd * (a + 2.0 * u * b + v * c), live);
  let at = pixel * p.gradStride + p.gradOffset;
  grad[at] = grad[at] + g;
}
