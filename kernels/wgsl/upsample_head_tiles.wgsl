// The fused head's tile, shared by upsample_conv_head.wgsl (weight blocks from a uniform array) and
// upsample_conv_head_baked.wgsl (weight blocks as literals): one invocation computes 2 output rows
// × 2·TL columns over TL low-res columns of h. Every function here takes its weight blocks as
// arguments, so the two kernels differ only in where the blocks come from. The kernels declare
// x (h), skip, res (the image), y, p and the overrides TL, MODE and MASK_LANE.

/** Both output rows' accumulators: row 2·iy (a = 0) and 2·iy + 1 (a = 1). */
struct Pair {
  r0: Row,
  r1: Row,
}

/** Where invocation i's tile lies, and which edges of the output it touches. */
struct Tile {
  n: u32,
  iy: u32,
  j0: u32,
  /** Low-res rows iy - 1, iy, iy + 1 as n · inH + row, clamped to the image. */
  rowA: u32,
  rowB: u32,
  rowC: u32,
  ix0: i32,
  top: bool,
  bottom: bool,
  left: bool,
  right: bool,
}

fn tileCount() -> u32 {
  return (p.inW / TL) * p.batch * p.inH; // the variants apply where TL divides the low-res width
}

fn tileAt(i: u32) -> Tile {
  // Tiles go down the columns, so that neighbouring invocations (one SIMD group on a CPU) share a
  // tile column: only the first and last columns' groups take the left and right edge branches.
  let rows = p.batch * p.inH;
  let lowRow = i % rows; // n · inH + iy
  let j0 = (i / rows) * TL;
  let iy = lowRow % p.inH;
  let n = lowRow / p.inH;
  let top = iy == 0u;
  let bottom = iy == p.inH - 1u;
  return Tile(
    n,
    iy,
    j0,
    n * p.inH + select(iy - 1u, 0u, top),
    lowRow,
    n * p.inH + select(iy + 1u, iy, bottom),
    i32(j0) - 1,
    top,
    bottom,
    j0 == 0u,
    j0 + TL == p.inW,
  );
}

fn biasPair(b: vec4<real>) -> Pair {
  let r = Row(b, b, b, b, b, b, b, b);
  return Pair(r, r);
}

/** acc + block m at output columns 2t + b (t < TL) applied to low-res values s0 .. s3. */
fn addPhase(
  acc: Row,
  b: u32,
  s0: vec4<real>,
  s1: vec4<real>,
  s2: vec4<real>,
  s3: vec4<real>,
  m: mat4x4<real>,
) -> Row {
  var r = acc;
  if (b == 0u) {
    r.p0 += m * s0;
    if (TL > 1u) { r.p2 += m * s1; }
    if (TL > 2u) {
      r.p4 += m * s2;
      r.p6 += m * s3;
    }
  } else {
    r.p1 += m * s0;
    if (TL > 1u) { r.p3 += m * s1; }
    if (TL > 2u) {
      r.p5 += m * s2;
      r.p7 += m * s3;
    }
  }
  return r;
}

/**
 * acc + one composed tap (dy, dx) at all four output phases (a, b), its block of phase (a, b) in
 * m[a · 2 + b], over the low-res values s0 .. s3 of column dx.
 */
fn addComposed(
  acc: Pair,
  s0: vec4<real>,
  s1: vec4<real>,
  s2: vec4<real>,
  s3: vec4<real>,
  m0: mat4x4<real>,
  m1: mat4x4<real>,
  m2: mat4x4<real>,
  m3: mat4x4<real>,
) -> Pair {
  var o = acc;
  o.r0 = addPhase(o.r0, 0u, s0, s1, s2, s3, m0);
  o.r0 = addPhase(o.r0, 1u, s0, s1, s2, s3, m1);
  o.r1 = addPhase(o.r1, 0u, s0, s1, s2, s3, m2);
  o.r1 = addPhase(o.r1, 1u, s0, s1, s2, s3, m3);
  return o;
}

