// Loss totals without float atomics, in two stages. Stage 1 (FINAL false): invocation j sums loss
// terms [j·chunk, (j+1)·chunk) into partial j. Stage 2 (FINAL true, one invocation): sums the
// partials, turns the sums into means and the weighted total, and writes
// (l1, 1 − mean SSIM, edge, total) to history[slot], a ring the trainer reads back every N steps.

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: ReduceParams;

override WG: u32 = 64u;
override FINAL: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = linearIndex(gid, nwg, WG);
  if (!FINAL) {
    let first = j * p.chunk;
    if (first >= p.count) { return; }
    let last = min(first + p.chunk, p.count);
    var acc = vec4<f32>(0.0);
    for (var i = first; i < last; i++) { acc += src[i]; }
    dst[j] = acc;
    return;
  }
  if (j > 0u) { return; }
  var acc = vec4<f32>(0.0);
  for (var i = 0u; i < p.count; i++) { acc += src[i]; }
  let l1 = acc.x * p.invL1;
  let edge = acc.y * p.invEdge;
  let ssim = select(0.0, 1.0 - acc.z * p.invSsim, p.invSsim > 0.0);
  dst[p.slot] = vec4<f32>(l1, ssim, edge, p.wL1 * l1 + p.wSsim * ssim + p.wEdge * edge);
}
