// SSIM, pass 2 of 4: the vertical half of the window at every valid position, then the SSIM index
// S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)) per channel, and the three
// coefficients its gradient needs: α = ∂S/∂μx − 2μx·∂S/∂σx² − μy·∂S/∂σxy, β = ∂S/∂σx²,
// γ = ∂S/∂σxy, so that ∂S/∂u_q = w(q − p)·(α + 2u_q·β + v_q·γ). ΣS over channels goes to lane z of
// the position's top-left pixel's loss term. One invocation per (image, valid row, valid column).

@group(0) @binding(0) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> window: array<f32>;
@group(0) @binding(2) var<storage, read_write> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> terms: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: LossParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.validH * p.validW) { return; }
  let vc = i % p.validW;
  let vr = (i / p.validW) % p.validH;
  let n = i / (p.validW * p.validH);
  var mx = vec4<f32>(0.0);
  var my = vec4<f32>(0.0);
  var xx = vec4<f32>(0.0);
  var yy = vec4<f32>(0.0);
  var xy = vec4<f32>(0.0);
  for (var k = 0u; k < p.win; k++) {
    let at = ((n * p.height + vr + k) * p.validW + vc) * 5u;
    let w = window[k];
    mx += w * stats[at];
    my += w * stats[at + 1u];
    xx += w * stats[at + 2u];
    yy += w * stats[at + 3u];
    xy += w * stats[at + 4u];
  }
  let sx = xx - mx * mx;
  let sy = yy - my * my;
  let sxy = xy - mx * my;
  let a1 = 2.0 * mx * my + p.c1;
  let a2 = 2.0 * sxy + p.c2;
  let b1 = mx * mx + my * my + p.c1;
  let b2 = sx + sy + p.c2;
  let s = (a1 * a2) / (b1 * b2);
  let dMx = (2.0 * my * a2 - 2.0 * mx * s * b2) / (b1 * b2);
  let dSx = -s / b2;
  let dSxy = 2.0 * a1 / (b1 * b2);
  let live = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.channels);
  let zero = vec4<f32>(0.0);
  coef[i * 3u] = select(zero, dMx - 2.0 * mx * dSx - my * dSxy, live);
  coef[i * 3u + 1u] = select(zero, dSx, live);
  coef[i * 3u + 2u] = select(zero, dSxy, live);
  let t = (n * p.height + vr) * p.width + vc;
  terms[t].z = dot(select(zero, s, live), vec4<f32>(1.0));
}
