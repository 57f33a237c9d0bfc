// A MobileNet block's depthwise 3×3 conv and its 1×1 projection in one pass (the planner's
// depthwise_project step): the depthwise output, the block's widest tensor, never goes to memory.
// One invocation computes TX neighbouring output pixels along x × TY (1 or 2) rows × QPI output
// quads (of group gid / tiles). For each expanded quad e it loads the input rows the block covers
// once (as depthwise_reg.wgsl does), applies the 9 taps, the depthwise bias and clamp, and adds
// that quad's projection blocks into every accumulator. Measured on llvmpipe (student shapes at
// 128², out/scratch prototypes): 0.5-0.7× the time of the tuned depthwise + pointwise pair, the
// saving being the widest tensor's stores and its reloads, once per two output quads.
//
// The weights come from one uniform buffer (vec4 index): taps [e][ky·3 + kx] at e·9, depthwise
// bias at 9·E + e, then the projection's [e][outQ] mat4x4 blocks (4 vec4 each, vec4 i holding
// the 4 outputs' weights for input i) at 10·E, E being the expanded quads (p.inQ); llvmpipe
// gathers a uniform read without a storage read's per-lane branches. The arithmetic is in
// `real` (f32, or f16 with the weights stored as f16): the uniform array is declared in mat4x4s
// because a uniform array's stride must be a multiple of 16 bytes, which a vec4<f16> is not.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> weight: array<mat4x4<real>, 1024>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: DepthwiseProjectParams;

override WG: u32 = 64u;
override STRIDE: u32 = 1u; // of the depthwise conv: 1 or 2
override TX: u32 = 8u; // output pixels along x per invocation: 1..8 at stride 1, 1..4 at stride 2
override TY: u32 = 2u; // output rows per invocation: 1 or 2
override QPI: u32 = 4u; // output quads per invocation, 1..8
override RESIDUAL: u32 = 0u; // 0 none, 1 add res, 2 add res where p.residual is 1

/** Weight vec4 i of the layout above. */
fn w(i: u32) -> vec4<real> {
  return weight[i / 4u][i % 4u];
}

