// SSIM, pass 3 of 4: the transpose of the window's horizontal half applied to the coefficient maps
// (α, β, γ): each column gathers from the valid positions whose window covers it. One invocation
// per (image, valid row, column); writes 3 vec4s.

@group(0) @binding(0) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> window: array<f32>;
@group(0) @binding(2) var<storage, read_write> gh: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: LossParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.validH * p.width) { return; }
  let col = i % p.width;
  let vrow = i / p.width; // n · validH + vr
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  var c = vec4<f32>(0.0);
  // Positions vc with 0 ≤ col − vc < win and vc < validW.
  let first = u32(max(i32(col) - i32(p.win) + 1, 0));
  let last = min(col, p.validW - 1u);
  for (var vc = first; vc <= last; vc++) {
    let w = window[col - vc];
    let at = (vrow * p.validW + vc) * 3u;
    a += w * coef[at];
    b += w * coef[at + 1u];
    c += w * coef[at + 2u];
  }
  gh[i * 3u] = a;
  gh[i * 3u + 1u] = b;
  gh[i * 3u + 2u] = c;
}
