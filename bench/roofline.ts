// Roofline of the current WebGPU adapter: peak multiply-add throughput (f32, and f16 where the
// device has shader-f16) and memory bandwidth at working-set sizes from cache-resident to DRAM,
// measured with the microkernels in bench/wgsl/. Runs in Deno and, bundled, in Chromium.
//
//   deno run -A bench/roofline.ts            # prints the roofline of Deno's adapter
//
// A kernel's efficiency is its achieved GFLOP/s over what the roofline allows at its arithmetic
// intensity, with the bandwidth measured at its own working-set size (a cache-aware roofline: on a
// CPU adapter a 1 MiB tensor streams from cache, not DRAM, and DRAM bandwidth would flatter it).

import fmaWgsl from "./wgsl/roofline_fma.wgsl" with { type: "text" };
import fmaF16Wgsl from "./wgsl/roofline_fma_f16.wgsl" with { type: "text" };
import memoryWgsl from "./wgsl/roofline_memory.wgsl" with { type: "text" };
import { timeReplays, type TimingOptions } from "../src/runtime/autotune.ts";
import { workgroups1d } from "../src/runtime/ops/types.ts";

export interface BandwidthPoint {
  /** Bytes of the source buffer (the working set is about twice this for copies). */
  bytes: number;
  readGBps: number;
  copyGBps: number;
}

export interface Roofline {
  /** Peak f32 multiply-add rate, GFLOP/s (a multiply-add counts 2). */
  fmaGflops: number;
  /** The same with fma() vs a * m + c, for the record. */
  fmaBuiltinGflops: number;
  mulAddGflops: number;
  /** Peak f16 rate where shader-f16 exists. */
  f16Gflops?: number;
  bandwidth: BandwidthPoint[];
  /** The bandwidth at the largest size: DRAM on CPU adapters, VRAM on GPUs. */
  dramGBps: number;
  /** Milliseconds the measurements took. */
  tookMs: number;
}

const ROOF_UNIFORM = new Float32Array([0.999, 0.9999, 0.99, 0.995, 1e-4, 2e-4, 3e-4, 4e-4]);

async function pipeline(
  device: GPUDevice,
  code: string,
  constants: Record<string, number>,
): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ code });
  return await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module, entryPoint: "main", constants },
  });
}

/** Milliseconds per dispatch of `threads` invocations of one pipeline (GPU clock, median). */
function timeDispatch(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  bind: GPUBindGroup,
  threads: number,
  wg: number,
  timing: TimingOptions,
): Promise<number> {
  return timeReplays(device, (encoder, timestampWrites) => {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(...workgroups1d(threads, wg));
    pass.end();
  }, timing);
}

async function peakFlops(
  device: GPUDevice,
  code: string,
  mode: number,
  timing: { repeats: number; latencyMs: number },
): Promise<number> {
  const iters = 64; // × 4 steps of 8 vec4 chains (see roofline_fma.wgsl)
  const threads = 1 << 15;
  const out = device.createBuffer({ size: threads * 16, usage: GPUBufferUsage.STORAGE });
  const uniform = device.createBuffer({
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(uniform, 0, ROOF_UNIFORM);
  let best = 0;
  try {
    for (const wg of [32, 64, 128, 256]) {
      if (wg > device.limits.maxComputeInvocationsPerWorkgroup) continue;
      const p = await pipeline(device, code, { WG: wg, ITERS: iters, MODE: mode });
      const bind = device.createBindGroup({
        layout: p.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: out } }, {
          binding: 1,
          resource: { buffer: uniform },
        }],
      });
      const ms = await timeDispatch(device, p, bind, threads, wg, { ...timing, minSampleMs: 40 });
      best = Math.max(best, (threads * iters * 4 * 8 * 4 * 2) / ms / 1e6);
    }
  } finally {
    out.destroy();
    uniform.destroy();
  }
  return best;
}

