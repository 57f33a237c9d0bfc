// Executors for a planned Program. The GPU executor records everything once (buffers, packed
// weights, pipelines, bind groups) and replays it per frame in one command encoder and one submit;
// the CPU executor runs the same steps through the ops' hand-written references.

import { DeviceLostError, type Gpu } from "./device.ts";
import { BufferPool } from "./buffers.ts";
import { halfBits } from "./half.ts";
import { getOp } from "./ops/index.ts";
import {
  type OpDef,
  type Param,
  type StepContext,
  type TensorRef,
  UNIFORM_WEIGHT_BYTES,
} from "./ops/types.ts";
import { PipelineCache } from "./pipelines.ts";
import type { Program, ProgramStep } from "./program.ts";
import { denseLayout, type HostTensor, layoutFloats, pack, shapeText, unpack } from "./tensor.ts";
import { baselineVariant, chooseVariant, type Tuning } from "./tuning.ts";

export type Weights = Map<string, Param>;

interface Recorded {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  label: string;
  variant: string;
}

/** Resolves a step's op, its context and its weights, checking shapes with a clear error. */
export function resolveStep(program: Program, step: ProgramStep, weights: Weights) {
  // deno-lint-ignore no-explicit-any
  const op: OpDef<any> = getOp(step.op);
  const ref = (id: number): TensorRef => program.tensors[id];
  const ctx: StepContext<unknown> = {
    inputs: step.inputs.map(ref),
    output: ref(step.output),
    attrs: step.attrs,
  };
  const label = step.label ?? step.op;
  const expected = Object.entries(op.params(ctx.inputs.map((t) => t.shape), step.attrs));
  if (expected.length !== step.params.length) {
    throw new Error(
      `${label}: ${op.name} takes ${expected.length} weights, got ${step.params.length}`,
    );
  }
  const params = step.params.map((name, i) => {
    const p = weights.get(name);
    if (!p) throw new Error(`${label}: weight "${name}" is missing`);
    const want = expected[i][1];
    if (p.shape.join() !== want.join()) {
      throw new Error(
        `${label}: weight "${name}" has shape [${p.shape}], the graph needs [${want}]`,
      );
    }
    return p;
  });
  return { op, ctx, params, label };
}

export interface GpuExecutorOptions {
  pipelines?: PipelineCache;
  pool?: BufferPool;
  tuning?: Tuning;
  /**
   * Start on each op's baseline kernel (OpDef.baseline) and leave the tuned ones to upgrade(): the
   * first frame comes sooner where compiling is slow (in Chromium on SwiftShader, the student at
   * 128²: 1.1-1.6 s to compile the tuned set, 0.3-0.45 s the baseline one).
   */
  baseline?: boolean;
  /**
   * Compile one pipeline at a time, yielding in between (as upgrade({ gentle }) does): where frames
   * keep flowing, since a browser on a software adapter compiles on the GPU process thread that
   * also serves WebGL and the page's canvases, and a burst stalls them (1+ s on SwiftShader).
   */
  gentle?: boolean;
}

/** A step with its buffers bound, ready to record with any of its op's variants. */
interface BoundStep {
  op: OpDef<unknown>;
  ctx: StepContext<unknown>;
  params: Param[];
  /** The weights' names, for buffer labels. */
  names: string[];
  label: string;
  inputs: GPUBuffer[];
  output: GPUBuffer;
  uniforms: GPUBuffer;
  /** Packed weights per precision (and binding: "f32 uniform"), uploaded on first use. */
  weights: Map<string, GPUBuffer[]>;
}

export class GpuExecutor {
  /** The switch to the tuned kernels: settled from the start for an executor built tuned. */
  #upgrade?: Promise<void>;

  private constructor(
    readonly gpu: Gpu,
    readonly program: Program,
    readonly slots: GPUBuffer[],
    private recorded: Recorded[],
    private readonly bound: BoundStep[],
    private readonly owned: GPUBuffer[],
    private readonly pool: BufferPool,
    private readonly pipelines: PipelineCache,
    private readonly tuning: Tuning | undefined,
  ) {}

