// The training kernels (backward rows, losses, optimizer), imported as text like the runtime's and
// registered with it on import: only code that trains carries them, inference bundles do not.

import { registerKernels } from "../runtime/kernels.ts";
import conv2d_grad_input from "../../kernels/wgsl/conv2d_grad_input.wgsl" with { type: "text" };
import conv2d_grad_input_reg from "../../kernels/wgsl/conv2d_grad_input_reg.wgsl" with {
  type: "text",
};
import pointwise_grad_input from "../../kernels/wgsl/pointwise_grad_input.wgsl" with {
  type: "text",
};
import conv2d_grad_weight from "../../kernels/wgsl/conv2d_grad_weight.wgsl" with { type: "text" };
import conv2d_grad_weight_reg from "../../kernels/wgsl/conv2d_grad_weight_reg.wgsl" with {
  type: "text",
};
import pointwise_grad_weight from "../../kernels/wgsl/pointwise_grad_weight.wgsl" with {
  type: "text",
};
import bias_grad from "../../kernels/wgsl/bias_grad.wgsl" with { type: "text" };
import depthwise_grad_input from "../../kernels/wgsl/depthwise_grad_input.wgsl" with {
  type: "text",
};
import depthwise_grad_input_reg from "../../kernels/wgsl/depthwise_grad_input_reg.wgsl" with {
  type: "text",
};
import depthwise_grad_weight from "../../kernels/wgsl/depthwise_grad_weight.wgsl" with {
  type: "text",
};
import depthwise_grad_weight_reg from "../../kernels/wgsl/depthwise_grad_weight_reg.wgsl" with {
  type: "text",
};
import sum_partials from "../../kernels/wgsl/sum_partials.wgsl" with { type: "text" };
import act_grad from "../../kernels/wgsl/act_grad.wgsl" with { type: "text" };
import slice_grad from "../../kernels/wgsl/slice_grad.wgsl" with { type: "text" };
import residual_mask_grad from "../../kernels/wgsl/residual_mask_grad.wgsl" with { type: "text" };
import upsample2x_grad from "../../kernels/wgsl/upsample2x_grad.wgsl" with { type: "text" };
import loss_pixel from "../../kernels/wgsl/loss_pixel.wgsl" with { type: "text" };
import ssim_stats from "../../kernels/wgsl/ssim_stats.wgsl" with { type: "text" };
import ssim_map from "../../kernels/wgsl/ssim_map.wgsl" with { type: "text" };
import ssim_grad_h from "../../kernels/wgsl/ssim_grad_h.wgsl" with { type: "text" };
import ssim_grad_v from "../../kernels/wgsl/ssim_grad_v.wgsl" with { type: "text" };
import loss_reduce from "../../kernels/wgsl/loss_reduce.wgsl" with { type: "text" };
import adam from "../../kernels/wgsl/adam.wgsl" with { type: "text" };

export const TRAINING_KERNELS: Record<string, string> = {
  conv2d_grad_input,
  conv2d_grad_input_reg,
  pointwise_grad_input,
  conv2d_grad_weight,
  conv2d_grad_weight_reg,
  pointwise_grad_weight,
  bias_grad,
  depthwise_grad_input,
  depthwise_grad_input_reg,
  depthwise_grad_weight,
  depthwise_grad_weight_reg,
  sum_partials,
  act_grad,
  slice_grad,
  residual_mask_grad,
  upsample2x_grad,
  loss_pixel,
  ssim_stats,
  ssim_map,
  ssim_grad_h,
  ssim_grad_v,
  loss_reduce,
  adam,
};

registerKernels(TRAINING_KERNELS);
