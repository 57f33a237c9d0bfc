// Loss, first pass: per pixel, the L1 and edge (finite-difference gradient L1) terms and their
// gradient w.r.t. pred, which this pass writes (the SSIM passes then add theirs). d = pred − target;
// the edge loss compares neighbour differences of d to the right and below; the pixel owns those two
// differences' loss terms and takes −sign from its own and +sign from its left/upper neighbours'.
// Terms go to `terms` as (l1, edge, ssim = 0, 0) for loss_reduce.wgsl. One invocation per pixel
// (the output has ≤ 4 channels: one quad).

@group(0) @binding(0) var<storage, read> pred: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> tgt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> terms: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: LossParams;

override WG: u32 = 64u;

fn diff(pixel: u32) -> vec4<f32> {
  let live = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.channels);
  let v = pred[pixel * p.predStride + p.predOffset] - tgt[pixel * p.targetStride + p.targetOffset];
  return select(vec4<f32>(0.0), v, live);
}

fn l1(v: vec4<f32>) -> f32 {
  return dot(abs(v), vec4<f32>(1.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.batch * p.height * p.width) { return; }
  let x = pixel % p.width;
  let y = (pixel / p.width) % p.height;
  let d = diff(pixel);
  var g = p.gL1 * sign(d);
  var edge = 0.0;
  if (x + 1u < p.width) {
    let e = diff(pixel + 1u) - d;
    edge += l1(e);
    g -= p.gEdge * sign(e);
  }
  if (x > 0u) { g += p.gEdge * sign(d - diff(pixel - 1u)); }
  if (y + 1u < p.height) {
    let e = diff(pixel + p.width) - d;
    edge += l1(e);
    g -= p.gEdge * sign(e);
  }
  if (y > 0u) { g += p.gEdge * sign(d - diff(pixel - p.width)); }
  grad[pixel * p.gradStride + p.gradOffset] = g;
  terms[pixel] = vec4<f32>(l1(d), edge, 0.0, 0.0);
}