  /** Builds everything once; its pipelines compile (at once unless `gentle`) before it resolves. */
  static async create(
    gpu: Gpu,
    program: Program,
    weights: Weights,
    options: GpuExecutorOptions = {},
  ) {
    const { device } = gpu;
    if (gpu.lostInfo) throw new DeviceLostError(gpu.lostInfo);
    const pipelines = options.pipelines ?? new PipelineCache(device);
    const pool = options.pool ?? new BufferPool(device);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const slots = program.slots.map((bytes, i) => pool.acquire(bytes, usage, `slot${i}`));
    const owned: GPUBuffer[] = [];
    const dummy = upload(
      device,
      owned,
      new Float32Array(4),
      GPUBufferUsage.STORAGE,
      "absent input",
    );
    const bound = program.steps.filter((step) => !step.elided).map((step): BoundStep => {
      const { op, ctx, params, label } = resolveStep(program, step, weights);
      const inputs = Array.from({ length: op.gpuInputs }, (_, i) => {
        const id = step.inputs[i];
        return id === undefined ? dummy : slots[program.tensors[id].slot];
      });
      const uniforms = upload(
        device,
        owned,
        op.struct.pack(op.uniforms(ctx)),
        GPUBufferUsage.UNIFORM,
        label,
      );
      const output = slots[program.tensors[step.output].slot];
      return {
        op,
        ctx,
        params,
        names: step.params,
        label,
        inputs,
        output,
        uniforms,
        weights: new Map(),
      };
    });
    const executor = new GpuExecutor(
      gpu,
      program,
      slots,
      [],
      bound,
      owned,
      pool,
      pipelines,
      options.tuning,
    );
    const baseline = options.baseline ?? false;
    executor.recorded = await executor.#record(baseline, options.gentle ?? false);
    if (!baseline) executor.#upgrade = Promise.resolve();
    return executor;
  }

  /**
   * Switches a `baseline` executor to its tuned kernels: compiles them (`gentle`: one at a time,
   * see GpuExecutorOptions), then swaps them in between frames (frames keep running meanwhile).
   * Call it after the first frame: some browsers compile on the thread that runs the GPU work.
   * Resolves at once for an executor built tuned.
   */
  upgrade({ gentle = false } = {}): Promise<void> {
    this.#upgrade ??= this.#record(false, gentle).then((tuned) => {
      this.recorded = tuned;
    });
    return this.#upgrade;
  }

  /** Pipelines and bind groups for every step, with the baseline or the tuned variants. */
  async #record(baseline: boolean, gentle: boolean): Promise<Recorded[]> {
    const { device } = this.gpu;
    const variants = this.bound.map(({ op, ctx }) =>
      baseline ? baselineVariant(op, ctx) : chooseVariant(op, ctx, this.tuning, device.features)
    );
    // Baked variants compile the step's packed weights into their code (and bind none).
    const generated = this.bound.map(({ op, ctx, params }, i) =>
      variants[i].bake?.(ctx, op.packParams(params, ctx)) ?? ""
    );
    const compile = (i: number) => {
      const { op, ctx } = this.bound[i];
      const v = variants[i];
      return this.pipelines.get(v.kernel, op.struct, v.overrides(ctx), v.precision, generated[i]);
    };
    if (gentle) {
      for (let i = 0; i < variants.length; i++) {
        await compile(i);
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    device.pushErrorScope("validation");
    const pending = this.bound.map(async (step, i) => {
      const { op, ctx, label } = step;
      const variant = variants[i];
      const pipeline = await compile(i);
      const precision = variant.precision ?? "f32";
      const key = variant.uniformWeights ? `${precision} uniform` : precision;
      let packed = variant.bake ? [] : step.weights.get(key);
      if (!packed) {
        packed = op.packParams(step.params, ctx).map((data, j) => {
          const uniform = variant.uniformWeights && j === 0;
          return upload(
            device,
            this.owned,
            precision === "f16" ? halfBits(data) : data,
            uniform ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
            `${label}.${step.names[j]}`,
            uniform ? UNIFORM_WEIGHT_BYTES : undefined,
          );
        });
        step.weights.set(key, packed);
      }
      const buffers = [...step.inputs, ...packed, step.output, step.uniforms];
      const bindGroup = device.createBindGroup({
        label,
        layout: pipeline.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      return {
        pipeline,
        bindGroup,
        workgroups: variant.workgroups(ctx),
        label,
        variant: variant.name,
      };
    });
    return await Promise.all(pending).finally(async () => {
      const error = await device.popErrorScope();
      if (error) throw new Error(`WebGPU rejected the program: ${error.message}`);
    });
  }

  /** The variant chosen for each step, in order (for reports). */
  get variants(): { label: string; variant: string }[] {
    return this.recorded.map(({ label, variant }) => ({ label, variant }));
  }

  /** Appends the whole program to an encoder: one compute pass, pre-built bind groups. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void {
    // Timestamps let the bench and the autotuner time the pass on the GPU's own clock.
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    for (const r of this.recorded) {
      pass.setPipeline(r.pipeline);
      pass.setBindGroup(0, r.bindGroup);
      pass.dispatchWorkgroups(...r.workgroups);
    }
    pass.end();
  }

  /** The buffer and layout of a program input or output, for producers/consumers on the GPU. */
  binding(tensorId: number): { buffer: GPUBuffer; tensor: TensorRef } {
    const tensor = this.program.tensors[tensorId];
    return { buffer: this.slots[tensor.slot], tensor };
  }

  writeInputs(inputs: HostTensor[]): void {
    this.program.inputs.forEach((id, i) => {
      const t = this.program.tensors[id];
      if (!inputs[i] || shapeText(inputs[i].shape) !== shapeText(t.shape)) {
        throw new Error(`input ${i} must be ${shapeText(t.shape)}, got ${inputs[i]?.shape}`);
      }
      this.gpu.device.queue.writeBuffer(this.slots[t.slot], 0, pack(inputs[i], t.layout));
    });
  }

  /** One frame: upload inputs, run, and read the outputs back unless `read` is false. */
  async run(inputs: HostTensor[], { read = true } = {}): Promise<HostTensor[]> {
    if (this.gpu.lostInfo) throw new DeviceLostError(this.gpu.lostInfo);
    this.writeInputs(inputs);
    const encoder = this.gpu.device.createCommandEncoder();
    this.encode(encoder);
    if (!read) {
      this.gpu.device.queue.submit([encoder.finish()]);
      await this.gpu.device.queue.onSubmittedWorkDone();
      return [];
    }
    const staging = this.program.outputs.map((id) => {
      const t = this.program.tensors[id];
      const bytes = layoutFloats(t.shape, t.layout) * 4;
      const buffer = this.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      encoder.copyBufferToBuffer(this.slots[t.slot], 0, buffer, 0, bytes);
      return { buffer, t, bytes };
    });
    this.gpu.device.queue.submit([encoder.finish()]);
    try {
      return await Promise.all(staging.map(async ({ buffer, t, bytes }) => {
        await buffer.mapAsync(GPUMapMode.READ, 0, bytes);
        // unpack copies out of the mapped range, which unmap() detaches.
        const tensor = unpack(new Float32Array(buffer.getMappedRange(0, bytes)), t.shape, t.layout);
        buffer.unmap();
        this.pool.release(buffer);
        return tensor;
      }));
    } catch (e) {
      // A device lost mid-frame fails the readback first; report the loss, not the symptom.
      const lost = await Promise.race([this.gpu.lost, new Promise((r) => setTimeout(r, 100))]);
      if (lost) throw new DeviceLostError(lost as GPUDeviceLostInfo);
      throw e;
    }
  }

  /** Returns slot buffers to the pool and frees weights. */
  dispose(): void {
    for (const b of this.slots) this.pool.release(b);
    for (const b of this.owned) b.destroy();
  }
}

function upload(
  device: GPUDevice,
  owned: GPUBuffer[],
  data: ArrayBuffer | ArrayBufferView,
  usage: GPUBufferUsageFlags,
  label: string,
  size = Math.max(16, Math.ceil(data.byteLength / 4) * 4),
): GPUBuffer {
  const buffer = device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST, label });
  device.queue.writeBuffer(buffer, 0, data);
  owned.push(buffer);
  return buffer;
}

