// 2× spatial upsampling, nearest or bilinear (MODE). Bilinear follows PyTorch's
// align_corners=False, so a PyTorch-trained decoder imports exactly: src = (dst + 0.5) / 2 − 0.5,
// clamped at 0 below and to the last row/column above. One invocation per output pixel × quad.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: UpsampleParams;

override WG: u32 = 64u;
// 0 nearest, 1 bilinear.
override MODE: u32 = 1u;

fn load(n: u32, iy: u32, ix: u32, q: u32) -> vec4<f32> {
  return x[((n * p.inH + iy) * p.inW + ix) * p.inStride + p.inOffset + q];
}

// Source row/column pair and the weight of the second: with a scale of exactly 2 the weights are
// 0.75/0.25 inside and 1/0 on the first and last output row/column.
fn taps(dst: u32, size: u32) -> vec3<f32> {
  let s = max((f32(dst) + 0.5) * 0.5 - 0.5, 0.0);
  let i0 = u32(s);
  let i1 = min(i0 + 1u, size - 1u);
  return vec3<f32>(f32(i0), f32(i1), s - f32(i0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let outW = p.inW * 2u;
  let outH = p.inH * 2u;
  if (i >= p.batch * outH * outW * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  let ox = pixel % outW;
  let oy = (pixel / outW) % outH;
  let n = pixel / (outW * outH);

  var v: vec4<f32>;
  if (MODE == 0u) {
    v = load(n, oy / 2u, ox / 2u, q);
  } else {
    let ty = taps(oy, p.inH);
    let tx = taps(ox, p.inW);
    let y0 = u32(ty.x);
    let y1 = u32(ty.y);
    let x0 = u32(tx.x);
    let x1 = u32(tx.y);
    let top = mix(load(n, y0, x0, q), load(n, y0, x1, q), tx.z);
    let bottom = mix(load(n, y1, x0, q), load(n, y1, x1, q), tx.z);
    v = mix(top, bottom, ty.z);
  }
  y[pixel * p.outStride + p.outOffset + q] = v;
}
