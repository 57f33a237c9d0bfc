// Shared by every kernel (prepended by src/runtime/kernels.ts): the fused activation epilogue.
// ACT ids follow src/runtime/activation.ts: 0 none, 1 relu, 2 relu6, 3 hardswish, 4 leaky relu,
// 5 sigmoid, 6 tanh.

override ACT: u32 = 0u;

fn activate(v: vec4<f32>, alpha: f32) -> vec4<f32> {
  switch ACT {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    case 3u: { return v * clamp(v + 3.0, vec4<f32>(0.0), vec4<f32>(6.0)) / 6.0; }
    case 4u: { return select(alpha * v, v, v > vec4<f32>(0.0)); }
    case 5u: { return 1.0 / (1.0 + exp(-v)); }
    case 6u: { return tanh(clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0))); }
    default: { return v; }
  }
}

// act'(v) from y = act(v): the backward of a fused epilogue (src/train/) without the pre-activation.
// Not for hardswish, whose derivative its output does not determine (training keeps that one's
// pre-activation instead).
fn activateGradFromOutput(y: vec4<f32>, alpha: f32) -> vec4<f32> {
  let one = vec4<f32>(1.0);
  let zero = vec4<f32>(0.0);
  switch ACT {
    case 1u: { return select(zero, one, y > zero); }
    case 2u: { return select(zero, one, (y > zero) & (y < vec4<f32>(6.0))); }
    case 4u: { return select(vec4<f32>(alpha), one, y > zero); }
    case 5u: { return y * (1.0 - y); }
    case 6u: { return 1.0 - y * y; }
    default: { return one; }
  }
}

// Linear invocation index over a 2-D grid of workgroups (one dimension stops at 65535).
fn linearIndex(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

// Eight neighbouring pixels × 4 channels: a register tile's input columns or accumulators, in the
// kernel's arithmetic precision. Named fields, not an array, so that they stay in registers (an
// indexed array may live in memory).
struct Row {
  p0: vec4<real>,
  p1: vec4<real>,
  p2: vec4<real>,
  p3: vec4<real>,
  p4: vec4<real>,
  p5: vec4<real>,
  p6: vec4<real>,
  p7: vec4<real>,
}

// 2× upsampling as blends of low-res neighbours v (indices clamped at the edges): output 2m is
// mix(v[m-1], v[m], upEven(bilinear)) and 2m+1 is mix(v[m], v[m+1], upOdd(bilinear)). Bilinear
// follows PyTorch's align_corners=False (3/4 of the nearer neighbour); nearest takes v[m] for both.
fn upEven(bilinear: bool) -> f32 {
  return select(1.0, 0.75, bilinear);
}

fn upOdd(bilinear: bool) -> f32 {
  return select(0.0, 0.25, bilinear);
}

// The head's output quad: image + sigmoid(mask) · scale · tanh(delta), from logits with the deltas
// in lanes below maskLane and the mask logit in lane maskLane; lanes from maskLane on are written
// as 0 (residual_mask.wgsl's formula, for heads fused into their conv).
fn headOutput(image: vec4<f32>, logits: vec4<f32>, scale: f32, maskLane: u32) -> vec4<f32> {
  let mask = 1.0 / (1.0 + exp(-logits[maskLane]));
  let d = tanh(clamp(logits, vec4<f32>(-15.0), vec4<f32>(15.0)));
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  return select(image + (mask * scale) * d, vec4<f32>(0.0), lane >= vec4<u32>(maskLane));
}