/** Runs a program with the ops' CPU references: tests, and the last resort with no adapter. */
export class CpuExecutor {
  constructor(readonly program: Program, readonly weights: Weights) {
    for (const step of program.steps) resolveStep(program, step, weights);
  }

  run(inputs: HostTensor[]): HostTensor[] {
    const values = new Map<number, HostTensor>();
    this.program.inputs.forEach((id, i) => {
      const want = shapeText(this.program.tensors[id].shape);
      if (!inputs[i] || shapeText(inputs[i].shape) !== want) {
        throw new Error(`input ${i} must be ${want}, got ${inputs[i]?.shape}`);
      }
      values.set(id, inputs[i]);
    });
    for (const step of this.program.steps) {
      const { op, params } = resolveStep(this.program, step, this.weights);
      const args = step.inputs.map((id) => values.get(id)!);
      values.set(step.output, op.reference(args, params, step.attrs));
    }
    return this.program.outputs.map((id) => values.get(id)!);
  }
}

/** A program with dense, unshared tensors: one step per op, for op tests and microbenchmarks. */
export function singleStepProgram(
  op: string,
  attrs: Record<string, unknown>,
  inputShapes: HostTensor["shape"][],
  paramNames: string[],
): Program {
  // deno-lint-ignore no-explicit-any
  const def: OpDef<any> = getOp(op);
  const outShape = def.outputShape(inputShapes, attrs);
  const shapes = [...inputShapes, outShape];
  const tensors = shapes.map((shape, slot) => ({ shape, layout: denseLayout(shape), slot }));
  return {
    tensors,
    slots: tensors.map((t) => layoutFloats(t.shape, t.layout) * 4),
    steps: [{
      op,
      attrs,
      inputs: inputShapes.map((_, i) => i),
      output: inputShapes.length,
      params: paramNames,
    }],
    inputs: inputShapes.map((_, i) => i),
    outputs: [inputShapes.length],
  };
}
