// Weight gradient of a dense 3×3 convolution (stride 1 or 2), register-blocked: one invocation
// owns one tap row ky, one input quad, one output quad (the 3 blocks kx = 0, 1, 2) and a chunk of
// output rows. Walking a row it loads dz once per pixel and slides a 3-column window along the
// input row (1 new column per pixel at stride 1, 2 at stride 2): 3 outer products per 2 (or 3)
// loads instead of 1 per 2. Columns outside the input are the zero padding; input lanes past cin
// are masked. Same packing and partial sums as conv2d_grad_weight.wgsl.

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<mat4x4<f32>>;
@group(0) @binding(3) var<uniform> p: ConvGradParams;

override WG: u32 = 64u;
override STRIDE: u32 = 1u; // 1 or 2
override ACCUM: bool = false;

fn outer(d: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(d * v.x, d * v.y, d * v.z, d * v.w);
}

/** Input column ix of a row (its first pixel's index), quad q, lanes past cin zeroed. */
fn column(row: u32, ix: i32, q: u32, live: vec4<bool>) -> vec4<f32> {
  let inside = ix >= 0 && ix < i32(p.inW);
  let at = (row + u32(clamp(ix, 0, i32(p.inW) - 1))) * p.xStride + p.xOffset + q;
  return select(vec4<f32>(0.0), x[at], live & vec4<bool>(inside));
}

fn store(at: u32, m: mat4x4<f32>) {
  var out = m;
  if (ACCUM) {
    let old = dw[at];
    out = mat4x4<f32>(out[0] + old[0], out[1] + old[1], out[2] + old[2], out[3] + old[3]);
  }
  dw[at] = out;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, WG);
  let blocks = 3u * p.inQ * p.outQ;
  if (i >= blocks * p.splits) { return; }
  let b = i % blocks;
  let split = i / blocks;
  let c = b % p.outQ;
  let q = (b / p.outQ) % p.inQ;
  let ky = b / (p.outQ * p.inQ);
  let live = vec4<u32>(0u, 1u, 2u, 3u) + q * 4u < vec4<u32>(p.cin);
  let pad = i32(p.pad);

  var a0 = mat4x4<f32>(); // a<kx>
  var a1 = a0;
  var a2 = a0;
  let r0 = split * p.rowsPerSplit;
  let r1 = min(r0 + p.rowsPerSplit, p.batch * p.outH);
  for (var r = r0; r < r1; r++) {
    let n = r / p.outH;
    let iy = i32((r % p.outH) * STRIDE + ky) - pad;
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (n * p.inH + u32(iy)) * p.inW;
    // Window columns ix = ox·STRIDE − pad + {0, 1, 2}.
    var wa = column(row, -pad, q, live);
    var wb = column(row, 1 - pad, q, live);
    let dzRow = r * p.outW;
    for (var ox = 0u; ox < p.outW; ox++) {
      let d = dz[(dzRow + ox) * p.dzStride + p.dzOffset + c];
      let ix = i32(ox * STRIDE) - pad;
      if (STRIDE == 2u && ox > 0u) { wb = column(row, ix + 1, q, live); }
      let wc = column(row, ix + 2, q, live);
      a0 += outer(d, wa);
      a1 += outer(d, wb);
      a2 += outer(d, wc);
      if (STRIDE == 1u) {
        wa = wb;
        wb = wc;
      } else {
        wa = wc;
      }
    }
  }
  let at = split * 9u * p.inQ * p.outQ + ((ky * 3u) * p.inQ + q) * p.outQ + c;
  store(at, a0);
  store(at + p.inQ * p.outQ, a1);
  store(at + 2u * p.inQ * p.outQ, a2);
}
