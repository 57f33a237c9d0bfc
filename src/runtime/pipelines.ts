// Pipeline cache keyed by kernel + uniform struct + precision + override constants (+ a baked
// variant's generated code): a pipeline is compiled once (asynchronously, all at load) and never
// per dispatch.

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
    generated = "",
  ): string {
    const constants = Object.fromEntries(Object.entries(overrides).sort());
    const baked = generated && `|baked ${hash(generated)}`;
    return `${kernel}|${struct.name}|${precision}|${JSON.stringify(constants)}${baked}`;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  get(
    kernel: string,
    struct: UniformStruct<string>,
    overrides: Record<string, number>,
    precision: Precision = "f32",
    generated = "",
  ): Promise<GPUComputePipeline> {
    const key = PipelineCache.key(kernel, struct, overrides, precision, generated);
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipelineAsync({
        label: key,
        layout: "auto",
        compute: {
          module: this.#module(kernel, struct, precision, generated),
          entryPoint: "main",
          constants: overrides,
        },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  #module(
    kernel: string,
    struct: UniformStruct<string>,
    precision: Precision,
    generated: string,
  ): GPUShaderModule {
    const key = `${kernel}|${struct.name}|${precision}|${generated && hash(generated)}`;
    let module = this.#modules.get(key);
    if (!module) {
      module = this.device.createShaderModule({
        label: kernel,
        code: kernelSource(kernel, struct, precision, generated),
      });
      this.#modules.set(key, module);
    }
    return module;
  }
}

/** FNV-1a over the code, 2 × 32 bits with different seeds: a short key for generated code. */
function hash(text: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
