// RGBA8 pixels (one u32 per pixel, R in the low byte) of one or more source images → a normalised
// 3-channel NHWC tensor. Each batch item has its own 2×3 affine warp from output pixel centres to
// source coordinates (pixel (i, j)'s centre at (j + 0.5, i + 0.5)) and its own source image:
// the crop + rotate of face alignment, or with identity and equal sizes a plain conversion.
// Bilinear sampling; taps outside the source read as `border` (a normalised value).
// One invocation per output pixel; the twin for textures is texture_to_tensor.wgsl.

// 32 bytes per batch item: source = (dot(row0, (u, v, 1)), dot(row1, (u, v, 1))).
struct Warp {
  row0: vec3<f32>,
  image: u32,
  row1: vec3<f32>,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> pixels: array<u32>;
@group(0) @binding(1) var<storage, read> warps: array<Warp>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ImageInParams;

override WG: u32 = 64u;

// One source pixel, normalised, or the border value outside the image.
fn tap(image: u32, sx: i32, sy: i32) -> vec3<f32> {
  if (sx < 0 || sy < 0 || sx >= i32(p.srcW) || sy >= i32(p.srcH)) { return vec3<f32>(p.border); }
  let rgba = unpack4x8unorm(pixels[(image * p.srcH + u32(sy)) * p.srcW + u32(sx)]);
  return (rgba.rgb - vec3<f32>(p.mean0, p.mean1, p.mean2)) / vec3<f32>(p.std0, p.std1, p.std2);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pixel = linearIndex(gid, nwg, WG);
  if (pixel >= p.batch * p.outH * p.outW) { return; }
  let ox = pixel % p.outW;
  let oy = (pixel / p.outW) % p.outH;
  let n = pixel / (p.outW * p.outH);

  let w = warps[n];
  let centre = vec3<f32>(f32(ox) + 0.5, f32(oy) + 0.5, 1.0);
  // Continuous source coordinates, shifted so texel centres sit on integers.
  let s = vec2<f32>(dot(w.row0, centre), dot(w.row1, centre)) - 0.5;
  let f = floor(s);
  let t = s - f;
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let top = mix(tap(w.image, x0, y0), tap(w.image, x0 + 1, y0), t.x);
  let bottom = mix(tap(w.image, x0, y0 + 1), tap(w.image, x0 + 1, y0 + 1), t.x);
  y[pixel * p.outStride + p.outOffset] = vec4<f32>(mix(top, bottom, t.y), 0.0);
}