/** Low-res column `ix` (clamped) of row `row` (already clamped), quad q. */
fn low(row: u32, ix: i32, q: u32) -> vec4<real> {
  let col = u32(clamp(ix, 0, i32(p.inW) - 1));
  return vec4<real>(x[(row * p.inW + col) * p.inStride + p.inOffset + q]);
}

/** Low-res columns ix0 .. ix0 + TL + 1 (clamped) of one row, quad q: the tile's p0 .. p(TL+1). */
fn lowColumns(row: u32, ix0: i32, q: u32) -> Row {
  let zero = vec4<real>(0.0);
  var l = Row(zero, zero, zero, zero, zero, zero, zero, zero);
  l.p0 = low(row, ix0, q);
  l.p1 = low(row, ix0 + 1, q);
  l.p2 = low(row, ix0 + 2, q);
  if (TL > 1u) { l.p3 = low(row, ix0 + 3, q); }
  if (TL > 2u) {
    l.p4 = low(row, ix0 + 4, q);
    l.p5 = low(row, ix0 + 5, q);
  }
  return l;
}

/** Skip column `ox` of full-res row `row` (n · outH + oy), quad q; zero outside (padding). */
fn skipAt(row: u32, ox: i32, q: u32) -> vec4<real> {
  let inside = ox >= 0 && ox < i32(p.outW);
  let at = (row * p.outW + u32(clamp(ox, 0, i32(p.outW) - 1))) * p.skipStride + p.skipOffset + q;
  return select(vec4<real>(0.0), vec4<real>(skip[at]), inside);
}

/** acc + one row of taps (blocks m0..m2) applied to columns c0..c9, for 2·TL pixels. */
fn addTaps(
  acc: Row,
  c: Row,
  c8: vec4<real>,
  c9: vec4<real>,
  m0: mat4x4<real>,
  m1: mat4x4<real>,
  m2: mat4x4<real>,
) -> Row {
  var r = acc;
  r.p0 += m0 * c.p0 + m1 * c.p1 + m2 * c.p2;
  r.p1 += m0 * c.p1 + m1 * c.p2 + m2 * c.p3;
  if (TL > 1u) {
    r.p2 += m0 * c.p2 + m1 * c.p3 + m2 * c.p4;
    r.p3 += m0 * c.p3 + m1 * c.p4 + m2 * c.p5;
  }
  if (TL > 2u) {
    r.p4 += m0 * c.p4 + m1 * c.p5 + m2 * c.p6;
    r.p5 += m0 * c.p5 + m1 * c.p6 + m2 * c.p7;
    r.p6 += m0 * c.p6 + m1 * c.p7 + m2 * c8;
    r.p7 += m0 * c.p7 + m1 * c8 + m2 * c9;
  }
  return r;
}

/** 2·TL + 2 neighbouring columns (p0 .. p7, c8, c9): a skip row, or a low-res row upsampled. */
struct Wide {
  r: Row,
  c8: vec4<real>,
  c9: vec4<real>,
}

/** Upsampled columns 2·j0 - 1 .. 2·j0 + 2·TL of a row of loaded low-res columns j0 - 1 ... */
fn widen(l: Row) -> Wide {
  let e = real(upEven(MODE == 1u));
  let o = real(upOdd(MODE == 1u));
  var w = Wide(l, vec4<real>(0.0), vec4<real>(0.0));
  w.r.p0 = mix(l.p0, l.p1, o);
  w.r.p1 = mix(l.p0, l.p1, e);
  w.r.p2 = mix(l.p1, l.p2, o);
  w.r.p3 = mix(l.p1, l.p2, e);
  if (TL > 1u) {
    w.r.p4 = mix(l.p2, l.p3, o);
    w.r.p5 = mix(l.p2, l.p3, e);
  }
  if (TL > 2u) {
    w.r.p6 = mix(l.p3, l.p4, o);
    w.r.p7 = mix(l.p3, l.p4, e);
    w.c8 = mix(l.p4, l.p5, o);
    w.c9 = mix(l.p4, l.p5, e);
  }
  return w;
}

/** An upsampled column's rows 2·iy - 1 .. 2·iy + 2, from low-res rows iy - 1, iy, iy + 1. */
struct Four {
  u0: vec4<real>,
  u1: vec4<real>,
  u2: vec4<real>,
  u3: vec4<real>,
}

