// The student's head without its full-resolution upsample: residual_mask(image,
// conv3x3(concat(upsample2x(h), skip))), one output quad. Upsampling is linear and the same at
// every even (odd) output row and column, so the 3×3 conv of the upsampled h is, per output
// phase (a, b), a 3×3 conv of h itself with composed weights (packed on the host by the
// upsample_conv2d_residual_mask op). One invocation computes 2 output rows × 2·TL columns over TL
// low-res columns: it loads 3 × (TL+2) values per quad of h where the upsampled input took
// 4 × (2·TL+2), and the upsampled tensor is never stored. The skip (the image) is convolved as in
// conv2d_few.wgsl. Measured on llvmpipe at 128² (256²): 0.92× (0.85×) the time of the upsample
// and the fused head conv it replaces.
//
// Composed weights read h with clamped indices, which extends the upsample by replicating its
// edge, whereas the conv pads it with zeros: on the outermost output rows and columns the taps
// that fall outside are subtracted again (blocks of the plain weights, applied to edge values
// blended from the loaded ones), and a corner's tap that both subtractions took is added back.
//
// Weights (mat4x4 blocks, one output quad): composed [a][b][dy][dx][UP_Q], then the skip's
// [ky][kx][S_Q], then the plain [ky][kx][UP_Q] for the edges. Arithmetic in `real`.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; // h, at half the output size
@group(0) @binding(1) var<storage, read> skip: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> res: array<vec4<f32>>; // the image
@group(0) @binding(3) var<uniform> weight: array<mat4x4<real>, 1024>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<real>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: UpsampleConvParams;

override WG: u32 = 64u;
override TL: u32 = 4u; // low-res columns per invocation: 1, 2 or 4 (2·TL output columns)
override UP_Q: u32 = 4u; // quads of h
override S_Q: u32 = 1u; // quads of the skip
override MODE: u32 = 1u; // 0 nearest, 1 bilinear (align_corners=False)
override MASK_LANE: u32 = 3u; // the mask logit's lane; lanes below it are deltas

fn skipBase() -> u32 {
  return 36u * UP_Q;
}

