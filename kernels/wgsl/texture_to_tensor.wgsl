// A texture (rgba8unorm, e.g. a camera frame from copyExternalImageToTexture) → a normalised
// 3-channel NHWC tensor, one batch item per face: each with its own 2×3 affine warp from output
// pixel centres to source coordinates. The same sampling as rgba_to_tensor.wgsl (bilinear by hand
// with textureLoad, not a sampler, so the border and the weights match the CPU reference exactly).
// One invocation per output pixel.

// 32 bytes per batch item, laid out as in rgba_to_tensor.wgsl (`image` is unused: one texture).
struct Warp {
  row0: vec3<f32>,
  image: u32,
  row1: vec3<f32>,
  unused: u32,
}

@group(0) @binding(0) var frame: texture_2d<f32>;
@group(0) @binding(1) var<storage, read> warps: array<Warp>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ImageInParams;

override WG: u32 = 64u;

fn tap(sx: i32, sy: i32) -> vec3<f32> {
  let size = vec2<i32>(textureDimensions(frame));
  if (sx < 0 || sy < 0 || sx >= size.x || sy >= size.y) { return vec3<f32>(p.border); }
  let rgba = textureLoad(frame, vec2<i32>(sx, sy), 0);
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
  let s = vec2<f32>(dot(w.row0, centre), dot(w.row1, centre)) - 0.5;
  let f = floor(s);
  let t = s - f;
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let top = mix(tap(x0, y0), tap(x0 + 1, y0), t.x);
  let bottom = mix(tap(x0, y0 + 1), tap(x0 + 1, y0 + 1), t.x);
  y[pixel * p.outStride + p.outOffset] = vec4<f32>(mix(top, bottom, t.y), 0.0);
}