async function bandwidth(
  device: GPUDevice,
  bytes: number,
  timing: { repeats: number; latencyMs: number },
): Promise<BandwidthPoint> {
  const usage = GPUBufferUsage.STORAGE;
  const src = device.createBuffer({ size: bytes, usage });
  const dst = device.createBuffer({ size: bytes, usage });
  const result = { bytes, readGBps: 0, copyGBps: 0 };
  const shapes = [4, 64].flatMap((per) => [0, 1].map((layout) => ({ per, layout })));
  try {
    for (const mode of [0, 1]) {
      for (
        const [wg, { per, layout }] of [64, 256].flatMap((wg) =>
          shapes.map((s) => [wg, s] as const)
        )
      ) {
        if (wg > device.limits.maxComputeInvocationsPerWorkgroup) continue;
        const invocations = bytes / 16 / per;
        const constants = { WG: wg, PER: per, MODE: mode, LAYOUT: layout };
        const p = await pipeline(device, memoryWgsl, constants);
        const bind = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [{ binding: 0, resource: { buffer: src } }, {
            binding: 1,
            resource: { buffer: dst },
          }],
        });
        const ms = await timeDispatch(device, p, bind, invocations, wg, {
          ...timing,
          minSampleMs: 25,
        });
        const moved = mode === 0 ? bytes + invocations * 16 : 2 * bytes;
        const gbps = moved / ms / 1e6;
        if (mode === 0) result.readGBps = Math.max(result.readGBps, gbps);
        else result.copyGBps = Math.max(result.copyGBps, gbps);
      }
    }
  } finally {
    src.destroy();
    dst.destroy();
  }
  return result;
}

/** Measures the roofline of `device` (a few seconds on a software adapter). */
export async function measureRoofline(
  device: GPUDevice,
  options: { repeats?: number; latencyMs?: number; progress?: (s: string) => void } = {},
): Promise<Roofline> {
  const t0 = performance.now();
  const timing = { repeats: options.repeats ?? 5, latencyMs: options.latencyMs ?? 0 };
  options.progress?.("roofline: f32 FMA");
  const fmaBuiltinGflops = await peakFlops(device, fmaWgsl, 0, timing);
  const mulAddGflops = await peakFlops(device, fmaWgsl, 1, timing);
  let f16Gflops: number | undefined;
  if (device.features.has("shader-f16")) {
    options.progress?.("roofline: f16 FMA");
    f16Gflops = Math.max(
      await peakFlops(device, fmaF16Wgsl, 0, timing),
      await peakFlops(device, fmaF16Wgsl, 1, timing),
    );
  }
  const points: BandwidthPoint[] = [];
  const maxBytes = Math.min(64 << 20, device.limits.maxStorageBufferBindingSize);
  for (let bytes = 256 << 10; bytes <= maxBytes; bytes *= 4) {
    options.progress?.(`roofline: bandwidth ${bytes >> 10} KiB`);
    points.push(await bandwidth(device, bytes, timing));
  }
  options.progress?.("");
  const last = points.at(-1)!;
  return {
    fmaGflops: Math.max(fmaBuiltinGflops, mulAddGflops),
    fmaBuiltinGflops,
    mulAddGflops,
    ...(f16Gflops !== undefined ? { f16Gflops } : {}),
    bandwidth: points,
    dramGBps: Math.max(last.readGBps, last.copyGBps),
    tookMs: performance.now() - t0,
  };
}

/**
 * The better of two measurements, field by field. On a shared machine contention only ever lowers
 * a peak, so the bench measures at the start and at the end and keeps the best of each.
 */
