// Pipeline cache keyed by kernel + uniform struct + precision + override constants: a pipeline is
// compiled once (asynchronously, all at load) and never per dispatch.

import { kernelSource, type Precision } from "./kernels.ts";
import type { UniformStruct } from "./uniforms.ts";

export class PipelineCache {
  #modules = new Map<string, GPUShaderModule>();
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(readonly device: GPUDevice) {}

  /** What identifies a compiled pipeline: equal keys share one. */
  static key(
    kernel: string,
    struct: UniformStruct<string>,
    overrides: Record<string, number>,
    precision: Precision = "f32",
  ): string {
    const constants = Object.fromEntries(Object.entries(overrides).sort());
    return `${kernel}|${struct.name}|${precision}|${JSON.stringify(constants)}`;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  get(
    kernel: string,
    struct: UniformStruct<string>,
    overrides: Record<string, number>,
    precision: Precision = "f32",
  ): Promise<GPUComputePipeline> {
    const key = PipelineCache.key(kernel, struct, overrides, precision);
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipelineAsync({
        label: key,
        layout: "auto",
        compute: {
          module: this.#module(kernel, struct, precision),
          entryPoint: "main",
          constants: overrides,
        },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  #module(kernel: string, struct: UniformStruct<string>, precision: Precision): GPUShaderModule {
    const key = `${kernel}|${struct.name}|${precision}`;
    let module = this.#modules.get(key);
    if (!module) {
      module = this.device.createShaderModule({
        label: kernel,
        code: kernelSource(kernel, struct, precision),
      });
      this.#modules.set(key, module);
    }
    return module;
  }
}
