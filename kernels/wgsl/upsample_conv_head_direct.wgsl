// The fast start's kernel for upsample_conv2d_residual_mask: one invocation per output pixel,
// which loads the 3×3 low-res neighbourhood of each quad of h once and blends its 3×3 upsampled
// taps from it (along x, then y), with the plain weights (the blocks after
// upsample_conv_head.wgsl's composed ones) and a run-time loop over quads. Quick to compile, where
// the register-tiled kernel takes seconds on SwiftShader; 16 ms at 256² on llvmpipe (up_8: 4.7).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; // h, at half the output size
@group(0) @binding(1) var<storage, read> skip: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> res: array<vec4<f32>>; // the image
@group(0) @binding(3) var<uniform> weight: array<mat4x4<f32>, 1024>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: UpsampleConvParams;

override WG: u32 = 64u;
override MODE: u32 = 1u; // 0 nearest, 1 bilinear (align_corners=False)
override MASK_LANE: u32 = 3u;

/** A pixel's three taps along one axis, from three low-res neighbours (phase: pixel & 1). */
struct Three {
  t0: vec4<f32>,
  t1: vec4<f32>,
  t2: vec4<f32>,
}

/** Upsampled values 2i + phase - 1 .. 2i + phase + 1 from low-res i - 1, i, i + 1 (clamped). */
fn taps3(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, phase: u32) -> Three {
  let one = phase == 1u;
  let e = upEven(MODE == 1u);
  let o = upOdd(MODE == 1u);
  return Three(
    mix(v0, v1, select(o, e, one)),
    mix(select(v0, v1, one), select(v1, v2, one), select(e, o, one)),
    mix(v1, v2, select(o, e, one)),
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.batch * p.outH * p.outW) { return; }
  let ox = pixel % p.outW;
  let oy = (pixel / p.outW) % p.outH;
  let n = pixel / (p.outW * p.outH);
  let skipQ = p.skipQ;
  let plain = 36u * p.inQ + 9u * skipQ; // upsample_conv_head.wgsl's weight layout

  let iy = oy / 2u;
  let ix = ox / 2u;
  let r0 = (n * p.inH + max(iy, 1u) - 1u) * p.inW;
  let r1 = (n * p.inH + iy) * p.inW;
  let r2 = (n * p.inH + min(iy + 1u, p.inH - 1u)) * p.inW;
  let c0 = max(ix, 1u) - 1u;
  let c2 = min(ix + 1u, p.inW - 1u);
  // Taps outside the upsampled image read the conv's zero padding.
  let top = oy > 0u;
  let bottom = oy + 1u < p.outH;
  let left = ox > 0u;
  let right = ox + 1u < p.outW;
  var acc = bias[0];
  for (var q = 0u; q < p.inQ; q++) {
    let o = p.inOffset + q;
    let s = p.inStride;
    // Along x first, for each of the three low-res rows; then along y.
    let a = taps3(x[(r0 + c0) * s + o], x[(r0 + ix) * s + o], x[(r0 + c2) * s + o], ox & 1u);
    let b = taps3(x[(r1 + c0) * s + o], x[(r1 + ix) * s + o], x[(r1 + c2) * s + o], ox & 1u);
    let c = taps3(x[(r2 + c0) * s + o], x[(r2 + ix) * s + o], x[(r2 + c2) * s + o], ox & 1u);
    let u0 = taps3(a.t0, b.t0, c.t0, oy & 1u); // column tap kx = 0, rows ky = 0..2
    let u1 = taps3(a.t1, b.t1, c.t1, oy & 1u);
    let u2 = taps3(a.t2, b.t2, c.t2, oy & 1u);
    let w = plain + q;
    let k = p.inQ; // from one tap to the next
    if (top && left) { acc += weight[w] * u0.t0; }
    if (top) { acc += weight[w + k] * u1.t0; }
    if (top && right) { acc += weight[w + 2u * k] * u2.t0; }
    if (left) { acc += weight[w + 3u * k] * u0.t1; }
    acc += weight[w + 4u * k] * u1.t1;
    if (right) { acc += weight[w + 5u * k] * u2.t1; }
    if (bottom && left) { acc += weight[w + 6u * k] * u0.t2; }
    if (bottom) { acc += weight[w + 7u * k] * u1.t2; }
    if (bottom && right) { acc += weight[w + 8u * k] * u2.t2; }
  }
  for (var ky = 0u; ky < 3u; ky++) {
    let uy = i32(oy + ky) - 1;
    if (uy < 0 || uy >= i32(p.outH)) { continue; }
    for (var kx = 0u; kx < 3u; kx++) {
      let ux = i32(ox + kx) - 1;
      if (ux < 0 || ux >= i32(p.outW)) { continue; }
      let s = ((n * p.outH + u32(uy)) * p.outW + u32(ux)) * p.skipStride + p.skipOffset;
      for (var q = 0u; q < skipQ; q++) {
        acc += weight[36u * p.inQ + (ky * 3u + kx) * skipQ + q] * skip[s + q];
      }
    }
  }

  let image = res[pixel * p.resStride + p.resOffset];
  y[pixel * p.outStride + p.outOffset] = headOutput(image, acc, p.alpha, MASK_LANE);
}
