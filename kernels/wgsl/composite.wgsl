// Paste-back: the network's edit → the camera frame. Each frame pixel in the faces' box is mapped
// into every face's crop by that face's inverse warp (frame → crop); there the face's blend mask
// (face_mask.wgsl, in crop pixels), the output crop and the input crop are sampled bilinearly, and
// the edit (output − input) is added to the frame under the mask. Adding the edit rather than the
// output keeps the frame's own detail: a face larger than the crop stays as sharp as the camera
// saw it, and an effect that changes nothing changes no pixel. Faces apply in order.
//
// Pixels whose mask is 0 for every face are not written at all: the caller copies the frame into
// `result` first, so everything outside the faces stays bit-identical to the camera. One
// invocation per pixel of the box.

// 32 bytes per face: crop point = (dot(row0, (x, y, 1)), dot(row1, (x, y, 1))).
struct Face {
  row0: vec3<f32>,
  first: u32,
  row1: vec3<f32>,
  points: u32,
}

@group(0) @binding(0) var frame: texture_2d<f32>;
@group(0) @binding(1) var<storage, read> crops: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> faces: array<Face>;
@group(0) @binding(3) var<storage, read> masks: array<f32>;
@group(0) @binding(4) var result: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(5) var<uniform> p: CompositeParams;
@group(0) @binding(6) var<storage, read> inputs: array<vec4<f32>>;

override WG: u32 = 64u;

fn clampedTexel(x: i32, y: i32) -> vec2<u32> {
  let s = i32(p.size) - 1;
  return vec2<u32>(u32(clamp(x, 0, s)), u32(clamp(y, 0, s)));
}

fn colour(v: vec3<f32>) -> vec3<f32> {
  let spread = vec3<f32>(p.std0, p.std1, p.std2);
  return clamp(v * spread + vec3<f32>(p.mean0, p.mean1, p.mean2), vec3<f32>(0.0), vec3<f32>(1.0));
}

// One texel of face n's edit: output − input, each de-normalised and clamped to [0, 1] like any
// image (so the GPU and the edge path, whose crops travel as 8-bit pixels, interpolate the same
// values).
fn tap(n: u32, x: i32, y: i32) -> vec3<f32> {
  let c = clampedTexel(x, y);
  let texel = (n * p.size + c.y) * p.size + c.x;
  let out = crops[texel * p.cropStride + p.cropOffset].rgb;
  let inp = inputs[texel * p.inputStride + p.inputOffset].rgb;
  return colour(out) - colour(inp);
}

fn maskTap(n: u32, x: i32, y: i32) -> f32 {
  let c = clampedTexel(x, y);
  return masks[(n * p.size + c.y) * p.size + c.x];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.boxW * p.boxH) { return; }
  let xy = vec2<u32>(p.boxX + i % p.boxW, p.boxY + i / p.boxW);
  let centre = vec3<f32>(f32(xy.x) + 0.5, f32(xy.y) + 0.5, 1.0);
  let src = textureLoad(frame, xy, 0);
  let size = f32(p.size);
  var rgb = src.rgb;
  var touched = false;
  for (var n = 0u; n < p.faces; n++) {
    let f = faces[n];
    let q = vec2<f32>(dot(f.row0, centre), dot(f.row1, centre));
    if (q.x < 0.0 || q.y < 0.0 || q.x >= size || q.y >= size) { continue; }
    // Bilinear weights at q (texel centres at +0.5), shared by the mask and the crop.
    let s = q - 0.5;
    let fl = floor(s);
    let t = s - fl;
    let x0 = i32(fl.x);
    let y0 = i32(fl.y);
    let m = mix(
      mix(maskTap(n, x0, y0), maskTap(n, x0 + 1, y0), t.x),
      mix(maskTap(n, x0, y0 + 1), maskTap(n, x0 + 1, y0 + 1), t.x),
      t.y,
    );
    if (m <= 0.0) { continue; }
    let edit = mix(
      mix(tap(n, x0, y0), tap(n, x0 + 1, y0), t.x),
      mix(tap(n, x0, y0 + 1), tap(n, x0 + 1, y0 + 1), t.x),
      t.y,
    );
    rgb = clamp(rgb + m * edit, vec3<f32>(0.0), vec3<f32>(1.0));
    touched = true;
  }
  if (!touched) { return; }
  textureStore(result, xy, vec4<f32>(rgb, src.a));
}
