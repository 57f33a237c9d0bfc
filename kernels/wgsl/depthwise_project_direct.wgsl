// depthwise_project, the simple way: one invocation per output pixel, every output quad held in a
// private array (at most 16 quads) and the loops left rolled. Slow, but a small shader: the fast
// start's kernel (SwiftShader compiles it in a fraction of the register-tiled kernel's time), so
// the first frame comes before the tuned kernels are compiled. Same bindings, weight layout and
// uniforms as depthwise_project.wgsl.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> weight: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: DepthwiseProjectParams;

override WG: u32 = 64u;
override STRIDE: u32 = 1u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.batch * p.outH * p.outW) { return; }
  let ox = pixel % p.outW;
  let oy = (pixel / p.outW) % p.outH;
  let n = pixel / (p.outW * p.outH);
  var acc: array<vec4<f32>, 16>;
  for (var q = 0u; q < p.outQ; q++) { acc[q] = bias[q]; }
  for (var e = 0u; e < p.inQ; e++) {
    var d = weight[9u * p.inQ + e];
    for (var ky = 0u; ky < 3u; ky++) {
      let iy = i32(oy * STRIDE + ky) - 1;
      if (iy < 0 || iy >= i32(p.inH)) { continue; }
      for (var kx = 0u; kx < 3u; kx++) {
        let ix = i32(ox * STRIDE + kx) - 1;
        if (ix < 0 || ix >= i32(p.inW)) { continue; }
        let at = ((n * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inStride + p.inOffset + e;
        d += x[at] * weight[e * 9u + ky * 3u + kx];
      }
    }
    d = clamp(d, vec4<f32>(p.dwLo), vec4<f32>(p.dwHi));
    for (var q = 0u; q < p.outQ; q++) {
      let b = 10u * p.inQ + (e * p.outQ + q) * 4u;
      acc[q] += mat4x4<f32>(weight[b], weight[b + 1u], weight[b + 2u], weight[b + 3u]) * d;
    }
  }
  for (var q = 0u; q < p.outQ; q++) {
    var out = clamp(acc[q], vec4<f32>(p.lo), vec4<f32>(p.hi));
    if (p.residual == 1u) { out += res[pixel * p.resStride + p.resOffset + q]; }
    y[pixel * p.outStride + p.outOffset + q] = out;
  }
}
