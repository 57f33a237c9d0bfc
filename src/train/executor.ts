// The training executor: one training step (forward, loss, backward, Adam) recorded once and
// replayed per step in one command encoder and one submit, like GpuExecutor for inference.
// Parameters live in one flat buffer in the ops' packed layout (the forward kernels bind their
// ranges as-is), with gradients and Adam moments laid out identically, so the update is one
// dispatch and nothing is re-packed per step. Loss records go to a ring read back every N steps.

import type { Weights } from "../runtime/executor.ts";
import { DeviceLostError, type Gpu } from "../runtime/device.ts";
import { getOp } from "../runtime/ops/index.ts";
import type { Param, TensorRef } from "../runtime/ops/types.ts";
import { PipelineCache } from "../runtime/pipelines.ts";
import { type HostTensor, layoutFloats, pack, shapeText, unpack } from "../runtime/tensor.ts";
import { chooseVariant, type Tuning } from "../runtime/tuning.ts";
import { workgroups1d } from "../runtime/ops/types.ts";
import { getGradOp } from "./grad_ops/index.ts";
import { type Binding, type Dispatch, readBuffer, Recorder } from "./gpu.ts";
import { GpuLoss } from "./gpu_loss.ts";
import type { LossConfig, LossValues } from "./losses.ts";
import { type AdamConfig, AdamParams, adamUniforms, validateAdam } from "./optimizer.ts";
import { layoutParams, packAll, type ParamLayout, stepContext, unpackAll } from "./params.ts";
import { isClear, type TrainingPlan } from "./plan.ts";
import { recordGradTask, resolveGradTask } from "./record.ts";

export interface TrainingExecutorOptions {
  loss: LossConfig;
  optimizer: AdamConfig;
  tuning?: Tuning;
  /** Loss records kept on the GPU between readbacks (default 64). */
  ring?: number;
  pipelines?: PipelineCache;
}

/** A buffer clear in the middle of the backward (a concat part written before its whole). */
interface Clear {
  buffer: GPUBuffer;
  bytes: number;
}
type Item = Dispatch | Clear;

/** A loss record as the GPU writes it. */
export interface LossRecord extends LossValues {}

function encodeItems(encoder: GPUCommandEncoder, items: readonly Item[]) {
  let pass: GPUComputePassEncoder | undefined;
  for (const item of items) {
    if ("bytes" in item) {
      pass?.end();
      pass = undefined;
      encoder.clearBuffer(item.buffer, 0, item.bytes);
      continue;
    }
    pass ??= encoder.beginComputePass();
    pass.setPipeline(item.pipeline);
    pass.setBindGroup(0, item.bindGroup);
    pass.dispatchWorkgroups(...item.workgroups);
  }
  pass?.end();
}

export class TrainingExecutor {
  private constructor(
    readonly gpu: Gpu,
    readonly plan: TrainingPlan,
    readonly layout: ParamLayout,
    readonly ring: number,
    private readonly rec: Recorder,
    private readonly buffers: {
      slots: GPUBuffer[];
      params: GPUBuffer;
      grads: GPUBuffer;
      m: GPUBuffer;
      v: GPUBuffer;
      target: GPUBuffer;
      history: GPUBuffer;
      adam: GPUBuffer;
    },
    private readonly forward: Dispatch[],
    private readonly loss: GpuLoss,
    private readonly backward: Item[],
    private readonly update: Dispatch,
    private readonly optimizer: AdamConfig,
  ) {}