/** Both output rows' accumulators: row 2·iy (a = 0) and 2·iy + 1 (a = 1). */
struct Pair {
  r0: Row,
  r1: Row,
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

/** acc + the composed taps (dy, dx) of all four phases, dx's low-res values s0 .. s3. */
fn addComposed(
  acc: Pair,
  dy: u32,
  dx: u32,
  q: u32,
  s0: vec4<real>,
  s1: vec4<real>,
  s2: vec4<real>,
  s3: vec4<real>,
) -> Pair {
  let w = (dy * 3u + dx) * UP_Q + q; // phase (a, b) adds (a · 2 + b) · 9 · UP_Q
  let phase = 9u * UP_Q;
  var o = acc;
  o.r0 = addPhase(o.r0, 0u, s0, s1, s2, s3, weight[w]);
  o.r0 = addPhase(o.r0, 1u, s0, s1, s2, s3, weight[w + phase]);
  o.r1 = addPhase(o.r1, 0u, s0, s1, s2, s3, weight[w + 2u * phase]);
  o.r1 = addPhase(o.r1, 1u, s0, s1, s2, s3, weight[w + 3u * phase]);
  return o;
}

/** acc + low-res row dy (loaded columns l.p0 ..) under every output pixel of both rows. */
fn addLowRow(acc: Pair, l: Row, dy: u32, q: u32) -> Pair {
  var o = addComposed(acc, dy, 0u, q, l.p0, l.p1, l.p2, l.p3);
  o = addComposed(o, dy, 1u, q, l.p1, l.p2, l.p3, l.p4);
  return addComposed(o, dy, 2u, q, l.p2, l.p3, l.p4, l.p5);
}

/** The plain weight block of tap (ky, kx), quad q of h. */
fn plain(ky: u32, kx: u32, q: u32) -> mat4x4<real> {
  return weight[36u * UP_Q + 9u * S_Q + (ky * 3u + kx) * UP_Q + q];
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

/** acc + one row of skip taps (blocks m0..m2) applied to columns c0..c9, for 2·TL pixels. */
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

/** Σ over ky of plain(ky, kx) · the column's rows under output row 2·iy + a. */
fn columnTaps(f: Four, kx: u32, q: u32, a: u32) -> vec4<real> {
  if (a == 0u) {
    return plain(0u, kx, q) * f.u0 + plain(1u, kx, q) * f.u1 + plain(2u, kx, q) * f.u2;
  }
  return plain(0u, kx, q) * f.u1 + plain(1u, kx, q) * f.u2 + plain(2u, kx, q) * f.u3;
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

/** acc + the skip's taps of row ky applied to one loaded skip row. */
fn addSkipTaps(acc: Row, s: Wide, ky: u32, q: u32) -> Row {
  let w = skipBase() + ky * 3u * S_Q + q;
  return addTaps(acc, s.r, s.c8, s.c9, weight[w], weight[w + S_Q], weight[w + 2u * S_Q]);
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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  // Tiles go down the columns, so that neighbouring invocations (one SIMD group on a CPU) share a
  // tile column: only the first and last columns' groups take the left and right edge branches.
  let tiles = p.inW / TL; // the variant applies where TL divides the low-res width
  let rows = p.batch * p.inH;
  if (i >= tiles * rows) { return; }
  let lowRow = i % rows; // n · inH + iy
  let j0 = (i / rows) * TL;
  let iy = lowRow % p.inH;
  let n = lowRow / p.inH;
  let top = iy == 0u;
  let bottom = iy == p.inH - 1u;
  let left = j0 == 0u;
  let right = j0 + TL == p.inW;

  let b = bias[0];
  var r0 = Row(b, b, b, b, b, b, b, b); // output row 2·iy
  var r1 = r0; // output row 2·iy + 1

  let rowA = n * p.inH + select(iy - 1u, 0u, top);
  let rowB = n * p.inH + iy;
  let rowC = n * p.inH + select(iy + 1u, iy, bottom);
  let ix0 = i32(j0) - 1;
  for (var q = 0u; q < UP_Q; q++) {
    let l0 = lowColumns(rowA, ix0, q);
    let l1 = lowColumns(rowB, ix0, q);
    let l2 = lowColumns(rowC, ix0, q);

    // Interior: low-res column t feeds output columns 2t and 2t + 1 of both rows.
    var acc = addLowRow(Pair(r0, r1), l0, 0u, q);
    acc = addLowRow(acc, l1, 1u, q);
    acc = addLowRow(acc, l2, 2u, q);
    r0 = acc.r0;
    r1 = acc.r1;
  }

  // Edges, after the interior so that its loop stays lean: subtract the taps that read the zero
  // padding as replicated edge values. The outermost upsampled row is row iy's (0 or the last)
  // upsampled along x; the outermost column is column j0's (0) or j0 + TL - 1's (the last)
  // upsampled along y. A corner's tap is in both.
  if (top || bottom || left || right) {
    for (var q = 0u; q < UP_Q; q++) {
      let zero = vec4<real>(0.0);
      let zeros = Row(zero, zero, zero, zero, zero, zero, zero, zero);
      if (top || bottom) {
        let edge = widen(lowColumns(rowB, ix0, q));
        if (top) {
          let m0 = plain(0u, 0u, q);
          let m1 = plain(0u, 1u, q);
          let m2 = plain(0u, 2u, q);
          r0 = minus(r0, addTaps(zeros, edge.r, edge.c8, edge.c9, m0, m1, m2));
        }
        if (bottom) {
          let m0 = plain(2u, 0u, q);
          let m1 = plain(2u, 1u, q);
          let m2 = plain(2u, 2u, q);
          r1 = minus(r1, addTaps(zeros, edge.r, edge.c8, edge.c9, m0, m1, m2));
        }
      }
      if (left) {
        let v = low(rowB, i32(j0), q);
        let f = tall(low(rowA, i32(j0), q), v, low(rowC, i32(j0), q));
        r0.p0 -= columnTaps(f, 0u, q, 0u);
        r1.p0 -= columnTaps(f, 0u, q, 1u);
        if (top) { r0.p0 += plain(0u, 0u, q) * v; }
        if (bottom) { r1.p0 += plain(2u, 0u, q) * v; }
      }
      if (right) {
        let last = i32(j0 + TL) - 1;
        let v = low(rowB, last, q);
        let f = tall(low(rowA, last, q), v, low(rowC, last, q));
        var c0 = -columnTaps(f, 2u, q, 0u);
        var c1 = -columnTaps(f, 2u, q, 1u);
        if (top) { c0 += plain(0u, 2u, q) * v; }
        if (bottom) { c1 += plain(2u, 2u, q) * v; }
        r0 = addLast(r0, c0);
        r1 = addLast(r1, c1);
      }
    }
  }

  // The skip: rows 2·iy - 1 .. 2·iy + 2 feed r0 (taps ky = 0..2) and r1 (the next three).
  let oy0 = 2u * iy;
  for (var q = 0u; q < S_Q; q++) {
    let s0 = skipRow(n, i32(oy0) - 1, j0, q);
    let s1 = skipRow(n, i32(oy0), j0, q);
    let s2 = skipRow(n, i32(oy0) + 1, j0, q);
    let s3 = skipRow(n, i32(oy0) + 2, j0, q);
    r0 = addSkipTaps(r0, s0, 0u, q);
    r0 = addSkipTaps(r0, s1, 1u, q);
    r0 = addSkipTaps(r0, s2, 2u, q);
    r1 = addSkipTaps(r1, s1, 0u, q);
    r1 = addSkipTaps(r1, s2, 1u, q);
    r1 = addSkipTaps(r1, s3, 2u, q);
  }

  let pixel0 = (n * p.outH + oy0) * p.outW + 2u * j0;
  storeRow(pixel0, r0);
  storeRow(pixel0 + p.outW, r1);
}
