// WGSL sources, imported as text so Deno and the browser bundle compile the very same bytes.
// A kernel's final source is common.wgsl + its uniform struct + its own file.

import common from "../../kernels/wgsl/common.wgsl" with { type: "text" };
import conv2d from "../../kernels/wgsl/conv2d.wgsl" with { type: "text" };
import { type UniformStruct } from "./uniforms.ts";

const files: Record<string, string> = {
  conv2d,
};

/** Full WGSL text of a kernel, given the uniform struct it reads its parameters from. */
export function kernelSource(name: string, params: UniformStruct<string>): string {
  const file = files[name];
  if (file === undefined) throw new Error(`no WGSL kernel named "${name}"`);
  return `${common}\n${params.wgsl}\n${file}`;
}
