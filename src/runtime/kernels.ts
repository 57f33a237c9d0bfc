// WGSL sources, imported as text so Deno and the browser bundle compile the very same bytes.
// A kernel's final source is the precision prelude + common.wgsl + its uniform struct + its own
// file.

import common from "../../kernels/wgsl/common.wgsl" with { type: "text" };
import conv2d from "../../kernels/wgsl/conv2d.wgsl" with { type: "text" };
import conv2d_reg from "../../kernels/wgsl/conv2d_reg.wgsl" with { type: "text" };
import conv2d_few from "../../kernels/wgsl/conv2d_few.wgsl" with { type: "text" };
import depthwise from "../../kernels/wgsl/depthwise.wgsl" with { type: "text" };
import depthwise_reg from "../../kernels/wgsl/depthwise_reg.wgsl" with { type: "text" };
import depthwise_project from "../../kernels/wgsl/depthwise_project.wgsl" with { type: "text" };
import depthwise_project_direct from "../../kernels/wgsl/depthwise_project_direct.wgsl" with {
  type: "text",
};
import pointwise_reg from "../../kernels/wgsl/pointwise_reg.wgsl" with { type: "text" };
import pointwise_uniform from "../../kernels/wgsl/pointwise_uniform.wgsl" with { type: "text" };
import pointwise_tiled from "../../kernels/wgsl/pointwise_tiled.wgsl" with { type: "text" };
import conv2d_baked from "../../kernels/wgsl/conv2d_baked.wgsl" with { type: "text" };
import upsample2x from "../../kernels/wgsl/upsample2x.wgsl" with { type: "text" };
import upsample2x_block from "../../kernels/wgsl/upsample2x_block.wgsl" with { type: "text" };
import upsample_rows from "../../kernels/wgsl/upsample_rows.wgsl" with { type: "text" };
import upsample_conv_head from "../../kernels/wgsl/upsample_conv_head.wgsl" with { type: "text" };
import upsample_conv_head_baked from "../../kernels/wgsl/upsample_conv_head_baked.wgsl" with {
  type: "text",
};
import upsample_head_tiles from "../../kernels/wgsl/upsample_head_tiles.wgsl" with { type: "text" };
import upsample_conv_head_direct from "../../kernels/wgsl/upsample_conv_head_direct.wgsl" with {
  type: "text",
};
import concat from "../../kernels/wgsl/concat.wgsl" with { type: "text" };
import add from "../../kernels/wgsl/add.wgsl" with { type: "text" };
import activation from "../../kernels/wgsl/activation.wgsl" with { type: "text" };
import residual_mask from "../../kernels/wgsl/residual_mask.wgsl" with { type: "text" };
import rgba_to_tensor from "../../kernels/wgsl/rgba_to_tensor.wgsl" with { type: "text" };
import texture_to_tensor from "../../kernels/wgsl/texture_to_tensor.wgsl" with { type: "text" };
import tensor_to_rgba from "../../kernels/wgsl/tensor_to_rgba.wgsl" with { type: "text" };
import composite from "../../kernels/wgsl/composite.wgsl" with { type: "text" };
import face_mask from "../../kernels/wgsl/face_mask.wgsl" with { type: "text" };
import { type UniformStruct } from "./uniforms.ts";

const files: Record<string, string> = {
  conv2d,
  conv2d_reg,
  conv2d_few,
  depthwise,
  depthwise_reg,
  depthwise_project,
  depthwise_project_direct,
  pointwise_reg,
  // Kernels with the UP epilogue get its shared row-segment helpers.
  pointwise_uniform: `${pointwise_uniform}\n${upsample_rows}`,
  pointwise_tiled,
  conv2d_baked: `${conv2d_baked}\n${upsample_rows}`,
  upsample2x,
  upsample2x_block,
  // The fused head's two kernels share its tile.
  upsample_conv_head: `${upsample_conv_head}\n${upsample_head_tiles}`,
  upsample_conv_head_baked: `${upsample_conv_head_baked}\n${upsample_head_tiles}`,
  upsample_conv_head_direct,
  concat,
  add,
  activation,
  residual_mask,
  rgba_to_tensor,
  texture_to_tensor,
  tensor_to_rgba,
  composite,
  face_mask,
};

/**
 * Adds kernels that live outside the inference runtime (src/train/kernels.ts registers the backward,
 * loss and optimizer kernels), so an inference bundle carries only what inference runs. The same
 * name may be registered again only with the same text.
 */
export function registerKernels(more: Record<string, string>): void {
  for (const [name, text] of Object.entries(more)) {
    if (files[name] !== undefined && files[name] !== text) {
      throw new Error(`a different WGSL kernel named "${name}" is already registered`);
    }
    files[name] = text;
  }
}

/**
 * Arithmetic precision of a kernel: kernels written against `real` (their packed parameters and
 * accumulators) compile at either; activations stay f32 in memory.
 */
export type Precision = "f32" | "f16";

/**
 * Full WGSL text of a kernel, given the uniform struct it reads its parameters from, and the code a
 * baked variant generates for one step (GpuVariant.bake).
 */
export function kernelSource(
  name: string,
  params: UniformStruct<string>,
  precision: Precision = "f32",
  generated = "",
): string {
  const file = files[name];
  if (file === undefined) throw new Error(`no WGSL kernel named "${name}"`);
  // REAL_MAX: the largest finite `real`, as an f32 (clamp bounds from f32 uniforms must not
  // overflow to infinity in f16).
  const prelude = precision === "f16"
    ? "enable f16;\nalias real = f16;\nconst REAL_MAX: f32 = 65504.0;"
    : "alias real = f32;\nconst REAL_MAX: f32 = 3.4028234663852886e38;";
  return `${prelude}\n${common}\n${params.wgsl}\n${file}${generated && `\n${generated}`}`;
}
