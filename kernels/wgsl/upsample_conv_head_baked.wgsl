// upsample_conv_head.wgsl with the step's weights compiled in: `layer()`, generated per step by
// bakeUpsampleHead() in src/runtime/ops/conv.ts, walks the same tile (upsample_head_tiles.wgsl,
// appended) with every composed, skip and plain block and the bias a literal. Why: in the uniform
// kernel most of the values an invocation gathers are weight blocks (36 per quad of h against
// 3 × (TL+2) activations), and llvmpipe gathers a uniform read lane by lane even at a constant
// offset, while a literal costs nothing (as in conv2d_baked.wgsl). No weight bindings; f32 only.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; // h, at half the output size
@group(0) @binding(1) var<storage, read> skip: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> res: array<vec4<f32>>; // the image
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: UpsampleConvParams;

override WG: u32 = 64u;
override TL: u32 = 4u; // low-res columns per invocation: 1, 2 or 4 (2·TL output columns)
override MODE: u32 = 1u; // 0 nearest, 1 bilinear (align_corners=False)
override MASK_LANE: u32 = 3u; // the mask logit's lane; lanes below it are deltas

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= tileCount()) { return; }
  let t = tileAt(i);
  storeTile(t, layer(t));
}
