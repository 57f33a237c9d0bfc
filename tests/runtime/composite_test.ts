// The paste-back composite: the WGSL kernels against their CPU reference (two rotated faces over a
// random frame, crops in a channel slice), bytes outside the outlines untouched, the mask agreeing
// with the face masks module, the box bounding every written pixel, and the client's GPU round trip
// (crop into a tensor, paste it back unchanged) returning the frame exactly, detail included.

import assert from "node:assert/strict";
import { rng } from "../../src/graph/random.ts";
import {
  compositeBox,
  type CompositeFace,
  compositeReference,
  Compositor,
  faceMaskReference,
  MASK_INSET,
  polygonSignedDistance,
} from "../../src/runtime/composite.ts";
import { type Affine, ImageKernels, type TensorBinding } from "../../src/runtime/image.ts";
import {
  hostTensor,
  type Layout,
  layoutFloats,
  pack,
  type Shape,
} from "../../src/runtime/tensor.ts";
import {
  CANONICAL_FACE,
  FACE_OVAL,
  FACE_TEMPLATE,
  frameToCrop,
  polygonMask,
} from "../../src/face/mod.ts";
import { gpuTest, testGpu } from "../support/gpu.ts";

const W = 128, H = 72, S = 32;

function randomBytes(seed: number, length: number): Uint8Array {
  const random = rng(seed);
  return Uint8Array.from({ length }, (_, i) => i % 4 === 3 ? 200 : Math.floor(random() * 256));
}

/** The face oval of the canonical face, in crop pixels of an S crop. */
function ovalInCrop(size: number): Float32Array {
  const all = frameToCrop(FACE_TEMPLATE, size, CANONICAL_FACE);
  return Float32Array.from(FACE_OVAL.flatMap((i) => [all[2 * i], all[2 * i + 1]]));
}

/** Crop → frame similarity: rotate by `deg`, scale, crop centre to `at`; with its inverse. */
function face(deg: number, scale: number, at: [number, number]): CompositeFace {
  const r = (deg * Math.PI) / 180;
  const a = scale * Math.cos(r), d = scale * Math.sin(r);
  const c = at[0] - (a * S) / 2 + (d * S) / 2, f = at[1] - (d * S) / 2 - (a * S) / 2;
  const warp: Affine = [a, -d, c, d, a, f];
  const det = a * a + d * d;
  const inverse: Affine = [
    a / det,
    d / det,
    -(a * c + d * f) / det,
    -d / det,
    a / det,
    (d * c - a * f) / det,
  ];
  return { warp, inverse, outline: ovalInCrop(S) };
}

Deno.test("the face mask is the masks module's polygon mask, ramp moved inside the outline", () => {
  const outline = ovalInCrop(64);
  const points = Array.from(
    { length: outline.length / 2 },
    (_, k) => [outline[2 * k], outline[2 * k + 1]] as const,
  );
  for (const feather of [1, 6.4]) {
    const mask = polygonMask(points, 64, 64, { feather, grow: -(feather / 2 + MASK_INSET) });
    const ours = faceMaskReference(outline, 64, feather);
    for (let i = 0; i < ours.length; i++) {
      assert.ok(Math.abs(ours[i] - mask.data[i]) < 1e-5, `pixel ${i}, feather ${feather}`);
    }
  }
});

Deno.test("sampled bilinearly, the mask is exactly 0 everywhere outside the outline", () => {
  const outline = ovalInCrop(S);
  const mask = faceMaskReference(outline, S, 3);
  const at = (x: number, y: number) =>
    mask[Math.min(S - 1, Math.max(0, y)) * S + Math.min(S - 1, Math.max(0, x))];
  const random = rng(5);
  let outside = 0;
  for (let k = 0; k < 20_000; k++) {
    const u = random() * S, v = random() * S;
    if (polygonSignedDistance(outline, u, v) < 0) continue;
    outside++;
    const x0 = Math.floor(u - 0.5), y0 = Math.floor(v - 0.5);
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      assert.equal(at(x0 + dx, y0 + dy), 0, `(${u}, ${v}) sees a non-zero texel`);
    }
  }
  assert.ok(outside > 1000);
});

