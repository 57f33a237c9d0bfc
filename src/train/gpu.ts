// GPU plumbing the training executor and the backward/loss tests share: buffers it owns, uniform
// buffers from a struct, dispatches with pre-built bind groups (bindings in the kernel's order,
// whole buffers or sub-ranges of the flat parameter buffers), one compute pass per encode, and
// readback.

import type { PipelineCache } from "../runtime/pipelines.ts";
// Every training dispatch goes through the Recorder: registering the kernels here covers them all.
import "./kernels.ts";
import type { UniformStruct } from "../runtime/uniforms.ts";

export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  label: string;
}

/** A whole buffer or a range of one (offsets are multiples of 256 bytes). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

/** STORAGE | COPY_SRC | COPY_DST (the spec's constant values). */
export const STORAGE = 0x80 | 0x4 | 0x8;

export class Recorder {
  readonly owned: GPUBuffer[] = [];
  readonly dummy: GPUBuffer;

  constructor(readonly device: GPUDevice, readonly pipelines: PipelineCache) {
    this.dummy = this.buffer(16, "absent input");
  }

  /** A zero-filled storage buffer (copyable both ways). */
  buffer(bytes: number, label: string, usage: GPUBufferUsageFlags = STORAGE): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const buffer = this.device.createBuffer({ size, usage, label });
    this.owned.push(buffer);
    return buffer;
  }

  upload(data: Float32Array, label: string): GPUBuffer {
    const buffer = this.buffer(data.byteLength, label);
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  uniform<F extends string>(
    struct: UniformStruct<F>,
    values: Record<F, number>,
    label: string,
  ): GPUBuffer {
    const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    const buffer = this.buffer(struct.byteSize, label, usage);
    this.device.queue.writeBuffer(buffer, 0, struct.pack(values));
    return buffer;
  }

  async dispatch(
    kernel: string,
    struct: UniformStruct<string>,
    overrides: Record<string, number>,
    workgroups: [number, number, number],
    bindings: Binding[],
    label: string,
  ): Promise<Dispatch> {
    const pipeline = await this.pipelines.get(kernel, struct, overrides);
    const bindGroup = this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((b, binding) => ({
        binding,
        resource: b instanceof GPUBuffer ? { buffer: b } : b,
      })),
    });
    return { pipeline, bindGroup, workgroups, label };
  }

  /** Runs `fn` inside a validation error scope: WebGPU's errors become exceptions here. */
  async checked<T>(fn: () => Promise<T>, what: string): Promise<T> {
    this.device.pushErrorScope("validation");
    const result = await fn().catch(async (e) => {
      await this.device.popErrorScope();
      throw e;
    });
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`WebGPU rejected ${what}: ${error.message}`);
    return result;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** Appends dispatches to an encoder in one compute pass. */
export function encodeDispatches(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]) {
  if (dispatches.length === 0) return;
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
  pass.end();
}

/** Copies `bytes` of a buffer back to the host (submits its own encoder). */
export async function readBuffer(
  device: GPUDevice,
  source: GPUBuffer,
  offset = 0,
  bytes = source.size - offset,
): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, offset, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(GPUMapMode.READ);
    return new Float32Array(staging.getMappedRange().slice(0));
  } finally {
    staging.destroy();
  }
}
