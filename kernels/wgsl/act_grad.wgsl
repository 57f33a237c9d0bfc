// Backward of an activation: out = dy · act'(v) (ACT as in common.wgsl). v is the pre-activation
// a (standalone activation), a + b (add's sum, HAS_B), or, with FROM_OUTPUT, the activation's own
// output, which determines act' for every activation but hardswish: that is how a conv's fused
// epilogue is differentiated without keeping its pre-activation. Lanes past `channels` are written
// as 0, so gradients' padding stays zero; ACCUM adds into what the output already holds.

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: EltGradParams;

override WG: u32 = 64u;
override FROM_OUTPUT: bool = false;
override HAS_B: bool = false;
override ACCUM: bool = false;

// act'(v), with PyTorch's values at the kinks (relu'(0) = 0).
fn gradFromInput(v: vec4<f32>, alpha: f32) -> vec4<f32> {
  let one = vec4<f32>(1.0);
  let zero = vec4<f32>(0.0);
  switch ACT {
    case 1u: { return select(zero, one, v > zero); }
    case 2u: { return select(zero, one, (v > zero) & (v < vec4<f32>(6.0))); }
    case 3u: {
      let mid = select(v / 3.0 + 0.5, one, v > vec4<f32>(3.0));
      return select(mid, zero, v < vec4<f32>(-3.0));
    }
    case 4u: { return select(vec4<f32>(alpha), one, v > zero); }
    case 5u: {
      let s = 1.0 / (1.0 + exp(-v));
      return s * (1.0 - s);
    }
    case 6u: {
      let t = tanh(clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0)));
      return 1.0 - t * t;
    }
    default: { return one; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.pixels * p.quads) { return; }
  let q = i % p.quads;
  let pixel = i / p.quads;
  var v = a[pixel * p.aStride + p.aOffset + q];
  if (HAS_B) { v += b[pixel * p.bStride + p.bOffset + q]; }
  var d: vec4<f32>;
  if (FROM_OUTPUT) { d = activateGradFromOutput(v, p.alpha); } else { d = gradFromInput(v, p.alpha); }
  let lane = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u;
  var r = select(vec4<f32>(0.0), dy[pixel * p.dyStride + p.dyOffset + q] * d, lane < vec4<u32>(p.channels));
  let at = pixel * p.outStride + p.outOffset + q;
  if (ACCUM) { r += out[at]; }
  out[at] = r;
}
