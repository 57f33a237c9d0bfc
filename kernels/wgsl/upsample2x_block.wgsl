// 2× spatial upsampling, register-blocked: one invocation per input pixel × quad writes the 2×2
// output block that pixel anchors, so bilinear loads the 3×3 neighbourhood once (9 loads for 4
// outputs instead of 16) and the index arithmetic is done once per block. Same semantics, uniforms
// and bindings as upsample2x.wgsl: PyTorch's align_corners=False, where at scale 2 every output
// is 0.25/0.75 of its two nearest source rows and columns, clamped at the edges (a clamped
// neighbour equals the centre, which reproduces the edge weights 1/0 exactly).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: UpsampleParams;

override WG: u32 = 64u;
// 0 nearest, 1 bilinear.
override MODE: u32 = 1u;

fn at(n: u32, iy: u32, ix: u32, q: u32) -> vec4<f32> {
  return x[((n * p.inH + iy) * p.inW + ix) * p.inStride + p.inOffset + q];
}

fn store(n: u32, oy: u32, ox: u32, q: u32, v: vec4<f32>) {
  y[((n * p.inH * 2u + oy) * p.inW * 2u + ox) * p.outStride + p.outOffset + q] = v;
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
  let oy = iy * 2u;
  let ox = ix * 2u;

  if (MODE == 0u) {
    let v = at(n, iy, ix, q);
    store(n, oy, ox, q, v);
    store(n, oy, ox + 1u, q, v);
    store(n, oy + 1u, ox, q, v);
    store(n, oy + 1u, ox + 1u, q, v);
    return;
  }
  let ym = max(iy, 1u) - 1u;
  let yp = min(iy + 1u, p.inH - 1u);
  let xm = max(ix, 1u) - 1u;
  let xp = min(ix + 1u, p.inW - 1u);
  // Horizontal first (as the reference): left = output column 2·ix, right = 2·ix + 1.
  let c0 = at(n, ym, ix, q);
  let lm = mix(at(n, ym, xm, q), c0, 0.75);
  let rm = mix(c0, at(n, ym, xp, q), 0.25);
  let c1 = at(n, iy, ix, q);
  let l0 = mix(at(n, iy, xm, q), c1, 0.75);
  let r0 = mix(c1, at(n, iy, xp, q), 0.25);
  let c2 = at(n, yp, ix, q);
  let lp = mix(at(n, yp, xm, q), c2, 0.75);
  let rp = mix(c2, at(n, yp, xp, q), 0.25);
  store(n, oy, ox, q, mix(lm, l0, 0.75));
  store(n, oy, ox + 1u, q, mix(rm, r0, 0.75));
  store(n, oy + 1u, ox, q, mix(l0, lp, 0.25));
  store(n, oy + 1u, ox + 1u, q, mix(r0, rp, 0.25));
}
