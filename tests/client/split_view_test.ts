// The before/after view the on-device path draws into the canvas with WebGPU, rendered here into an
// offscreen target of the canvas formats: left of the line the camera frame's bytes, right of it
// the result's, exactly, and the line moves with setSplit.

import assert from "node:assert/strict";
import { rng } from "../../src/graph/random.ts";
import { SplitView } from "../../src/client/split_view.ts";
import { gpuTest, testGpu } from "../support/gpu.ts";

const W = 64, H = 40;

function texture(device: GPUDevice, bytes: Uint8Array): GPUTexture {
  const t = device.createTexture({
    size: [W, H],
    format: "rgba8unorm",
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  device.queue.writeTexture({ texture: t }, bytes, { bytesPerRow: W * 4 }, [W, H]);
  return t;
}

gpuTest(
  "the split view shows the frame left of the line and the result right of it, exactly",
  async () => {
    const { device } = await testGpu();
    const random = rng(9);
    const bytes = () =>
      Uint8Array.from(
        { length: W * H * 4 },
        (_, i) => i % 4 === 3 ? 255 : Math.floor(random() * 256),
      );
    const [before, after] = [bytes(), bytes()];
    const [tBefore, tAfter] = [texture(device, before), texture(device, after)];
    // Canvases take bgra8unorm or rgba8unorm (getPreferredCanvasFormat): both are checked.
    for (const format of ["rgba8unorm", "bgra8unorm"] as const) {
      const view = await SplitView.create(device, format);
      view.bind(tBefore, tAfter);
      const target = device.createTexture({
        size: [W, H],
        format,
        usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC,
      });
      const readback = device.createBuffer({
        size: 256 * H,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      for (const split of [0, 23, W]) {
        view.setSplit(split);
        const encoder = device.createCommandEncoder();
        view.encode(encoder, target.createView());
        encoder.copyTextureToBuffer({ texture: target }, { buffer: readback, bytesPerRow: 256 }, [
          W,
          H,
        ]);
        device.queue.submit([encoder.finish()]);
        await readback.mapAsync(GPUMapMode.READ);
        const got = new Uint8Array(readback.getMappedRange().slice(0));
        readback.unmap();
        const order = format === "bgra8unorm" ? [2, 1, 0, 3] : [0, 1, 2, 3];
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const want = x < split ? before : after;
            for (let c = 0; c < 4; c++) {
              assert.equal(
                got[y * 256 + x * 4 + order[c]],
                want[(y * W + x) * 4 + c],
                `${format}, split ${split}: (${x}, ${y}) channel ${c}`,
              );
            }
          }
        }
      }
      view.destroy();
      target.destroy();
      readback.destroy();
    }
    tBefore.destroy();
    tAfter.destroy();
  },
);
