// Backward of 2× upsampling, gathered: one invocation per input pixel × quad sums the output
// gradients of the pixels that read it, with the forward's weights (kernels/wgsl/upsample2x.wgsl).
// Nearest: its 2×2 block. Bilinear (align_corners=False): output rows 2iy−1 … 2iy+2 (and columns
// likewise) are the only ones whose taps can land on iy; each tap's weight is recomputed exactly
// as the forward computes it, clamped edges included. ACCUM adds into what dx already holds.

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: UpsampleGradParams;

override WG: u32 = 64u;
// 0 nearest, 1 bilinear.
override MODE: u32 = 1u;
override ACCUM: bool = false;

fn load(n: u32, oy: u32, ox: u32, q: u32) -> vec4<f32> {
  return dy[((n * p.inH * 2u + oy) * p.inW * 2u + ox) * p.dyStride + p.dyOffset + q];
}

// The weight with which output row/column `dst` reads source `src` (0 if it does not).
fn weight(dst: u32, size: u32, src: u32) -> f32 {
  let s = max((f32(dst) + 0.5) * 0.5 - 0.5, 0.0);
  let i0 = u32(s);
  let i1 = min(i0 + 1u, size - 1u);
  let l = s - f32(i0);
  return select(0.0, 1.0 - l, i0 == src) + select(0.0, l, i1 == src);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.inH * p.inW * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  let ix = pixel % p.inW;
  let iy = (pixel / p.inW) % p.inH;
  let n = pixel / (p.inW * p.inH);

  var acc = vec4<f32>(0.0);
  if (MODE == 0u) {
    acc = load(n, 2u * iy, 2u * ix, q) + load(n, 2u * iy, 2u * ix + 1u, q) +
      load(n, 2u * iy + 1u, 2u * ix, q) + load(n, 2u * iy + 1u, 2u * ix + 1u, q);
  } else {
    let y0 = max(i32(2u * iy) - 1, 0);
    let y1 = min(2u * iy + 2u, 2u * p.inH - 1u);
    let x0 = max(i32(2u * ix) - 1, 0);
    let x1 = min(2u * ix + 2u, 2u * p.inW - 1u);
    for (var oy = u32(y0); oy <= y1; oy++) {
      let wy = weight(oy, p.inH, iy);
      if (wy == 0.0) { continue; }
      for (var ox = u32(x0); ox <= x1; ox++) {
        let wx = weight(ox, p.inW, ix);
        if (wx == 0.0) { continue; }
        acc += (wy * wx) * load(n, oy, ox, q);
      }
    }
  }
  let at = pixel * p.dxStride + p.dxOffset + q;
  if (ACCUM) { acc += dx[at]; }
  dx[at] = acc;
}