fn tall(a: vec4<real>, b: vec4<real>, c: vec4<real>) -> Four {
  let e = real(upEven(MODE == 1u));
  let o = real(upOdd(MODE == 1u));
  return Four(mix(a, b, o), mix(a, b, e), mix(b, c, o), mix(b, c, e));
}

/** Σ over ky of block m_ky · the column's rows under output row 2·iy + a. */
fn columnTaps(f: Four, a: u32, m0: mat4x4<real>, m1: mat4x4<real>, m2: mat4x4<real>) -> vec4<real> {
  if (a == 0u) {
    return m0 * f.u0 + m1 * f.u1 + m2 * f.u2;
  }
  return m0 * f.u1 + m1 * f.u2 + m2 * f.u3;
}

/** r with v added to its last pixel (2·TL - 1). */
fn addLast(r: Row, v: vec4<real>) -> Row {
  var o = r;
  if (TL == 1u) {
    o.p1 += v;
  } else if (TL == 2u) {
    o.p3 += v;
  } else {
    o.p7 += v;
  }
  return o;
}

/** acc - e over the tile's pixels. */
fn minus(acc: Row, e: Row) -> Row {
  return Row(
    acc.p0 - e.p0,
    acc.p1 - e.p1,
    acc.p2 - e.p2,
    acc.p3 - e.p3,
    acc.p4 - e.p4,
    acc.p5 - e.p5,
    acc.p6 - e.p6,
    acc.p7 - e.p7,
  );
}

/**
 * Composed weights read h with clamped indices, which extends the upsample by replicating its
 * edge, whereas the conv pads it with zeros: on the outermost output rows and columns this
 * subtracts the taps of quad q (plain blocks k<ky><kx>) that fell outside, applied to edge values
 * blended from the loaded ones. The outermost upsampled row is row iy's (0 or the last) upsampled
 * along x; the outermost column is column j0's (0) or j0 + TL - 1's (the last) upsampled along y.
 * A corner's tap is in both, so it is added back.
 */
fn addEdges(
  t: Tile, q: u32, acc: Pair,
  k00: mat4x4<real>, k01: mat4x4<real>, k02: mat4x4<real>,
  k10: mat4x4<real>, k12: mat4x4<real>,
  k20: mat4x4<real>, k21: mat4x4<real>, k22: mat4x4<real>,
) -> Pair {
  var o = acc;
  let zero = vec4<real>(0.0);
  let zeros = Row(zero, zero, zero, zero, zero, zero, zero, zero);
  if (t.top || t.bottom) {
    let edge = widen(lowColumns(t.rowB, t.ix0, q));
    if (t.top) { o.r0 = minus(o.r0, addTaps(zeros, edge.r, edge.c8, edge.c9, k00, k01, k02)); }
    if (t.bottom) { o.r1 = minus(o.r1, addTaps(zeros, edge.r, edge.c8, edge.c9, k20, k21, k22)); }
  }
  if (t.left) {
    let v = low(t.rowB, i32(t.j0), q);
    let f = tall(low(t.rowA, i32(t.j0), q), v, low(t.rowC, i32(t.j0), q));
    o.r0.p0 -= columnTaps(f, 0u, k00, k10, k20);
    o.r1.p0 -= columnTaps(f, 1u, k00, k10, k20);
    if (t.top) { o.r0.p0 += k00 * v; }
    if (t.bottom) { o.r1.p0 += k20 * v; }
  }
  if (t.right) {
    let last = i32(t.j0 + TL) - 1;
    let v = low(t.rowB, last, q);
    let f = tall(low(t.rowA, last, q), v, low(t.rowC, last, q));
    var c0 = -columnTaps(f, 0u, k02, k12, k22);
    var c1 = -columnTaps(f, 1u, k02, k12, k22);
    if (t.top) { c0 += k02 * v; }
    if (t.bottom) { c1 += k22 * v; }
    o.r0 = addLast(o.r0, c0);
    o.r1 = addLast(o.r1, c1);
  }
  return o;
}

