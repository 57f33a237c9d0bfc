// The before/after view drawn by WebGPU: one render pass puts the camera frame left of the split
// line and the composited result right of it into any render target (the canvas's current texture
// on a real GPU), texel for texel (kernels in present.wgsl).

import present from "./present.wgsl" with { type: "text" };

export class SplitView {
  readonly #split: GPUBuffer;
  #group?: GPUBindGroup;

  private constructor(readonly device: GPUDevice, readonly pipeline: GPURenderPipeline) {
    this.#split = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "split view line",
    });
  }

  /** Compiles the pipeline for targets of `format` (the canvas's preferred format). */
  static async create(device: GPUDevice, format: GPUTextureFormat): Promise<SplitView> {
    const module = device.createShaderModule({ label: "split view", code: present });
    const pipeline = await device.createRenderPipelineAsync({
      label: "split view",
      layout: "auto",
      vertex: { module, entryPoint: "vs" },
      fragment: { module, entryPoint: "fs", targets: [{ format }] },
      primitive: { topology: "triangle-list" },
    });
    return new SplitView(device, pipeline);
  }

  /** The two textures to show (TEXTURE_BINDING, the size of the target). */
  bind(before: GPUTexture, after: GPUTexture): void {
    this.#group = this.device.createBindGroup({
      label: "split view",
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: before.createView() },
        { binding: 1, resource: after.createView() },
        { binding: 2, resource: { buffer: this.#split } },
      ],
    });
  }

  /** Where the line is, in target pixels from the left: `before` shows left of it. */
  setSplit(x: number): void {
    this.device.queue.writeBuffer(this.#split, 0, new Float32Array([x, 0, 0, 0]));
  }

  encode(encoder: GPUCommandEncoder, target: GPUTextureView): void {
    if (!this.#group) throw new Error("SplitView.bind() first");
    const pass = encoder.beginRenderPass({
      label: "split view",
      colorAttachments: [{
        view: target,
        loadOp: "clear",
        storeOp: "store",
        clearValue: [0, 0, 0, 1],
      }],
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.#group);
    pass.draw(3);
    pass.end();
  }

  destroy(): void {
    this.#split.destroy();
  }
}
