// Gradient of a depthwise k×k convolution w.r.t. its input (any stride/padding), gathered: one
// invocation per input pixel × quad sums dz · w over the taps whose window covers it. Weights are
// depthwise_conv2d's packing, [ky][kx][quad] vec4s. ACCUM adds into what dx already holds.

@group(0) @binding(0) var<storage, read> dz: array<vec4<f32>>;
// EPILOGUE: the forward input, itself the output of an activation: dx is multiplied by that
// activation's derivative (ACT, from its output), so the previous layer's act' needs no pass.
@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override K: u32 = 3u;
override STRIDE: u32 = 1u;
override ACCUM: bool = false;
override EPILOGUE: bool = false;
override PIXEL_FASTEST: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.batch * p.inH * p.inW * p.inQ) { return; }
  // PIXEL_FASTEST: neighbouring invocations (one SIMD vector on a CPU adapter) share the quad, so
  // their weight loads are one broadcast rather than a gather; otherwise quads vary fastest
  // (neighbours read neighbouring vec4s: coalesced on a GPU).
  let pixels = p.batch * p.inH * p.inW;
  var pixel = i / p.inQ;
  var q = i % p.inQ;
  if (PIXEL_FASTEST) {
    pixel = i % pixels;
    q = i / pixels;
  }
  let ix = pixel % p.inW;
  let iy = (pixel / p.inW) % p.inH;
  let n = pixel / (p.inW * p.inH);

  var acc = vec4<f32>(0.0);
  for (var ky = 0u; ky < K; ky++) {
    let ty = i32(iy + p.pad) - i32(ky);
    if (ty < 0 || u32(ty) % STRIDE != 0u) { continue; }
    let oy = u32(ty) / STRIDE;
    if (oy >= p.outH) { continue; }
    let row = (n * p.outH + oy) * p.outW;
    for (var kx = 0u; kx < K; kx++) {
      let tx = i32(ix + p.pad) - i32(kx);
      if (tx < 0 || u32(tx) % STRIDE != 0u) { continue; }
      let ox = u32(tx) / STRIDE;
      if (ox >= p.outW) { continue; }
      acc += dz[(row + ox) * p.dzStride + p.dzOffset + q] * weight[(ky * K + kx) * p.inQ + q];
    }
  }
  if (EPILOGUE) {
    acc *= activateGradFromOutput(act[pixel * p.actStride + p.actOffset + q], p.alpha);
  }
  let at = pixel * p.xStride + p.xOffset + q;
  if (ACCUM) { acc += dx[at]; }
  dx[at] = acc;
}