/** Input column `ix` of one row, expanded quad e; columns outside the image are the zero padding. */
fn column(row: u32, ix: i32, e: u32) -> vec4<real> {
  let inside = ix >= 0 && ix < i32(p.inW);
  let at = (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.inStride + p.inOffset + e;
  return select(vec4<real>(0.0), vec4<real>(x[at]), inside);
}

/** acc + one tap row (taps u0..u2) applied to input columns c0..c9, for the TX pixels in use. */
fn addTaps(
  acc: Row,
  c: Row,
  c8: vec4<real>,
  c9: vec4<real>,
  u0: vec4<real>,
  u1: vec4<real>,
  u2: vec4<real>,
) -> Row {
  var r = acc;
  if (STRIDE == 1u) {
    r.p0 += c.p0 * u0 + c.p1 * u1 + c.p2 * u2;
    if (TX > 1u) { r.p1 += c.p1 * u0 + c.p2 * u1 + c.p3 * u2; }
    if (TX > 2u) { r.p2 += c.p2 * u0 + c.p3 * u1 + c.p4 * u2; }
    if (TX > 3u) { r.p3 += c.p3 * u0 + c.p4 * u1 + c.p5 * u2; }
    if (TX > 4u) { r.p4 += c.p4 * u0 + c.p5 * u1 + c.p6 * u2; }
    if (TX > 5u) { r.p5 += c.p5 * u0 + c.p6 * u1 + c.p7 * u2; }
    if (TX > 6u) { r.p6 += c.p6 * u0 + c.p7 * u1 + c8 * u2; }
    if (TX > 7u) { r.p7 += c.p7 * u0 + c8 * u1 + c9 * u2; }
  } else {
    r.p0 += c.p0 * u0 + c.p1 * u1 + c.p2 * u2;
    if (TX > 1u) { r.p1 += c.p2 * u0 + c.p3 * u1 + c.p4 * u2; }
    if (TX > 2u) { r.p2 += c.p4 * u0 + c.p5 * u1 + c.p6 * u2; }
    if (TX > 3u) { r.p3 += c.p6 * u0 + c.p7 * u1 + c8 * u2; }
  }
  return r;
}

/**
 * The depthwise epilogue: both activations are clamps (none, relu or relu6; the planner checks), so
 * the 2 · 8 · QPI stores do not each inline activate(): that made the pipeline compile 1.6× slower.
 */
fn clampRow(r: Row) -> Row {
  let lo = vec4<real>(real(max(p.dwLo, -REAL_MAX)));
  let hi = vec4<real>(real(min(p.dwHi, REAL_MAX)));
  return Row(
    clamp(r.p0, lo, hi),
    clamp(r.p1, lo, hi),
    clamp(r.p2, lo, hi),
    clamp(r.p3, lo, hi),
    clamp(r.p4, lo, hi),
    clamp(r.p5, lo, hi),
    clamp(r.p6, lo, hi),
    clamp(r.p7, lo, hi),
  );
}

/** The projection's block for expanded quad e and output quad q. */
fn block(e: u32, q: u32) -> mat4x4<real> {
  let at = 10u * p.inQ + (e * p.outQ + q) * 4u;
  return mat4x4<real>(w(at), w(at + 1u), w(at + 2u), w(at + 3u));
}

/** acc + block m applied to one depthwise output row. */
fn project(acc: Row, m: mat4x4<real>, d: Row) -> Row {
  var r = acc;
  r.p0 += m * d.p0;
  if (TX > 1u) { r.p1 += m * d.p1; }
  if (TX > 2u) { r.p2 += m * d.p2; }
  if (TX > 3u) { r.p3 += m * d.p3; }
  if (TX > 4u) { r.p4 += m * d.p4; }
  if (TX > 5u) { r.p5 += m * d.p5; }
  if (TX > 6u) { r.p6 += m * d.p6; }
  if (TX > 7u) { r.p7 += m * d.p7; }
  return r;
}

fn store(pixel: u32, q: u32, acc: vec4<real>) {
  var out = clamp(vec4<f32>(acc + bias[q]), vec4<f32>(p.lo), vec4<f32>(p.hi));
  if (RESIDUAL == 1u || (RESIDUAL == 2u && p.residual == 1u)) {
    out += res[pixel * p.resStride + p.resOffset + q];
  }
  y[pixel * p.outStride + p.outOffset + q] = out;
}

/** Output quad q of one row of the block, from pixel0 (at column ox0); pixels past the row are dropped. */
fn storeRow(pixel0: u32, ox0: u32, q: u32, a: Row) {
  if (q >= p.outQ) { return; }
  store(pixel0, q, a.p0);
  if (TX > 1u && ox0 + 1u < p.outW) { store(pixel0 + 1u, q, a.p1); }
  if (TX > 2u && ox0 + 2u < p.outW) { store(pixel0 + 2u, q, a.p2); }
  if (TX > 3u && ox0 + 3u < p.outW) { store(pixel0 + 3u, q, a.p3); }
  if (TX > 4u && ox0 + 4u < p.outW) { store(pixel0 + 4u, q, a.p4); }
  if (TX > 5u && ox0 + 5u < p.outW) { store(pixel0 + 5u, q, a.p5); }
  if (TX > 6u && ox0 + 6u < p.outW) { store(pixel0 + 6u, q, a.p6); }
  if (TX > 7u && ox0 + 7u < p.outW) { store(pixel0 + 7u, q, a.p7); }
}

/** One row of the block, output quads g .. g + QPI - 1. */
fn storeRows(
  pixel0: u32,
  ox0: u32,
  g: u32,
  r0: Row,
  r1: Row,
  r2: Row,
  r3: Row,
  r4: Row,
  r5: Row,
  r6: Row,
  r7: Row,
) {
  storeRow(pixel0, ox0, g, r0);
  if (QPI > 1u) { storeRow(pixel0, ox0, g + 1u, r1); }
  if (QPI > 2u) { storeRow(pixel0, ox0, g + 2u, r2); }
  if (QPI > 3u) { storeRow(pixel0, ox0, g + 3u, r3); }
  if (QPI > 4u) { storeRow(pixel0, ox0, g + 4u, r4); }
  if (QPI > 5u) { storeRow(pixel0, ox0, g + 5u, r5); }
  if (QPI > 6u) { storeRow(pixel0, ox0, g + 6u, r6); }
  if (QPI > 7u) { storeRow(pixel0, ox0, g + 7u, r7); }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let tilesX = (p.outW + TX - 1u) / TX;
  let tilesY = (p.outH + TY - 1u) / TY;
  let tiles = p.batch * tilesY * tilesX;
  let groups = (p.outQ + QPI - 1u) / QPI;
  if (i >= tiles * groups) { return; }
  let g = (i / tiles) * QPI; // first output quad
  let tile = i % tiles;
  let ox0 = (tile % tilesX) * TX;
  let rowTile = tile / tilesX; // n * tilesY + oy0 / TY
  let oy0 = (rowTile % tilesY) * TY;
  let n = rowTile / tilesY;

  let zero = vec4<real>(0.0);
  let z = Row(zero, zero, zero, zero, zero, zero, zero, zero);
  // a<q>: output row oy0, quad g + q; b<q>: row oy0 + 1 (TY = 2).
  var a0 = z; var a1 = z; var a2 = z; var a3 = z; var a4 = z; var a5 = z; var a6 = z; var a7 = z;
  var b0 = z; var b1 = z; var b2 = z; var b3 = z; var b4 = z; var b5 = z; var b6 = z; var b7 = z;
  let ix0 = i32(ox0 * STRIDE) - 1;
  let span = (TX - 1u) * STRIDE + 3u; // input columns the block covers, ≤ 10
  let rows = (TY - 1u) * STRIDE + 3u; // input rows it covers
  for (var e = 0u; e < p.inQ; e++) {
    let db = w(9u * p.inQ + e);
    var d = Row(db, db, db, db, db, db, db, db);
    var d2 = d;
    for (var r = 0u; r < rows; r++) {
      let iy = i32(oy0 * STRIDE + r) - 1;
      if (iy < 0 || iy >= i32(p.inH)) { continue; }
      let row = (n * p.inH + u32(iy)) * p.inW;
      // Input columns ix0 .. ix0 + 9 of this row: c.p0..p7, c8, c9 (0 past the block's span).
      var c = z;
      var c8 = zero;
      var c9 = zero;
      c.p0 = column(row, ix0, e);
      c.p1 = column(row, ix0 + 1, e);
      c.p2 = column(row, ix0 + 2, e);
      if (span > 3u) { c.p3 = column(row, ix0 + 3, e); }
      if (span > 4u) { c.p4 = column(row, ix0 + 4, e); }
      if (span > 5u) { c.p5 = column(row, ix0 + 5, e); }
      if (span > 6u) { c.p6 = column(row, ix0 + 6, e); }
      if (span > 7u) { c.p7 = column(row, ix0 + 7, e); }
      if (span > 8u) { c8 = column(row, ix0 + 8, e); }
      if (span > 9u) { c9 = column(row, ix0 + 9, e); }
      // Output row oy0 takes this input row with tap row r; row oy0 + 1 with tap row r - STRIDE.
      if (r < 3u) {
        let t = e * 9u + r * 3u;
        d = addTaps(d, c, c8, c9, w(t), w(t + 1u), w(t + 2u));
      }
      if (TY > 1u && r >= STRIDE) {
        let t = e * 9u + (r - STRIDE) * 3u;
        d2 = addTaps(d2, c, c8, c9, w(t), w(t + 1u), w(t + 2u));
      }
    }
    d = clampRow(d);
    d2 = clampRow(d2); // unused when TY = 1
    // Each block feeds both output rows.
    { let m = block(e, g); a0 = project(a0, m, d); if (TY > 1u) { b0 = project(b0, m, d2); } }
    if (QPI > 1u) { let m = block(e, g + 1u); a1 = project(a1, m, d); if (TY > 1u) { b1 = project(b1, m, d2); } }
    if (QPI > 2u) { let m = block(e, g + 2u); a2 = project(a2, m, d); if (TY > 1u) { b2 = project(b2, m, d2); } }
    if (QPI > 3u) { let m = block(e, g + 3u); a3 = project(a3, m, d); if (TY > 1u) { b3 = project(b3, m, d2); } }
    if (QPI > 4u) { let m = block(e, g + 4u); a4 = project(a4, m, d); if (TY > 1u) { b4 = project(b4, m, d2); } }
    if (QPI > 5u) { let m = block(e, g + 5u); a5 = project(a5, m, d); if (TY > 1u) { b5 = project(b5, m, d2); } }
    if (QPI > 6u) { let m = block(e, g + 6u); a6 = project(a6, m, d); if (TY > 1u) { b6 = project(b6, m, d2); } }
    if (QPI > 7u) { let m = block(e, g + 7u); a7 = project(a7, m, d); if (TY > 1u) { b7 = project(b7, m, d2); } }
  }

  let pixel0 = (n * p.outH + oy0) * p.outW + ox0;
  storeRows(pixel0, ox0, g, a0, a1, a2, a3, a4, a5, a6, a7);
  if (TY > 1u && oy0 + 1u < p.outH) {
    storeRows(pixel0 + p.outW, ox0, g, b0, b1, b2, b3, b4, b5, b6, b7);
  }
}
