// The image kernels on WebGPU against their CPU references: RGBA8 buffer and texture to tensor
// (plain conversion and affine warps, per-item transforms, channel-slice targets) and tensor to
// RGBA8 (exact bytes, clamping), plus a whole frame in one encoder around a GpuExecutor.

import assert from "node:assert/strict";
import { rng } from "../../src/graph/random.ts";
import { GpuExecutor, singleStepProgram } from "../../src/runtime/executor.ts";
import {
  type Affine,
  IDENTITY,
  ImageKernels,
  type Normalization,
  rgbaToTensorReference,
  SIGNED_UNIT,
  type TensorBinding,
  tensorToRgbaReference,
  type Warp,
} from "../../src/runtime/image.ts";
import {
  denseLayout,
  type HostTensor,
  hostTensor,
  type Layout,
  layoutFloats,
  pack,
  type Shape,
  unpack,
} from "../../src/runtime/tensor.ts";
import { gpuTest, maxAbsDiff, testGpu } from "../support/gpu.ts";

const IMAGENET: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/** A 3-channel tensor as a slice of a wider buffer: 4 floats of a neighbour before, 4 after. */
const SLICE: Layout = { pixelStride: 12, channelOffset: 4 };
const SENTINEL = -777;

const gpuPromise = testGpu();
const kernelsPromise = gpuPromise.then((gpu) => ImageKernels.create(gpu.device));

