// Weight gradient of a depthwise 3×3 convolution (stride 1 or 2), register-blocked: one invocation
// owns one channel quad, all 9 taps, and a chunk of output rows. It walks each output row once,
// loading dz once per pixel and sliding a 3-column window of input along each of the 3 input rows
// (1 new column per pixel at stride 1, 2 at stride 2), so a pixel costs 4 (or 7) loads for 9
// multiply-adds instead of 18 loads. Rows and columns outside the input are the zero padding.
// Same packing and partial sums as depthwise_grad_weight.wgsl; the block is spelled out as named
// variables (arrays indexed in loops stay in memory on llvmpipe).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override STRIDE: u32 = 1u; // 1 or 2
override ACCUM: bool = false;

/** Input column ix of a row (its first pixel's index), quad q; 0 outside the image. */
fn column(row: u32, live: bool, ix: i32, q: u32) -> vec4<f32> {
  let inside = live && ix >= 0 && ix < i32(p.inW);
  let at = (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.xStride + p.xOffset + q;
  return select(vec4<f32>(0.0), x[at], inside);
}

fn store(at: u32, v: vec4<f32>, live: vec4<bool>) {
  var out = select(vec4<f32>(0.0), v, live);
  if (ACCUM) { out += dw[at]; }
  dw[at] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  if (i >= p.outQ * p.splits) { return; }
  let q = i % p.outQ;
  let split = i / p.outQ;
  let pad = i32(p.pad);

  // a<ky><kx>
  var a00 = vec4<f32>(0.0); var a01 = a00; var a02 = a00;
  var a10 = a00; var a11 = a00; var a12 = a00;
  var a20 = a00; var a21 = a00; var a22 = a00;
  let r0 = split * p.rowsPerSplit;
  let r1 = min(r0 + p.rowsPerSplit, p.batch * p.outH);
  for (var r = r0; r < r1; r++) {
    let n = r / p.outH;
    let iy = i32((r % p.outH) * STRIDE) - pad;
    let l0 = iy >= 0 && iy < i32(p.inH);
    let l1 = iy + 1 >= 0 && iy + 1 < i32(p.inH);
    let l2 = iy + 2 >= 0 && iy + 2 < i32(p.inH);
    let img = n * p.inH;
    let row0 = (img + u32(clamp(iy, 0, i32(p.inH) - 1))) * p.inW;
    let row1 = (img + u32(clamp(iy + 1, 0, i32(p.inH) - 1))) * p.inW;
    let row2 = (img + u32(clamp(iy + 2, 0, i32(p.inH) - 1))) * p.inW;
    // Window columns ix = ox·STRIDE − pad + {0, 1, 2}; a/b/c per row.
    var w0a = column(row0, l0, -pad, q);
    var w1a = column(row1, l1, -pad, q);
    var w2a = column(row2, l2, -pad, q);
    var w0b = column(row0, l0, 1 - pad, q);
    var w1b = column(row1, l1, 1 - pad, q);
    var w2b = column(row2, l2, 1 - pad, q);
    let dzRow = r * p.outW;
    for (var ox = 0u; ox < p.outW; ox++) {
      let d = dz[(dzRow + ox) * p.dzStride + p.dzOffset + q];
      let ix = i32(ox * STRIDE) - pad;
      if (STRIDE == 2u && ox > 0u) {
        w0b = column(row0, l0, ix + 1, q);
        w1b = column(row1, l1, ix + 1, q);
        w2b = column(row2, l2, ix + 1, q);
      }
      let w0c = column(row0, l0, ix + 2, q);
      let w1c = column(row1, l1, ix + 2, q);
      let w2c = column(row2, l2, ix + 2, q);
      a00 += d * w0a; a01 += d * w0b; a02 += d * w0c;
      a10 += d * w1a; a11 += d * w1b; a12 += d * w1c;
      a20 += d * w2a; a21 += d * w2b; a22 += d * w2c;
      if (STRIDE == 1u) {
        w0a = w0b; w1a = w1b; w2a = w2b;
        w0b = w0c; w1b = w1c; w2b = w2c;
      } else {
        w0a = w0c; w1a = w1c; w2a = w2c;
      }
    }
  }
  let live = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u < vec4<u32>(p.cout);
  let base = split * 9u * p.outQ + q;
  store(base, a00, live);
  store(base + p.outQ, a01, live);
  store(base + 2u * p.outQ, a02, live);
  store(base + 3u * p.outQ, a10, live);
  store(base + 4u * p.outQ, a11, live);
  store(base + 5u * p.outQ, a12, live);
  store(base + 6u * p.outQ, a20, live);
  store(base + 7u * p.outQ, a21, live);
  store(base + 8u * p.outQ, a22, live);
}