export function bestOf(a: Roofline, b: Roofline): Roofline {
  const max = (x?: number, y?: number) =>
    x === undefined ? y : y === undefined ? x : Math.max(x, y);
  return {
    fmaGflops: Math.max(a.fmaGflops, b.fmaGflops),
    fmaBuiltinGflops: Math.max(a.fmaBuiltinGflops, b.fmaBuiltinGflops),
    mulAddGflops: Math.max(a.mulAddGflops, b.mulAddGflops),
    ...(a.f16Gflops !== undefined || b.f16Gflops !== undefined
      ? { f16Gflops: max(a.f16Gflops, b.f16Gflops) }
      : {}),
    bandwidth: a.bandwidth.map((p, i) => ({
      bytes: p.bytes,
      readGBps: Math.max(p.readGBps, b.bandwidth[i]?.readGBps ?? 0),
      copyGBps: Math.max(p.copyGBps, b.bandwidth[i]?.copyGBps ?? 0),
    })),
    dramGBps: Math.max(a.dramGBps, b.dramGBps),
    tookMs: a.tookMs + b.tookMs,
  };
}

/** The best bandwidth the adapter showed at a working set of `bytes` (log-interpolated). */
export function bandwidthAt(roof: Roofline, bytes: number): number {
  const pts = roof.bandwidth.map((p) => ({
    x: Math.log2(p.bytes),
    y: Math.max(p.readGBps, p.copyGBps),
  }));
  const x = Math.log2(Math.max(bytes, 1));
  if (x <= pts[0].x) return pts[0].y;
  for (let i = 1; i < pts.length; i++) {
    if (x <= pts[i].x) {
      const t = (x - pts[i - 1].x) / (pts[i].x - pts[i - 1].x);
      return pts[i - 1].y + t * (pts[i].y - pts[i - 1].y);
    }
  }
  return pts.at(-1)!.y;
}

export interface Efficiency {
  /** GFLOP/s the roofline allows at this kernel's arithmetic intensity and working set. */
  attainableGflops: number;
  /** GB/s the roofline allows at this working set. */
  bandwidthGBps: number;
  bound: "compute" | "memory";
  /** Achieved over attainable, in %: FLOP/s for kernels that compute, bytes/s for pure copies. */
  percent: number;
}

/** A kernel's place under the roofline (the f16 peak for f16 kernels), from its cost and time. */
export function efficiency(
  roof: Roofline,
  m: { flops: number; bytes: number; ms: number; precision?: "f16" },
): Efficiency {
  const { flops, bytes, ms } = m;
  const peak = m.precision === "f16" ? roof.f16Gflops ?? roof.fmaGflops : roof.fmaGflops;
  const bw = bandwidthAt(roof, bytes);
  if (flops === 0) {
    return {
      attainableGflops: 0,
      bandwidthGBps: bw,
      bound: "memory",
      percent: 100 * (bytes / ms / 1e6) / bw,
    };
  }
  const memoryGflops = (flops / bytes) * bw;
  const attainable = Math.min(peak, memoryGflops);
  return {
    attainableGflops: attainable,
    bandwidthGBps: bw,
    bound: memoryGflops < peak ? "memory" : "compute",
    percent: 100 * (flops / ms / 1e6) / attainable,
  };
}

if (import.meta.main) {
  const { acquireGpu } = await import("../src/runtime/device.ts");
  const { submitLatency } = await import("../src/runtime/autotune.ts");
  const gpu = await acquireGpu();
  const latencyMs = await submitLatency(gpu.device);
  const roof = await measureRoofline(gpu.device, { latencyMs });
  console.log(`adapter ${gpu.key}`);
  console.log(
    `f32 multiply-add: ${roof.fmaGflops.toFixed(1)} GFLOP/s (fma() ${
      roof.fmaBuiltinGflops.toFixed(1)
    }, a*m+c ${roof.mulAddGflops.toFixed(1)})` +
      (roof.f16Gflops !== undefined ? `; f16: ${roof.f16Gflops.toFixed(1)} GFLOP/s` : ""),
  );
  for (const p of roof.bandwidth) {
    console.log(
      `${(p.bytes / 2 ** 20).toFixed(2).padStart(7)} MiB  read ${
        p.readGBps.toFixed(1).padStart(6)
      } GB/s` +
        `  copy ${p.copyGBps.toFixed(1).padStart(6)} GB/s`,
    );
  }
  gpu.device.destroy();
}