  static async create(
    gpu: Gpu,
    plan: TrainingPlan,
    weights: Weights,
    options: TrainingExecutorOptions,
  ): Promise<TrainingExecutor> {
    if (gpu.lostInfo) throw new DeviceLostError(gpu.lostInfo);
    validateAdam(options.optimizer);
    const { device } = gpu;
    const program = plan.forward;
    const ring = options.ring ?? 64;
    const rec = new Recorder(device, options.pipelines ?? new PipelineCache(device));
    try {
      return await rec.checked(async () => {
        const layout = layoutParams(program);
        const flat = (label: string) => rec.buffer(layout.floats * 4, label);
        const params = rec.upload(packAll(layout, program, weights), "params");
        const grads = flat("grads"), m = flat("adam.m"), v = flat("adam.v");
        const slots = program.slots.map((bytes, i) => rec.buffer(bytes, `slot${i}`));
        const gradSlots = plan.gradSlots.map((bytes, i) => rec.buffer(bytes, `grad${i}`));
        const range = (buffer: GPUBuffer, name: string): Binding => {
          const p = layout.byName.get(name)!;
          return { buffer, offset: p.offset * 4, size: p.floats * 4 };
        };
        const prediction = program.tensors[plan.prediction];
        const target = rec.buffer(
          layoutFloats(prediction.shape, { pixelStride: 4, channelOffset: 0 }) * 4,
          "target",
        );
        const history = rec.buffer((ring + 1) * 16, "loss ring");

        const forward = program.steps.filter((s) => !s.elided).map((step) => {
          const op = getOp(step.op);
          const ctx = stepContext(program, step);
          // No device features: training keeps the f32 forward variants (an f16 forward would
          // make the gradients disagree with the activations the backward reads). Its weights are
          // ranges of one storage buffer that Adam updates.
          const variant = chooseVariant(op, ctx, options.tuning, undefined, {
            storageWeights: true,
          });
          const label = step.label ?? step.op;
          const inputs = Array.from({ length: op.gpuInputs }, (_, i) => {
            const id = step.inputs[i];
            return id === undefined ? rec.dummy : slots[program.tensors[id].slot];
          });
          return rec.dispatch(
            variant.kernel,
            op.struct,
            variant.overrides(ctx),
            variant.workgroups(ctx),
            [
              ...inputs,
              ...step.params.map((name) => range(params, name)),
              slots[program.tensors[step.output].slot],
              rec.uniform(op.struct, op.uniforms(ctx), label),
            ],
            label,
          );
        });

        const predGrad = plan.grads[plan.gradOf.get(plan.prediction)!];
        const loss = GpuLoss.create(rec, prediction.shape, options.loss, {
          pred: { buffer: slots[prediction.slot], layout: prediction.layout },
          target,
          grad: { buffer: gradSlots[predGrad.slot], layout: predGrad.layout },
          history,
        });

        // Backward: resolve every task first to size the shared partial-sum scratch.
        const tasks = plan.tasks.filter((t) => isClear(t) || !t.elided);
        const resolved = tasks.map((task) => {
          if (isClear(task)) return undefined;
          const row = getGradOp(task.row);
          const ref = (r: { kind: "act" | "grad"; id: number }): TensorRef =>
            r.kind === "act" ? program.tensors[r.id] : plan.grads[r.id];
          const base = {
            inputs: task.inputs.map(ref),
            output: task.output.kind === "grad" ? plan.grads[task.output.id] : undefined,
            attrs: task.attrs,
            accumulate: task.accumulate,
          };
          return { row, ...resolveGradTask(row, base, options.tuning) };
        });
        const scratch = Math.max(
          16,
          ...tasks.map((task, i) => {
            const r = resolved[i];
            if (!r || isClear(task) || task.output.kind !== "param") return 0;
            return r.ctx.splits > 1
              ? r.ctx.splits * layout.byName.get(task.output.name)!.floats * 4
              : 0;
          }),
        );
        const partial = rec.buffer(scratch, "partial sums");
        const backward = tasks.map((task, i): Promise<Item[]> => {
          if (isClear(task)) {
            const g = plan.grads[task.clear];
            return Promise.resolve([{
              buffer: gradSlots[g.slot],
              bytes: layoutFloats(g.shape, g.layout) * 4,
            }]);
          }
          const { row, variant, ctx } = resolved[i]!;
          const bind = (r: { kind: "act" | "grad"; id: number }) =>
            r.kind === "act" ? slots[program.tensors[r.id].slot] : gradSlots[plan.grads[r.id].slot];
          const out = task.output;
          return recordGradTask(rec, row, variant, ctx, {
            inputs: task.inputs.map(bind),
            params: task.params.map((name) => range(params, name)),
            output: out.kind === "grad"
              ? gradSlots[plan.grads[out.id].slot]
              : range(grads, out.name),
            paramFloats: out.kind === "param" ? layout.byName.get(out.name)!.floats : undefined,
            partial: { buffer: partial, offset: 0, size: scratch },
          }, task.label);
        });

        const adam = rec.uniform(
          AdamParams,
          adamUniforms(options.optimizer, 1, 0, layout.floats, layout.decayFloats),
          "adam",
        );
        const update = rec.dispatch(
          "adam",
          AdamParams,
          { WG: 64 },
          workgroups1d(layout.floats / 4, 64),
          [
            grads,
            params,
            m,
            v,
            adam,
          ],
          "adam",
        );

        return new TrainingExecutor(
          gpu,
          plan,
          layout,
          ring,
          rec,
          { slots, params, grads, m, v, target, history, adam },
          await Promise.all(forward),
          await loss,
          (await Promise.all(backward)).flat(),
          await update,
          options.optimizer,
        );
      }, "the training program");
    } catch (e) {
      rec.destroy();
      throw e;
    }
  }