function randomBytes(seed: number, length: number): Uint8Array {
  const random = rng(seed);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** Similarity transform: rotate by `degrees` and scale about the output centre, then move it. */
function similarity(
  out: { width: number; height: number },
  degrees: number,
  scale: number,
  to: [number, number],
): Affine {
  const r = (degrees * Math.PI) / 180;
  const a = scale * Math.cos(r), b = -scale * Math.sin(r);
  const d = scale * Math.sin(r), e = scale * Math.cos(r);
  const cx = out.width / 2, cy = out.height / 2;
  return [a, b, to[0] - a * cx - b * cy, d, e, to[1] - d * cx - e * cy];
}

/** A tensor buffer whose floats outside the tensor hold SENTINEL, to catch stray writes. */
function tensorBuffer(device: GPUDevice, shape: Shape, layout: Layout, t?: HostTensor) {
  const data = new Float32Array(layoutFloats(shape, layout)).fill(SENTINEL);
  if (t) pack(t, layout, data);
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  const binding: TensorBinding = { buffer, tensor: { shape, layout } };
  return binding;
}

async function readBuffer(device: GPUDevice, buffer: GPUBuffer): Promise<ArrayBuffer> {
  const staging = device.createBuffer({
    size: buffer.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = staging.getMappedRange().slice(0);
  staging.destroy();
  return data;
}

/** Runs one stage's encode in its own submit. */
function submit(device: GPUDevice, encode: (encoder: GPUCommandEncoder) => void) {
  const encoder = device.createCommandEncoder();
  encode(encoder);
  device.queue.submit([encoder.finish()]);
}

/** Reads a tensor back and checks nothing outside its channels changed. */
async function readTensor(device: GPUDevice, target: TensorBinding): Promise<HostTensor> {
  const raw = new Float32Array(await readBuffer(device, target.buffer));
  const { shape, layout } = target.tensor;
  for (let i = 0; i < raw.length; i++) {
    const lane = i % layout.pixelStride - layout.channelOffset;
    if (lane < 0 || lane >= 4) {
      assert.equal(raw[i], SENTINEL, `float ${i} outside the tensor was overwritten`);
    }
  }
  return unpack(raw, shape, layout);
}

async function withErrorScope<T>(device: GPUDevice, body: () => Promise<T>): Promise<T> {
  device.pushErrorScope("validation");
  const result = await body();
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU validation: ${error.message}`);
  return result;
}

for (const [name, normalization] of [["[-1, 1]", SIGNED_UNIT], ["ImageNet", IMAGENET]] as const) {
  gpuTest(`rgba_to_tensor: identity is a plain conversion (${name}, batch 2, 7×5)`, async () => {
    const { device } = await gpuPromise;
    const kernels = await kernelsPromise;
    const size = { width: 7, height: 5 };
    const pixels = randomBytes(1, 2 * 7 * 5 * 4);
    const target = tensorBuffer(device, [2, 5, 7, 3], denseLayout([2, 5, 7, 3]));
    const actual = await withErrorScope(device, async () => {
      const stage = kernels.rgbaToTensor(target, { ...size, images: 2 }, { normalization });
      stage.writeImage(0, pixels.subarray(0, 140));
      stage.writeImage(1, pixels.subarray(140));
      submit(device, (e) => stage.encode(e));
      const t = await readTensor(device, target);
      stage.destroy();
      return t;
    });
    // Straight from the definition, independent of the reference's sampling code.
    const direct = hostTensor([2, 5, 7, 3]);
    for (let p = 0; p < 70; p++) {
      for (let c = 0; c < 3; c++) {
        direct.data[p * 3 + c] = (pixels[p * 4 + c] / 255 - normalization.mean[c]) /
          normalization.std[c];
      }
    }
    const warps: Warp[] = [{ transform: IDENTITY, image: 0 }, { transform: IDENTITY, image: 1 }];
    const expected = rgbaToTensorReference(pixels, size, warps, size, { normalization });
    assert.ok(maxAbsDiff(expected, direct) <= 1e-12, "the reference is not a plain conversion");
    const diff = maxAbsDiff(actual, expected);
    assert.ok(diff <= 1e-6, `max |gpu - cpu| = ${diff}`);
    target.buffer.destroy();
  });
}

gpuTest(
  "rgba_to_tensor: rotation + scale + translation per item, into a channel slice",
  async () => {
    const { device } = await gpuPromise;
    const kernels = await kernelsPromise;
    const source = { width: 37, height: 29 };
    const out = { width: 19, height: 17 };
    const pixels = randomBytes(2, 2 * 37 * 29 * 4);
    // Item 0 reads image 1 rotated 30°, magnified, partly off the image; item 1 reads image 0
    // rotated −75° and shrunk, well inside it.
    const warps: Warp[] = [
      { transform: similarity(out, 30, 1.7, [30, 8]), image: 1 },
      { transform: similarity(out, -75, 0.6, [18.3, 14.6]), image: 0 },
    ];
    const options = { normalization: IMAGENET, border: 0.25 };
    const target = tensorBuffer(device, [2, 17, 19, 3], SLICE);
    const actual = await withErrorScope(device, async () => {
      const stage = kernels.rgbaToTensor(target, { ...source, images: 2 }, options);
      stage.writeImage(0, pixels.subarray(0, 37 * 29 * 4));
      stage.writeImage(1, pixels.subarray(37 * 29 * 4));
      stage.setWarps(warps);
      submit(device, (e) => stage.encode(e));
      const t = await readTensor(device, target);
      stage.destroy();
      return t;
    });
    const expected = rgbaToTensorReference(pixels, source, warps, out, options);
    const borderSamples = expected.data.filter((v) => v === 0.25).length;
    assert.ok(borderSamples > 0, "the warp should sample outside the source somewhere");
    const diff = maxAbsDiff(actual, expected);
    assert.ok(diff <= 1e-4, `max |gpu - cpu| = ${diff}`);
    target.buffer.destroy();
  },
);

gpuTest(
  "rgba_to_tensor: a caller's pixel buffer shared by every item (one frame, N faces)",
  async () => {
    const { device } = await gpuPromise;
    const kernels = await kernelsPromise;
    const source = { width: 21, height: 13 };
    const out = { width: 9, height: 11 };
    const frame = randomBytes(3, 21 * 13 * 4);
    const buffer = device.createBuffer({
      size: frame.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, frame);
    const warps: Warp[] = [
      { transform: similarity(out, 10, 1.1, [6, 7]) },
      { transform: similarity(out, 170, 0.9, [15, 5]) },
      { transform: [1, 0, 3.25, 0, 1, -1.5] },
    ];
    const target = tensorBuffer(device, [3, 11, 9, 3], denseLayout([3, 11, 9, 3]));
    const actual = await withErrorScope(device, async () => {
      const stage = kernels.rgbaToTensor(target, { ...source, pixels: buffer });
      stage.setWarps(warps);
      submit(device, (e) => stage.encode(e));
      const t = await readTensor(device, target);
      stage.destroy();
      return t;
    });
    const expected = rgbaToTensorReference(frame, source, warps, out);
    const diff = maxAbsDiff(actual, expected);
    assert.ok(diff <= 1e-4, `max |gpu - cpu| = ${diff}`);
    buffer.destroy();
    target.buffer.destroy();
  },
);

gpuTest("texture_to_tensor: identity and per-face warps from one rgba8unorm frame", async () => {
  const { device } = await gpuPromise;
  const kernels = await kernelsPromise;
  const source = { width: 37, height: 29 };
  const frame = randomBytes(4, 37 * 29 * 4);
  const texture = device.createTexture({
    size: source,
    format: "rgba8unorm",
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  device.queue.writeTexture({ texture }, frame, { bytesPerRow: 37 * 4 }, source);

  // Identity with the frame's own size: the plain conversion, exact.
  const whole = tensorBuffer(device, [1, 29, 37, 3], SLICE);
  const plain = await withErrorScope(device, async () => {
    const stage = kernels.textureToTensor(whole, texture, { normalization: IMAGENET });
    submit(device, (e) => stage.encode(e));
    const t = await readTensor(device, whole);
    stage.destroy();
    return t;
  });
  const plainExpected = rgbaToTensorReference(frame, source, [{ transform: IDENTITY }], source, {
    normalization: IMAGENET,
  });
  const plainDiff = maxAbsDiff(plain, plainExpected);
  assert.ok(plainDiff <= 1e-6, `identity: max |gpu - cpu| = ${plainDiff}`);

  const out = { width: 15, height: 13 };
  const warps: Warp[] = [
    { transform: similarity(out, -20, 1.4, [10, 9]) },
    { transform: similarity(out, 95, 2.5, [33, 24]) },
  ];
  const options = { border: -1 };
  const crops = tensorBuffer(device, [2, 13, 15, 3], denseLayout([2, 13, 15, 3]));
  const actual = await withErrorScope(device, async () => {
    const stage = kernels.textureToTensor(crops, texture, options);
    stage.setWarps(warps);
    submit(device, (e) => stage.encode(e));
    const t = await readTensor(device, crops);
    stage.destroy();
    return t;
  });
  const expected = rgbaToTensorReference(frame, source, warps, out, options);
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff <= 1e-4, `warped: max |gpu - cpu| = ${diff}`);
  texture.destroy();
  whole.buffer.destroy();
  crops.buffer.destroy();
});

gpuTest("tensor_to_rgba: exact bytes, clamping, alpha 255, from a channel slice", async () => {
  const { device } = await gpuPromise;
  const kernels = await kernelsPromise;
  const shape: Shape = [2, 5, 7, 3];
  const random = rng(5);
  const t = hostTensor(shape);
  const wanted = new Uint8Array(2 * 5 * 7 * 4);
  for (let p = 0; p < 70; p++) {
    for (let c = 0; c < 3; c++) {
      // Normalised values of k ± 0.35: far enough from the rounding ties that f32 cannot flip them.
      const k = Math.floor(random() * 256);
      const v = (k + (random() - 0.5) * 0.7) / 255;
      t.data[p * 3 + c] = (v - IMAGENET.mean[c]) / IMAGENET.std[c];
      wanted[p * 4 + c] = k;
    }
    wanted[p * 4 + 3] = 255;
  }
  // Out of range: clamped to 0 or 255.
  const extremes = [-1e6, -3, -2.2, 2.7, 5, 1e6];
  extremes.forEach((v, i) => {
    t.data[i * 3 + (i % 3)] = v;
    wanted[i * 4 + (i % 3)] = v * IMAGENET.std[i % 3] + IMAGENET.mean[i % 3] < 0 ? 0 : 255;
  });
  const expected = tensorToRgbaReference(t, IMAGENET);
  assert.deepEqual(expected, wanted, "the reference disagrees with the construction");

  const source = tensorBuffer(device, shape, SLICE, t);
  const actual = await withErrorScope(device, async () => {
    const stage = kernels.tensorToRgba(source, { normalization: IMAGENET });
    const encoder = device.createCommandEncoder();
    stage.encode(encoder, { readback: true });
    device.queue.submit([encoder.finish()]);
    const bytes = await stage.read();
    stage.destroy();
    return bytes;
  });
  assert.deepEqual(actual, expected);
  source.buffer.destroy();
});

gpuTest("one frame, one encoder: pixels → executor → pixels round-trips exactly", async () => {
  const gpu = await gpuPromise;
  const { device } = gpu;
  const kernels = await kernelsPromise;
  const shape: Shape = [2, 9, 11, 3];
  // A stand-in network that passes its input through, so the bytes must come back unchanged.
  const program = singleStepProgram("activation", { act: "none" }, [shape], []);
  const executor = await GpuExecutor.create(gpu, program, new Map());
  const pixels = randomBytes(6, 2 * 9 * 11 * 4);
  for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255;
  const bytes = await withErrorScope(device, async () => {
    const input = kernels.rgbaToTensor(executor.binding(program.inputs[0]), {
      width: 11,
      height: 9,
      images: 2,
    });
    const output = kernels.tensorToRgba(executor.binding(program.outputs[0]));
    input.writeImage(0, pixels.subarray(0, 9 * 11 * 4));
    input.writeImage(1, pixels.subarray(9 * 11 * 4));
    const encoder = device.createCommandEncoder();
    input.encode(encoder);
    executor.encode(encoder);
    output.encode(encoder, { readback: true });
    device.queue.submit([encoder.finish()]);
    const result = await output.read();
    input.destroy();
    output.destroy();
    return result;
  });
  executor.dispose();
  assert.deepEqual(bytes, pixels);
});

gpuTest("tensor_to_rgba: copyToTexture puts item i in layer i", async () => {
  const { device } = await gpuPromise;
  const kernels = await kernelsPromise;
  const shape: Shape = [2, 3, 64, 3];
  const t = hostTensor(shape);
  const random = rng(7);
  for (let i = 0; i < t.data.length; i++) t.data[i] = random() * 2.4 - 1.2;
  const source = tensorBuffer(device, shape, denseLayout(shape), t);
  const texture = device.createTexture({
    size: { width: 64, height: 3, depthOrArrayLayers: 2 },
    format: "rgba8unorm",
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.TEXTURE_BINDING,
  });
  const readback = device.createBuffer({
    size: 2 * 3 * 64 * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  await withErrorScope(device, async () => {
    const stage = kernels.tensorToRgba(source);
    const encoder = device.createCommandEncoder();
    stage.encode(encoder);
    stage.copyToTexture(encoder, texture);
    encoder.copyTextureToBuffer(
      { texture },
      { buffer: readback, bytesPerRow: 256, rowsPerImage: 3 },
      { width: 64, height: 3, depthOrArrayLayers: 2 },
    );
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    stage.destroy();
  });
  const bytes = new Uint8Array(readback.getMappedRange().slice(0));
  readback.destroy();
  texture.destroy();
  source.buffer.destroy();
  assert.deepEqual(bytes, tensorToRgbaReference(t));
});

gpuTest("image stages reject mismatched shapes, warps and images", async () => {
  const { device } = await gpuPromise;
  const kernels = await kernelsPromise;
  const four = tensorBuffer(device, [1, 4, 4, 4], denseLayout([1, 4, 4, 4]));
  assert.throws(() => kernels.rgbaToTensor(four, { width: 4, height: 4 }), /3 channels/);
  assert.throws(() => kernels.tensorToRgba(four), /3 channels/);
  const target = tensorBuffer(device, [2, 4, 4, 3], denseLayout([2, 4, 4, 3]));
  const stage = kernels.rgbaToTensor(target, { width: 4, height: 4, images: 2 });
  assert.throws(() => stage.setWarps([{ transform: IDENTITY }]), /1 warps for a batch of 2/);
  assert.throws(
    () => stage.setWarps([{ transform: IDENTITY }, { transform: IDENTITY, image: 2 }]),
    /image 2 is not in 0\.\.1/,
  );
  assert.throws(() => stage.writeImage(0, new Uint8Array(10)), /needs 64/);
  stage.destroy();
  four.buffer.destroy();
  target.buffer.destroy();
});
