// The student's head without its full-resolution upsample: residual_mask(image,
// conv3x3(concat(upsample2x(h), skip))), one output quad. Upsampling is linear and the same at
// every even (odd) output row and column, so the 3×3 conv of the upsampled h is, per output
// phase (a, b), a 3×3 conv of h itself with composed weights (packed on the host by the
// upsample_conv2d_residual_mask op). One invocation computes 2 output rows × 2·TL columns over TL
// low-res columns (upsample_head_tiles.wgsl, appended): it loads 3 × (TL+2) values per quad of h
// where the upsampled input took 4 × (2·TL+2), and the upsampled tensor is never stored. The skip
// (the image) is convolved as in conv2d_few.wgsl. Measured on llvmpipe at 128² (256²): 0.92×
// (0.85×) the time of the upsample and the fused head conv it replaces.
//
// Weights (mat4x4 blocks, one output quad): composed [a][b][dy][dx][UP_Q], then the skip's
// [ky][kx][S_Q], then the plain [ky][kx][UP_Q] for the edges (addEdges). Arithmetic in `real`.

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

/** acc + the composed tap at block w (phase (0, 0)) at all four phases, over s0 .. s3. */
fn addComposedAt(
  acc: Pair,
  w: u32,
  s0: vec4<real>, s1: vec4<real>, s2: vec4<real>, s3: vec4<real>,
) -> Pair {
  let phase = 9u * UP_Q; // phase (a, b) adds (a · 2 + b) · 9 · UP_Q
  return addComposed(acc, s0, s1, s2, s3,
    weight[w], weight[w + phase], weight[w + 2u * phase], weight[w + 3u * phase]);
}

/** acc + low-res row dy (loaded columns l.p0 ..) under every output pixel of both rows. */
fn addLowRow(acc: Pair, l: Row, dy: u32, q: u32) -> Pair {
  let w = dy * 3u * UP_Q + q; // tap (dy, dx) is at w + dx · UP_Q
  var o = addComposedAt(acc, w, l.p0, l.p1, l.p2, l.p3);
  o = addComposedAt(o, w + UP_Q, l.p1, l.p2, l.p3, l.p4);
  return addComposedAt(o, w + 2u * UP_Q, l.p2, l.p3, l.p4, l.p5);
}

/** The plain weight block of tap (ky, kx), quad q of h. */
fn plain(ky: u32, kx: u32, q: u32) -> mat4x4<real> {
  return weight[36u * UP_Q + 9u * S_Q + (ky * 3u + kx) * UP_Q + q];
}

/** The skip's weight block of tap (ky, kx), quad q. */
fn skipBlock(ky: u32, kx: u32, q: u32) -> mat4x4<real> {
  return weight[36u * UP_Q + (ky * 3u + kx) * S_Q + q];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= tileCount()) { return; }
  let t = tileAt(i);

  var acc = biasPair(bias[0]);
  for (var q = 0u; q < UP_Q; q++) {
    // Interior: low-res column t feeds output columns 2t and 2t + 1 of both rows.
    let l0 = lowColumns(t.rowA, t.ix0, q);
    let l1 = lowColumns(t.rowB, t.ix0, q);
    let l2 = lowColumns(t.rowC, t.ix0, q);
    acc = addLowRow(acc, l0, 0u, q);
    acc = addLowRow(acc, l1, 1u, q);
    acc = addLowRow(acc, l2, 2u, q);
  }
  // Edges after the interior, so that its loop stays lean.
  if (t.top || t.bottom || t.left || t.right) {
    for (var q = 0u; q < UP_Q; q++) {
      acc = addEdges(t, q, acc, plain(0u, 0u, q), plain(0u, 1u, q), plain(0u, 2u, q),
        plain(1u, 0u, q), plain(1u, 2u, q), plain(2u, 0u, q), plain(2u, 1u, q), plain(2u, 2u, q));
    }
  }
  for (var q = 0u; q < S_Q; q++) {
    acc = addSkip(t, q, acc, skipBlock(0u, 0u, q), skipBlock(0u, 1u, q), skipBlock(0u, 2u, q),
      skipBlock(1u, 0u, q), skipBlock(1u, 1u, q), skipBlock(1u, 2u, q), skipBlock(2u, 0u, q),
      skipBlock(2u, 1u, q), skipBlock(2u, 2u, q));
  }
  storeTile(t, acc);
}
