// Draws the frame to the canvas, one texel per canvas pixel: the camera frame left of the split
// line (the demo's "before"), the composited result right of it. A full-screen triangle; texels
// are read with textureLoad, so the canvas shows the exact bytes of the two textures.

@group(0) @binding(0) var before: texture_2d<f32>;
@group(0) @binding(1) var after: texture_2d<f32>;
// x: the split in canvas pixels.
@group(0) @binding(2) var<uniform> split: vec4<f32>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
  let xy = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4<f32>(xy * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
  let xy = vec2<u32>(position.xy);
  if (position.x < split.x) { return textureLoad(before, xy, 0); }
  return textureLoad(after, xy, 0);
}
