// Convolution with the step's weights compiled in: `layer()`, generated per step in
// src/runtime/ops/conv.ts, holds the arithmetic of TP neighbouring pixels × every output quad, each
// weight block and bias quad a literal: bakePointwise() for a 1×1 conv, bakeConv() for a k×k one
// (TP pixels of one output row, walking the window). Why: llvmpipe (Mesa 22.3, as Deno's WebGPU
// drives it) gathers every buffer read lane by lane, uniform reads at constant offsets included
// (profiled: gathers, not multiply-adds, were most of pointwise_uniform's instructions), while a
// literal costs nothing. Measured in the tuner: the student's expands 1.3-2.6× faster than
// pointwise_uniform's best tile, for a compile of 30-150 ms (the tuner weighs it); the 3×3 stride-2
// stem 2.1× (128²) and 3.3× (256²) faster than conv2d_reg, for 40 ms. No weight bindings; conv2d's
// uniforms and fused epilogue (ACT, RESIDUAL 0 or 1); f32 only.
//
// UP > 0 (pointwise_add_upsampled): each output also adds `res` upsampled 2× before the
// activation, as in pointwise_uniform.wgsl; the TP pixels are then a row segment from an even
// column.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvParams;

override WG: u32 = 64u;
override TP: u32 = 1u; // pixels per invocation, as the generated code was written for
override RESIDUAL: u32 = 0u; // 0 none, 1 add res
override UP: u32 = 0u; // 0 none; add res upsampled 2×: 1 nearest, 2 bilinear (align_corners=False)

/** The epilogue's clamp bounds and alpha, read once per invocation. */
struct Bounds {
  lo: f32,
  hi: f32,
  alpha: f32,
}

/** Output quad q of one pixel (dropped past the last): the fused epilogue, then the store. */
fn store(pixel: u32, pixels: u32, q: u32, acc: vec4<f32>, b: Bounds) {
  if (pixel >= pixels) { return; }
  var out = activate(clamp(acc, vec4<f32>(b.lo), vec4<f32>(b.hi)), b.alpha);
  if (RESIDUAL == 1u) { out += res[pixel * p.resStride + p.resOffset + q]; }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel0 = linearIndex(gid, nwg, WG) * TP;
  let pixels = p.batch * p.outH * p.outW;
  if (pixel0 >= pixels) { return; }
  layer(pixel0, pixels, Bounds(p.lo, p.hi, p.alpha));
}