Deno.test("the box holds every pixel the reference changes; no faces change nothing", () => {
  const frame = { width: W, height: H, data: randomBytes(3, W * H * 4) };
  const faces = [face(15, 1.2, [30, 36]), face(-40, 0.9, [70, 30])];
  const inputs = hostTensor([2, S, S, 3], new Float32Array(2 * S * S * 3).fill(-0.5));
  const crops = hostTensor([2, S, S, 3], new Float32Array(2 * S * S * 3).fill(0.9));
  const out = compositeReference(frame, inputs, crops, faces, { feather: 3 });
  const box = compositeBox(faces, W, H);
  let changed = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 4; c++) {
        const i = (y * W + x) * 4 + c;
        if (out[i] === frame.data[i]) continue;
        changed++;
        assert.ok(c < 3, "alpha changed");
        assert.ok(x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height);
      }
    }
  }
  assert.ok(changed > 500, `only ${changed} values changed`);
  assert.deepEqual(compositeReference(frame, inputs, crops, [], { feather: 3 }), frame.data);
  // An edit of nothing changes nothing, however the crops and frame differ.
  assert.deepEqual(compositeReference(frame, crops, crops, faces, { feather: 3 }), frame.data);
  assert.equal(compositeBox([], W, H).width, 0);
});

gpuTest(
  "composite: GPU matches the CPU reference, bytes outside the outlines untouched",
  async () => {
    const { device } = await testGpu();
    const compositor = await Compositor.create(device);
    const frameBytes = randomBytes(1, W * H * 4);
    const frame = device.createTexture({
      size: [W, H],
      format: "rgba8unorm",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    device.queue.writeTexture({ texture: frame }, frameBytes, { bytesPerRow: W * 4 }, [W, H]);
    const result = device.createTexture({
      size: [W, H],
      format: "rgba8unorm",
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    // Crops in a channel slice of a wider buffer (stride 8, offset 4), as a program output may be.
    const shape: Shape = [2, S, S, 3];
    const layout: Layout = { pixelStride: 8, channelOffset: 4 };
    const random = rng(2);
    const crops = hostTensor(
      shape,
      Float32Array.from({ length: 2 * S * S * 3 }, () => random() * 2.4 - 1.2),
    );
    const buffer = device.createBuffer({
      size: layoutFloats(shape, layout) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, pack(crops, layout));
    const binding: TensorBinding = { buffer, tensor: { shape, layout } };
    // The inputs dense (stride 4), as the program's input tensor is.
    const inputs = hostTensor(
      shape,
      Float32Array.from({ length: 2 * S * S * 3 }, () => random() * 2 - 1),
    );
    const inputLayout: Layout = { pixelStride: 4, channelOffset: 0 };
    const inputBuffer = device.createBuffer({
      size: layoutFloats(shape, inputLayout) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(inputBuffer, 0, pack(inputs, inputLayout));
    const input: TensorBinding = { buffer: inputBuffer, tensor: { shape, layout: inputLayout } };
    const faces = [face(15, 1.2, [30, 36]), face(-40, 0.9, [60, 34])];

    const readback = device.createBuffer({
      size: W * 4 * H,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    device.pushErrorScope("validation");
    const stage = compositor.bind(frame, result, { input, output: binding }, { maxFaces: 4 });
    for (const feather of [0.5, 4]) {
      for (const count of [2, 0]) {
        const chosen = faces.slice(0, count);
        stage.setFaces(chosen, { feather });
        const encoder = device.createCommandEncoder();
        stage.encode(encoder);
        // 128 × 4 = 512 bytes per row, a multiple of 256 as buffer copies need.
        encoder.copyTextureToBuffer({ texture: result }, { buffer: readback, bytesPerRow: W * 4 }, [
          W,
          H,
        ]);
        device.queue.submit([encoder.finish()]);
        await readback.mapAsync(GPUMapMode.READ);
        const gpu = new Uint8Array(readback.getMappedRange().slice(0));
        readback.unmap();
        const cpu = compositeReference(
          { width: W, height: H, data: frameBytes },
          inputs,
          crops,
          chosen,
          { feather },
        );
        let worst = 0, inside = 0;
        for (let i = 0; i < gpu.length; i++) {
          if (cpu[i] === frameBytes[i] && gpu[i] !== frameBytes[i]) {
            // The reference left it alone: the GPU may differ only where the mask is barely > 0.
            assert.ok(Math.abs(gpu[i] - cpu[i]) <= 1, `byte ${i}: gpu ${gpu[i]}, frame ${cpu[i]}`);
          }
          if (cpu[i] !== frameBytes[i]) inside++;
          worst = Math.max(worst, Math.abs(gpu[i] - cpu[i]));
        }
        assert.ok(worst <= 1, `feather ${feather}, ${count} faces: max |gpu - cpu| = ${worst}`);
        if (count === 0) assert.deepEqual(gpu, frameBytes);
        else assert.ok(inside > 300, `only ${inside} bytes changed`);
        // Outside the box the GPU never writes: exact frame bytes.
        const box = stage.box;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            if (
              count && x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height
            ) {
              continue;
            }
            for (let c = 0; c < 4; c++) {
              const i = (y * W + x) * 4 + c;
              assert.equal(gpu[i], frameBytes[i], `(${x}, ${y}) outside the box changed`);
            }
          }
        }
      }
    }
    const error = await device.popErrorScope();
    assert.equal(error, null, error?.message);
    stage.destroy();
    for (const r of [frame, result]) r.destroy();
    for (const b of [buffer, inputBuffer, readback]) b.destroy();
  },
);

gpuTest(
  "crop on the GPU and paste straight back: the frame returns exactly, detail included",
  async () => {
    // The client's round trip with an identity effect: texture_to_tensor cuts the aligned crops into
    // a tensor, the composite pastes that very tensor back as the output. The edit is zero, so every
    // pixel (a noisy picture, faces enlarged past the crop's resolution) keeps the frame's bytes.
    const { device } = await testGpu();
    const compositor = await Compositor.create(device);
    const images = await ImageKernels.create(device);
    const picture = { width: W, height: H, data: randomBytes(5, W * H * 4) };
    const frame = device.createTexture({
      size: [W, H],
      format: "rgba8unorm",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    device.queue.writeTexture({ texture: frame }, picture.data, { bytesPerRow: W * 4 }, [W, H]);
    const result = device.createTexture({
      size: [W, H],
      format: "rgba8unorm",
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    const shape: Shape = [2, S, S, 3];
    const crops: TensorBinding = {
      buffer: device.createBuffer({ size: 2 * S * S * 16, usage: GPUBufferUsage.STORAGE }),
      tensor: { shape, layout: { pixelStride: 4, channelOffset: 0 } },
    };
    const faces = [face(15, 2.2, [30, 36]), face(-40, 0.9, [90, 34])];
    const crop = images.textureToTensor(crops, frame);
    crop.setWarps(faces.map((f) => ({ transform: f.warp })));
    const stage = compositor.bind(frame, result, { input: crops, output: crops });
    stage.setFaces(faces, { feather: 2 });
    const readback = device.createBuffer({
      size: W * H * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder();
    crop.encode(encoder);
    stage.encode(encoder);
    encoder.copyTextureToBuffer({ texture: result }, { buffer: readback, bytesPerRow: W * 4 }, [
      W,
      H,
    ]);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(readback.getMappedRange().slice(0));
    readback.unmap();
    let inside = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = (y * W + x) * 4;
        const within = faces.some((f) => {
          const [a, b, c, d, e, g] = f.inverse;
          const u = a * (x + 0.5) + b * (y + 0.5) + c, v = d * (x + 0.5) + e * (y + 0.5) + g;
          return polygonSignedDistance(f.outline, u, v) < 0;
        });
        for (let ch = 0; ch < 4; ch++) {
          assert.equal(out[p + ch], picture.data[p + ch], `(${x}, ${y}) changed`);
        }
        if (within) inside++;
      }
    }
    assert.ok(inside > 300, `${inside} pixels inside the faces`);
    crop.destroy();
    stage.destroy();
    for (const t of [frame, result]) t.destroy();
    for (const b of [crops.buffer, readback]) b.destroy();
  },
);
