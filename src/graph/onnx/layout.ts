// Between our NHWC tensors and the NCHW tensors of an exported model's inputs and outputs, for
// whoever runs the export in another runtime (the edge server's ONNX Runtime backend, peers, tests).

import { type HostTensor, hostTensor } from "../../runtime/tensor.ts";

/** An NHWC tensor's data in NCHW order. */
export function toNchw(t: HostTensor): Float32Array {
  const [n, h, w, c] = t.shape;
  const out = new Float32Array(t.data.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) {
        out[(b * c + ch) * plane + p] = t.data[(b * plane + p) * c + ch];
      }
    }
  }
  return out;
}

/** NCHW data of dims `[n, c, h, w]` as our NHWC tensor. */
export function fromNchw(data: Float32Array, [n, c, h, w]: readonly number[]): HostTensor {
  const t = hostTensor([n, h, w, c]);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) {
        t.data[(b * plane + p) * c + ch] = data[(b * c + ch) * plane + p];
      }
    }
  }
  return t;
}
