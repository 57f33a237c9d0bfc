// SSIM, pass 1 of 4: the horizontal half of the separable Gaussian window over the five moment
// images u, v, u², v², uv, where u = pred·std + mean and v = target·std + mean are [0, 1] pixels.
// One invocation per (image, row, valid column); writes 5 vec4s (lanes = channels).

@group(0) @binding(0) var<storage, read> pred: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> tgt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> window: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: LossParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.height * p.validW) { return; }
  let vc = i % p.validW;
  let row = i / p.validW; // n · height + y
  let sd = vec4<f32>(p.std0, p.std1, p.std2, p.std3);
  let mean = vec4<f32>(p.mean0, p.mean1, p.mean2, p.mean3);
  var mu = vec4<f32>(0.0);
  var mv = vec4<f32>(0.0);
  var uu = vec4<f32>(0.0);
  var vv = vec4<f32>(0.0);
  var uv = vec4<f32>(0.0);
  for (var j = 0u; j < p.win; j++) {
    let pixel = row * p.width + vc + j;
    let u = pred[pixel * p.predStride + p.predOffset] * sd + mean;
    let v = tgt[pixel * p.targetStride + p.targetOffset] * sd + mean;
    let w = window[j];
    mu += w * u;
    mv += w * v;
    uu += w * u * u;
    vv += w * v * v;
    uv += w * u * v;
  }
  let at = i * 5u;
  stats[at] = mu;
  stats[at + 1u] = mv;
  stats[at + 2u] = uu;
  stats[at + 3u] = vv;
  stats[at + 4u] = uv;
}
