// Input gradient of a depthwise 3×3 convolution, register-blocked like depthwise_reg.wgsl: one
// invocation computes TX neighbouring input pixels along x × one quad. Per tap row it loads the dz
// columns its pixels read once (TX + 2 at stride 1; TX/2 + 1 at stride 2) and the row's 3 weights
// once, instead of a dz and a weight per pixel and tap. dx[ix] = Σ dz[oy][ox] · w[ky][kx] over
// iy = oy·STRIDE + ky − pad, ix = ox·STRIDE + kx − pad. Stride 2 takes pad 1 (the student's): even
// columns then read one tap, odd ones two. ACCUM adds into what dx already holds. The block is
// spelled out as named variables guarded by TX.

@group(0) @binding(0) var<storage, read> dz: array<vec4<f32>>;
// EPILOGUE: the forward input, itself the output of an activation: dx is multiplied by that
// activation's derivative (ACT, from its output), so the previous layer's act' needs no pass.
@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override TX: u32 = 8u; // input pixels per invocation: 1..8 at stride 1, 2, 4, 6 or 8 at stride 2
override STRIDE: u32 = 1u; // 1, or 2 with pad 1
override ACCUM: bool = false;
override EPILOGUE: bool = false;

/** dz column ox of an output row (its first pixel's index), quad q; 0 outside. */
fn column(row: u32, ox: i32, q: u32) -> vec4<f32> {
  let inside = ox >= 0 && ox < i32(p.outW);
  let at = (row + u32(clamp(ox, 0, i32(p.outW) - 1))) * p.dzStride + p.dzOffset + q;
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
  let q = i % p.inQ;
  let tile = i / p.inQ;
  let ix0 = (tile % tiles) * TX;
  let iy = (tile / tiles) % p.inH;
  let n = tile / (tiles * p.inH);

  var a0 = vec4<f32>(0.0); var a1 = a0; var a2 = a0; var a3 = a0;
  var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
  for (var ky = 0u; ky < 3u; ky++) {
    let ty = i32(iy + p.pad) - i32(ky);
    if (ty < 0 || u32(ty) % STRIDE != 0u) { continue; }
    let oy = ty / i32(STRIDE);
    if (oy >= i32(p.outH)) { continue; }
    let row = (n * p.outH + u32(oy)) * p.outW;
    let w0 = weight[(ky * 3u) * p.inQ + q];
    let w1 = weight[(ky * 3u + 1u) * p.inQ + q];
    let w2 = weight[(ky * 3u + 2u) * p.inQ + q];
    if (STRIDE == 2u) {
      // Columns m + j with m = ix0 / 2: pixel 2k reads c_k·w1, pixel 2k + 1 reads c_{k+1}·w0 + c_k·w2.
      let m = i32(ix0 / 2u);
      var c0 = column(row, m, q);
      var c1 = column(row, m + 1, q);
      a0 += c0 * w1;
      a1 += c1 * w0 + c0 * w2;
      if (TX > 2u) { c0 = column(row, m + 2, q); a2 += c1 * w1; a3 += c0 * w0 + c1 * w2; }
      if (TX > 4u) { c1 = column(row, m + 3, q); a4 += c0 * w1; a5 += c1 * w0 + c0 * w2; }
      if (TX > 6u) { c0 = column(row, m + 4, q); a6 += c1 * w1; a7 += c0 * w0 + c1 * w2; }
      continue;
    }
    // Columns ox = ix0 + pad − 2 + j, j = 0 … TX + 1; pixel t reads j = t + 2 − kx.
    let o = i32(ix0 + p.pad) - 2;
    var c0 = column(row, o, q);
    var c1 = column(row, o + 1, q);
    var c2 = column(row, o + 2, q);
    a0 += c2 * w0 + c1 * w1 + c0 * w2;
    if (TX > 1u) { c0 = column(row, o + 3, q); a1 += c0 * w0 + c2 * w1 + c1 * w2; }
    if (TX > 2u) { c1 = column(row, o + 4, q); a2 += c1 * w0 + c0 * w1 + c2 * w2; }
    if (TX > 3u) { c2 = column(row, o + 5, q); a3 += c2 * w0 + c1 * w1 + c0 * w2; }
    if (TX > 4u) { c0 = column(row, o + 6, q); a4 += c0 * w0 + c2 * w1 + c1 * w2; }
    if (TX > 5u) { c1 = column(row, o + 7, q); a5 += c1 * w0 + c0 * w1 + c2 * w2; }
    if (TX > 6u) { c2 = column(row, o + 8, q); a6 += c2 * w0 + c1 * w1 + c0 * w2; }
    if (TX > 7u) { c0 = column(row, o + 9, q); a7 += c0 * w0 + c2 * w1 + c1 * w2; }
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