/** Skip row oy (zero outside: the padding), columns 2·j0 - 1 .. 2·j0 + 2·TL, quad q. */
fn skipRow(n: u32, oy: i32, j0: u32, q: u32) -> Wide {
  let zero = vec4<real>(0.0);
  var w = Wide(Row(zero, zero, zero, zero, zero, zero, zero, zero), zero, zero);
  if (oy < 0 || oy >= i32(p.outH)) { return w; }
  let row = n * p.outH + u32(oy);
  let ox0 = i32(2u * j0) - 1;
  w.r.p0 = skipAt(row, ox0, q);
  w.r.p1 = skipAt(row, ox0 + 1, q);
  w.r.p2 = skipAt(row, ox0 + 2, q);
  w.r.p3 = skipAt(row, ox0 + 3, q);
  if (TL > 1u) {
    w.r.p4 = skipAt(row, ox0 + 4, q);
    w.r.p5 = skipAt(row, ox0 + 5, q);
  }
  if (TL > 2u) {
    w.r.p6 = skipAt(row, ox0 + 6, q);
    w.r.p7 = skipAt(row, ox0 + 7, q);
    w.c8 = skipAt(row, ox0 + 8, q);
    w.c9 = skipAt(row, ox0 + 9, q);
  }
  return w;
}

/**
 * acc + the skip's quad q convolved as in conv2d_few.wgsl (blocks k<ky><kx>): rows 2·iy - 1 ..
 * 2·iy + 2 feed output row 2·iy (taps ky = 0..2) and 2·iy + 1 (the next three).
 */
fn addSkip(
  t: Tile, q: u32, acc: Pair,
  k00: mat4x4<real>, k01: mat4x4<real>, k02: mat4x4<real>,
  k10: mat4x4<real>, k11: mat4x4<real>, k12: mat4x4<real>,
  k20: mat4x4<real>, k21: mat4x4<real>, k22: mat4x4<real>,
) -> Pair {
  let oy0 = i32(2u * t.iy);
  let s0 = skipRow(t.n, oy0 - 1, t.j0, q);
  let s1 = skipRow(t.n, oy0, t.j0, q);
  let s2 = skipRow(t.n, oy0 + 1, t.j0, q);
  let s3 = skipRow(t.n, oy0 + 2, t.j0, q);
  var o = acc;
  o.r0 = addTaps(o.r0, s0.r, s0.c8, s0.c9, k00, k01, k02);
  o.r0 = addTaps(o.r0, s1.r, s1.c8, s1.c9, k10, k11, k12);
  o.r0 = addTaps(o.r0, s2.r, s2.c8, s2.c9, k20, k21, k22);
  o.r1 = addTaps(o.r1, s1.r, s1.c8, s1.c9, k00, k01, k02);
  o.r1 = addTaps(o.r1, s2.r, s2.c8, s2.c9, k10, k11, k12);
  o.r1 = addTaps(o.r1, s3.r, s3.c8, s3.c9, k20, k21, k22);
  return o;
}

fn store(pixel: u32, acc: vec4<real>) {
  let image = res[pixel * p.resStride + p.resOffset];
  y[pixel * p.outStride + p.outOffset] = headOutput(image, vec4<f32>(acc), p.alpha, MASK_LANE);
}

fn storeRow(pixel0: u32, r: Row) {
  store(pixel0, r.p0);
  store(pixel0 + 1u, r.p1);
  if (TL > 1u) {
    store(pixel0 + 2u, r.p2);
    store(pixel0 + 3u, r.p3);
  }
  if (TL > 2u) {
    store(pixel0 + 4u, r.p4);
    store(pixel0 + 5u, r.p5);
    store(pixel0 + 6u, r.p6);
    store(pixel0 + 7u, r.p7);
  }
}

/** The residual + mask over both output rows of the tile. */
fn storeTile(t: Tile, acc: Pair) {
  let pixel0 = (t.n * p.outH + 2u * t.iy) * p.outW + 2u * t.j0;
  storeRow(pixel0, acc.r0);
  storeRow(pixel0 + p.outW, acc.r1);
}
