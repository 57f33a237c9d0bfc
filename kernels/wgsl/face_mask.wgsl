// The blend mask of each face, in crop pixels: for every crop pixel centre, the coverage of the face
// outline (a polygon in crop pixels): 0 until MASK_INSET pixels inside the outline, rising to 1 over
// `feather` pixels further in (a smoothstep, as src/face/masks.ts draws masks). The composite
// samples it bilinearly; the inset (√2 pixels) keeps every bilinear footprint of a point outside the
// outline at 0, so pixels outside a face are never touched. One invocation per mask pixel.

// 32 bytes per face, as in composite.wgsl: this kernel reads the outline range.
struct Face {
  row0: vec3<f32>,
  first: u32,
  row1: vec3<f32>,
  points: u32,
}

@group(0) @binding(0) var<storage, read> faces: array<Face>;
@group(0) @binding(1) var<storage, read> outline: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> masks: array<f32>;
@group(0) @binding(3) var<uniform> p: CompositeParams;

override WG: u32 = 64u;

const MASK_INSET: f32 = 1.4142135;

// Signed distance from `q` to the closed polygon of face `f` (negative inside, even–odd rule).
fn signedDistance(f: Face, q: vec2<f32>) -> f32 {
  var inside = false;
  var d2 = 3.4e38;
  var a = outline[f.first + f.points - 1u];
  for (var k = 0u; k < f.points; k++) {
    let b = outline[f.first + k];
    if ((a.y > q.y) != (b.y > q.y) && q.x < a.x + (q.y - a.y) * (b.x - a.x) / (b.y - a.y)) {
      inside = !inside;
    }
    let e = b - a;
    let len2 = dot(e, e);
    let t = select(0.0, clamp(dot(q - a, e) / len2, 0.0, 1.0), len2 > 0.0);
    let r = q - a - t * e;
    d2 = min(d2, dot(r, r));
    a = b;
  }
  let d = sqrt(d2);
  return select(d, -d, inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.faces * p.size * p.size) { return; }
  let x = i % p.size;
  let y = (i / p.size) % p.size;
  let n = i / (p.size * p.size);
  let q = vec2<f32>(f32(x) + 0.5, f32(y) + 0.5);
  let feather = max(p.feather, 1e-3);
  var v = clamp(-(signedDistance(faces[n], q) + MASK_INSET) / feather, 0.0, 1.0);
  if (feather > 1.0) { v = v * v * (3.0 - 2.0 * v); }
  masks[i] = v;
}