  /** Dispatches per training step (forward, loss, backward, update). */
  get dispatchCount(): number {
    return this.forward.length + this.loss.dispatches.length + this.backward.length + 1;
  }

  /** Uploads a batch: inputs [N, H, W, 3] and targets shaped like the prediction. */
  writeBatch(inputs: HostTensor, targets: HostTensor): void {
    this.#writeInput(inputs);
    const p = this.plan.forward.tensors[this.plan.prediction];
    if (shapeText(targets.shape) !== shapeText(p.shape)) {
      throw new Error(`targets must be ${shapeText(p.shape)}, got ${shapeText(targets.shape)}`);
    }
    this.gpu.device.queue.writeBuffer(this.buffers.target, 0, pack(targets));
  }

  #writeInput(inputs: HostTensor) {
    const program = this.plan.forward;
    const t = program.tensors[program.inputs[0]];
    if (shapeText(inputs.shape) !== shapeText(t.shape)) {
      throw new Error(`inputs must be ${shapeText(t.shape)}, got ${shapeText(inputs.shape)}`);
    }
    this.gpu.device.queue.writeBuffer(this.buffers.slots[t.slot], 0, pack(inputs, t.layout));
  }

  /**
   * Queues one training step on the uploaded batch: Adam step t (1-based) at learning rate lr,
   * its loss record written to ring entry t mod ring. Returns without waiting.
   */
  step(t: number, lr: number, { update = true } = {}): void {
    if (this.gpu.lostInfo) throw new DeviceLostError(this.gpu.lostInfo);
    const { queue } = this.gpu.device;
    const values = adamUniforms(this.optimizer, t, lr, this.layout.floats, this.layout.decayFloats);
    queue.writeBuffer(this.buffers.adam, 0, AdamParams.pack(values));
    this.loss.write(t % this.ring);
    const encoder = this.gpu.device.createCommandEncoder();
    encodeItems(encoder, [...this.forward, ...this.loss.dispatches, ...this.backward]);
    if (update) encodeItems(encoder, [this.update]);
    queue.submit([encoder.finish()]);
  }

  /** Queues the forward pass alone (inference on the uploaded batch; for measurements). */
  forwardOnly(): void {
    const encoder = this.gpu.device.createCommandEncoder();
    encodeItems(encoder, this.forward);
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  /** Resolves when everything queued so far has run. */
  done(): Promise<void> {
    return this.gpu.device.queue.onSubmittedWorkDone();
  }

  /** The loss ring: entry i holds the record of the last step t with t mod ring = i. */
  async readLossRing(): Promise<LossRecord[]> {
    const data = await readBuffer(this.gpu.device, this.buffers.history, 0, this.ring * 16);
    return Array.from({ length: this.ring }, (_, i) => ({
      l1: data[4 * i],
      ssim: data[4 * i + 1],
      edge: data[4 * i + 2],
      total: data[4 * i + 3],
    }));
  }

  /** Forward only, on a batch of inputs; returns the prediction. */
  async predict(inputs: HostTensor): Promise<HostTensor> {
    this.#writeInput(inputs);
    const encoder = this.gpu.device.createCommandEncoder();
    encodeItems(encoder, this.forward);
    this.gpu.device.queue.submit([encoder.finish()]);
    const p = this.plan.forward.tensors[this.plan.prediction];
    const bytes = layoutFloats(p.shape, p.layout) * 4;
    return unpack(
      await readBuffer(this.gpu.device, this.buffers.slots[p.slot], 0, bytes),
      p.shape,
      p.layout,
    );
  }

  /** Forward and loss on a batch without training (validation). */
  async evaluate(inputs: HostTensor, targets: HostTensor): Promise<LossRecord> {
    this.writeBatch(inputs, targets);
    this.loss.write(this.ring);
    const encoder = this.gpu.device.createCommandEncoder();
    encodeItems(encoder, [...this.forward, ...this.loss.dispatches]);
    this.gpu.device.queue.submit([encoder.finish()]);
    const [l1, ssim, edge, total] = await readBuffer(
      this.gpu.device,
      this.buffers.history,
      this.ring * 16,
      16,
    );
    return { l1, ssim, edge, total };
  }

  async #readFlat(buffer: GPUBuffer): Promise<Float32Array> {
    return await readBuffer(this.gpu.device, buffer, 0, this.layout.floats * 4);
  }

  /** Current weights in PyTorch layout. */
  async readWeights(): Promise<Weights> {
    return unpackAll(this.layout, this.plan.forward, await this.#readFlat(this.buffers.params));
  }

  /** The last step's weight gradients in PyTorch layout. */
  async readGradients(): Promise<Map<string, Param>> {
    return unpackAll(this.layout, this.plan.forward, await this.#readFlat(this.buffers.grads));
  }

  /** Adam's first and second moments in PyTorch layout. */
  async readMoments(): Promise<{ m: Weights; v: Weights }> {
    const [m, v] = await Promise.all([
      this.#readFlat(this.buffers.m),
      this.#readFlat(this.buffers.v),
    ]);
    return {
      m: unpackAll(this.layout, this.plan.forward, m),
      v: unpackAll(this.layout, this.plan.forward, v),
    };
  }

  /** Replaces weights (and, when given, the moments); bit-exact: packing only moves floats. */
  writeState(weights: Weights, moments?: { m: Weights; v: Weights }): void {
    const { queue } = this.gpu.device;
    const program = this.plan.forward;
    queue.writeBuffer(this.buffers.params, 0, packAll(this.layout, program, weights));
    if (moments) {
      queue.writeBuffer(this.buffers.m, 0, packAll(this.layout, program, moments.m));
      queue.writeBuffer(this.buffers.v, 0, packAll(this.layout, program, moments.v));
    }
  }

  /**
   * Times every dispatch of a step alone (median of `repeats` runs of `inner` back-to-back copies),
   * for reports and tuning. Leaves gradients and parameters meaningless: re-load state afterwards.
   */
  async profile(repeats = 3, inner = 8): Promise<{ label: string; ms: number }[]> {
    const { device } = this.gpu;
    const time = async (items: Item[]) => {
      const times: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const encoder = device.createCommandEncoder();
        encodeItems(encoder, items);
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b)[repeats >> 1];
    };
    // A submit costs milliseconds on a software adapter: measure it with the cheapest dispatch.
    const overhead = await time([this.update]) -
      (await time(Array(inner + 1).fill(this.update)) - await time([this.update])) / inner;
    const items = [...this.forward, ...this.loss.dispatches, ...this.backward, this.update];
    const out: { label: string; ms: number }[] = [];
    for (const item of items) {
      if (!("pipeline" in item)) continue;
      const ms = (await time(Array(inner).fill(item)) - overhead) / inner;
      out.push({ label: item.label, ms: Math.max(0, ms) });
    }
    return out;
  }

  dispose(): void {
    this.rec.destroy();
  }
}
