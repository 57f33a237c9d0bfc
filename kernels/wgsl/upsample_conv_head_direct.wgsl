// The fast start's kernel for upsample_conv2d_residual_mask: one invocation per output pixel,
// which loads the 3×3 low-res neighbourhood of each quad of h once and blends each tap's
// upsampled value from it, with the plain weights (the blocks after upsample_conv_head.wgsl's
// composed ones) and run-time loop bounds. Slower, but quick to compile, where the register-tiled
// kernel takes seconds on SwiftShader.

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

/**
 * Tap t = phase + k - 1 of an output row (column) reads upsampled row 2i + t, a blend of loaded
 * low-res rows (first, first + 1) of i - 1, i, i + 1: returns first and the second one's weight.
 */
fn blend(t: u32) -> vec2<f32> {
  let even = select(1.0, 0.75, MODE == 1u);
  let odd = select(0.0, 0.25, MODE == 1u);
  // t = 0: row 2i - 1 (odd); 1: 2i (even); 2: 2i + 1 (odd); 3: 2i + 2 (even), t offset by 1.
  return vec2<f32>(select(0.0, 1.0, t >= 2u), select(odd, even, (t & 1u) == 1u));
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
  let rows = array<u32, 3>(max(iy, 1u) - 1u, iy, min(iy + 1u, p.inH - 1u));
  let cols = array<u32, 3>(max(ix, 1u) - 1u, ix, min(ix + 1u, p.inW - 1u));
  var acc = bias[0];
  for (var q = 0u; q < p.inQ; q++) {
    var v: array<vec4<f32>, 9>;
    for (var k = 0u; k < 9u; k++) {
      let at = (n * p.inH + rows[k / 3u]) * p.inW + cols[k % 3u];
      v[k] = x[at * p.inStride + p.inOffset + q];
    }
    for (var ky = 0u; ky < 3u; ky++) {
      let uy = i32(oy + ky) - 1;
      if (uy < 0 || uy >= i32(p.outH)) { continue; } // the conv's zero padding
      let by = blend((oy & 1u) + ky);
      let r = u32(by.x) * 3u;
      for (var kx = 0u; kx < 3u; kx++) {
        let ux = i32(ox + kx) - 1;
        if (ux < 0 || ux >= i32(p.outW)) { continue; }
        let bx = blend((ox & 1u) + kx);
        let c = u32(bx.x);
        let top = mix(v[r + c], v[r + c + 1u], bx.y);
        let bottom = mix(v[r + 3u + c], v[r + 3u + c + 1u], bx.y);
        acc += weight[plain + (ky * 3u + kx) * p.inQ + q] * mix(top, bottom, by.y);
      }
    }
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
