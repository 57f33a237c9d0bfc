// A normalised 3-channel NHWC tensor → RGBA8 pixels (one u32 per pixel, R in the low byte, alpha
// 255): v · std + mean, clamped to [0, 1], rounded half up by pack4x8unorm (⌊0.5 + 255·v⌋).
// One invocation per pixel.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> pixels: array<u32>;
@group(0) @binding(2) var<uniform> p: ImageOutParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.pixels) { return; }
  let v = x[pixel * p.inStride + p.inOffset].rgb;
  let rgb = v * vec3<f32>(p.std0, p.std1, p.std2) + vec3<f32>(p.mean0, p.mean1, p.mean2);
  pixels[pixel] = pack4x8unorm(vec4<f32>(rgb, 1.0));
}
