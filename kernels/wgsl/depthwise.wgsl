// Depthwise k×k convolution, direct: one invocation computes one output pixel × 4 channels.
// Channels vary fastest across invocations, so neighbours read neighbouring vec4s of the same
// pixel and the same weight taps; no workgroup memory. Fused epilogue: bias, activation, then the
// residual add. Weights are packed [ky][kx][quad] vec4s (see depthwise_conv2d in ops/conv.ts).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override K: u32 = 3u;
override STRIDE: u32 = 1u;
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.outH * p.outW * p.outQ) { return; }
  let q = i % p.outQ;
  let pixel = i / p.outQ;
  let ox = pixel % p.outW;
  let oy = (pixel / p.outW) % p.outH;
  let n = pixel / (p.outW * p.outH);

  var acc = bias[q];
  for (var ky = 0u; ky < K; ky++) {
    let iy = i32(oy * STRIDE + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (n * p.inH + u32(iy)) * p.inW;
    for (var kx = 0u; kx < K; kx++) {
      let ix = i32(ox * STRIDE + kx) - i32(p.pad);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      acc += x[(row + u32(ix)) * p.inStride + p.inOffset + q] * weight[(ky * K + kx) * p.outQ + q];
    }
  }
  acc = activate(clamp(acc, vec4<f32>(p.lo), vec4<f32>(p.hi)), p.alpha);
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    acc += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = acc;
}
