// Input gradient of a dense 3×3 stride-1 convolution, register-blocked: one invocation computes TX
// neighbouring input pixels along x × one input quad. Per tap row and output quad it loads the
// TX + 2 dz columns its pixels read and the row's 3 weight blocks once (instead of a dz and a
// block per pixel and tap): dx[ix] = Σ_ky,kx dz[iy + pad − ky][ix + pad − kx] · W[ky][kx].
// Quads from dxQ on are not needed (e.g. a concatenated image's channels) and written as 0.
// ACCUM adds into what dx already holds. The block is spelled out as named variables.

@group(0) @binding(0) var<storage, read> dz: array<vec4<f32>>;
// EPILOGUE: the forward input, itself the output of an activation: dx is multiplied by that
// activation's derivative (ACT, from its output), so the previous layer's act' needs no pass.
@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<mat4x4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override TX: u32 = 8u; // input pixels per invocation, 1..8
override ACCUM: bool = false;
override EPILOGUE: bool = false;

/** dz column ox of an output row (its first pixel's index), quad c; 0 outside. */
fn column(row: u32, ox: i32, c: u32) -> vec4<f32> {
  let inside = ox >= 0 && ox < i32(p.outW);
  let at = (row + u32(clamp(ox, 0, i32(p.outW) - 1))) * p.dzStride + p.dzOffset + c;
  return select(vec4<f32>(0.0), dz[at], inside);
}

fn store(pixel: u32, ix: u32, q: u32, v: vec4<f32>) {
  if (ix >= p.inW) { return; }
  let at = pixel * p.xStride + p.xOffset + q;
  var out = v;
  if (EPILOGUE) {
    out *= activateGradFromOutput(act[pixel * p.actStride + p.actOffset + q], p.alpha);
  }
  if (ACCUM) { out += dx[at]; }
  dx[at] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let tiles = (p.inW + TX - 1u) / TX;
  if (i >= p.batch * p.inH * tiles * p.inQ) { return; }
  // Tiles vary fastest: neighbouring invocations share q, so their weight loads coincide.
  let tile = i % (p.batch * p.inH * tiles);
  let q = i / (p.batch * p.inH * tiles);
  let ix0 = (tile % tiles) * TX;
  let iy = (tile / tiles) % p.inH;
  let n = tile / (tiles * p.inH);

  var a0 = vec4<f32>(0.0); var a1 = a0; var a2 = a0; var a3 = a0;
  var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
  if (q < p.dxQ) {
    for (var ky = 0u; ky < 3u; ky++) {
      let oy = i32(iy + p.pad) - i32(ky);
      if (oy < 0 || oy >= i32(p.outH)) { continue; }
      let row = (n * p.outH + u32(oy)) * p.outW;
      let o = i32(ix0 + p.pad) - 2;
      for (var c = 0u; c < p.outQ; c++) {
        let w0 = weight[((ky * 3u) * p.inQ + q) * p.outQ + c];
        let w1 = weight[((ky * 3u + 1u) * p.inQ + q) * p.outQ + c];
        let w2 = weight[((ky * 3u + 2u) * p.inQ + q) * p.outQ + c];
        // Columns o + j; pixel t reads j = t + 2 − kx (registers rotate through c0, c1, c2).
        var c0 = column(row, o, c);
        var c1 = column(row, o + 1, c);
        var c2 = column(row, o + 2, c);
        a0 += c2 * w0 + c1 * w1 + c0 * w2;
        if (TX > 1u) { c0 = column(row, o + 3, c); a1 += c0 * w0 + c2 * w1 + c1 * w2; }
        if (TX > 2u) { c1 = column(row, o + 4, c); a2 += c1 * w0 + c0 * w1 + c2 * w2; }
        if (TX > 3u) { c2 = column(row, o + 5, c); a3 += c2 * w0 + c1 * w1 + c0 * w2; }
        if (TX > 4u) { c0 = column(row, o + 6, c); a4 += c0 * w0 + c2 * w1 + c1 * w2; }
        if (TX > 5u) { c1 = column(row, o + 7, c); a5 += c1 * w0 + c0 * w1 + c2 * w2; }
        if (TX > 6u) { c2 = column(row, o + 8, c); a6 += c2 * w0 + c1 * w1 + c0 * w2; }
        if (TX > 7u) { c0 = column(row, o + 9, c); a7 += c0 * w0 + c2 * w1 + c1 * w2; }
      }
    }
  }
  let pixel = (n * p.inH + iy) * p.inW + ix0;
  store(pixel, ix0, q, a0);
  if (TX > 1u) { store(pixel + 1u, ix0 + 1u, q, a1); }
  if (TX > 2u) { store(pixel + 2u, ix0 + 2u, q, a2); }
  if (TX > 3u) { store(pixel + 3u, ix0 + 3u, q, a3); }
  if (TX > 4u) { store(pixel + 4u, ix0 + 4u, q, a4); }
  if (TX > 5u) { store(pixel + 5u, ix0 + 5u, q, a5); }
  if (TX > 6u) { store(pixel + 6u, ix0 + 6u, q, a6); }
  if (TX > 7u) { store(pixel + 7u, ix0 + 7u, q, a7); }
}
