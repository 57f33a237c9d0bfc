// Backward of the output head out = x + σ(m)·s·tanh(d) w.r.t. h = [d (C channels), m]:
// dd_c = dy_c·σ(m)·s·(1 − tanh² d_c) and dm = s·σ(m)(1 − σ(m))·Σ_c dy_c·tanh(d_c). One invocation
// per pixel × quad of h; the quad holding the mask lane also sums over the pixel's C channels.
// tanh's argument is clamped as in the forward kernel. ACCUM adds into what the output holds.

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> h: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ResidualMaskGradParams;

override WG: u32 = 64u;
override ACCUM: bool = false;

fn tanhc(v: vec4<f32>) -> vec4<f32> {
  return tanh(clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0)));
}

// dy's quad c with lanes past C zeroed (dy has fewer quads than h when C is a multiple of 4).
fn grad(pixel: u32, c: u32) -> vec4<f32> {
  if (c * 4u >= p.channels) { return vec4<f32>(0.0); }
  let lanes = vec4<u32>(0u, 1u, 2u, 3u) + c * 4u;
  return select(vec4<f32>(0.0), dy[pixel * p.dyStride + p.dyOffset + c],
    lanes < vec4<u32>(p.channels));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.hQuads) { return; }
  let q = i % p.hQuads;
  let pixel = i / p.hQuads;
  let hAt = pixel * p.hStride + p.hOffset;
  let mask = 1.0 / (1.0 + exp(-h[hAt + p.channels / 4u][p.channels % 4u]));
  let t = tanhc(h[hAt + q]);
  var r = grad(pixel, q) * (mask * p.deltaScale) * (1.0 - t * t);
  if (q == p.channels / 4u) {
    var dm = 0.0;
    for (var c = 0u; c * 4u < p.channels; c++) {
      dm += dot(grad(pixel, c), tanhc(h[hAt + c]));
    }
    r[p.channels % 4u] = dm * p.deltaScale * mask * (1.0 - mask);
  }
  let at = pixel * p.outStride + p.outOffset + q;
  if (ACCUM) { r += out[at]; }
  out[at] = r;
}
