// Tests for the safetensors reader/writer: round trips, byte-level interop with the reference
// layout, and one specific error code per kind of malformed file (f16 conversion itself:
// tests/runtime/half_test.ts).

import assert from "node:assert/strict";
import {
  parseSafetensors,
  sha256Hex,
  type Tensor,
  validateTensors,
  verifySha256,
  WeightsError,
  type WeightsErrorCode,
  writeSafetensors,
} from "../../src/graph/safetensors.ts";

const enc = new TextEncoder();

/** A file from a header object and raw data, laid out exactly as the format says. */
function file(
  header: unknown,
  data: ArrayLike<number> = [],
  headerLen?: number | bigint,
): Uint8Array {
  const json = enc.encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function assertCode(fn: () => unknown, code: WeightsErrorCode, message?: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof WeightsError, `expected WeightsError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const f32le = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

Deno.test("round trip: F32 exact, I8 exact, metadata kept", () => {
  const w = new Float32Array([0, -0, 1.5, -3.25e-38, 1e-45, 3.4028234663852886e38, Math.PI, -1e-7]);
  const q = new Int8Array([-128, -127, -1, 0, 1, 127]);
  const bytes = writeSafetensors(
    {
      "conv.weight": { dtype: "F32", shape: [2, 2, 2], data: w },
      "conv.q": { dtype: "I8", shape: [2, 3], data: q },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([7]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    },
    { arch: '{"channels":[16,32]}', format: "pt" },
  );
  const { metadata, tensors } = parseSafetensors(bytes);
  assert.deepEqual(metadata, { arch: '{"channels":[16,32]}', format: "pt" });
  assert.deepEqual(tensors.get("conv.weight"), { dtype: "F32", shape: [2, 2, 2], data: w });
  assert.ok(Object.is(tensors.get("conv.weight")!.data[1], -0));
  assert.deepEqual(tensors.get("conv.q"), { dtype: "I8", shape: [2, 3], data: q });
  assert.deepEqual(tensors.get("scalar"), { dtype: "F32", shape: [], data: new Float32Array([7]) });
  assert.deepEqual(tensors.get("empty"), {
    dtype: "F32",
    shape: [0, 4],
    data: new Float32Array(0),
  });
  assert.equal(tensors.size, 4);
});

Deno.test("round trip: F16 within half precision, exact for representable values", () => {
  const exact = new Float32Array([
    0,
    1,
    -2,
    0.5,
    65504,
    -65504,
    2 ** -24,
    2 ** -14,
    0.333251953125,
  ]);
  const { tensors } = parseSafetensors(
    writeSafetensors({ h: { dtype: "F16", shape: [exact.length], data: exact } }),
  );
  assert.deepEqual(tensors.get("h"), { dtype: "F16", shape: [exact.length], data: exact });

  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const data = Float32Array.from({ length: 1000 }, () => rand() * 100);
  const back = parseSafetensors(writeSafetensors({ h: { dtype: "F16", shape: [10, 100], data } }))
    .tensors.get("h")!.data;
  for (let i = 0; i < data.length; i++) {
    // Round to nearest: relative error at most half an ulp, 2^-11 (values here are normal).
    assert.ok(
      Math.abs(back[i] - data[i]) <= Math.abs(data[i]) * 2 ** -11,
      `${data[i]} -> ${back[i]}`,
    );
  }
});

Deno.test("interop: a file laid out byte by byte as Python safetensors writes it", () => {
  // save_file({"weight": f16[2,2], "bias": f32[2], "q": i8[3]}, metadata={"format": "pt"}):
  // __metadata__ first, tensors by dtype alignment (F32, F16, I8) then name, header padded
  // with spaces to a multiple of 8, data contiguous and little-endian.
  const json = '{"__metadata__":{"format":"pt"},' +
    '"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"weight":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]},' +
    '"q":{"dtype":"I8","shape":[3],"data_offsets":[16,19]}}';
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
  assert.equal(padded.length, 208);
  const bytes = new Uint8Array([
    ...[208, 0, 0, 0, 0, 0, 0, 0], // u64 LE header length
    ...enc.encode(padded),
    ...[0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0xbf], // f32 0.25, -1
    ...[0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b], // f16 1, -2, 0.5, 65504
    ...[0x81, 0x00, 0x7f], // i8 -127, 0, 127
  ]);

  const { metadata, tensors } = parseSafetensors(bytes);
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual(tensors.get("bias"), {
    dtype: "F32",
    shape: [2],
    data: new Float32Array([0.25, -1]),
  });
  assert.deepEqual(tensors.get("weight"), {
    dtype: "F16",
    shape: [2, 2],
    data: new Float32Array([1, -2, 0.5, 65504]),
  });
  assert.deepEqual(tensors.get("q"), {
    dtype: "I8",
    shape: [3],
    data: new Int8Array([-127, 0, 127]),
  });

  // Our writer produces the identical bytes, whatever order the tensors are given in.
  const written = writeSafetensors(
    {
      q: { dtype: "I8", shape: [3], data: new Int8Array([-127, 0, 127]) },
      weight: { dtype: "F16", shape: [2, 2], data: new Float32Array([1, -2, 0.5, 65504]) },
      bias: { dtype: "F32", shape: [2], data: new Float32Array([0.25, -1]) },
    },
    { format: "pt" },
  );
  assert.deepEqual(written, bytes);
});

Deno.test("writer: aligned header, deterministic order, no metadata key unless given", () => {
  const t: Record<string, Tensor> = {
    b: { dtype: "I8", shape: [1], data: new Int8Array([1]) },
    "10": { dtype: "F32", shape: [1], data: new Float32Array([1]) },
    "9": { dtype: "F32", shape: [1], data: new Float32Array([2]) },
    a: { dtype: "F16", shape: [1], data: new Float32Array([3]) },
  };
  const bytes = writeSafetensors(t);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(header, /^\{.*\} *$/);
  assert.ok(!header.includes("__metadata__"));
  // Names sort as strings ("10" < "9"), even though JS objects put integer keys first.
  assert.ok(header.indexOf('"10"') < header.indexOf('"9"'));
  assert.ok(header.indexOf('"9"') < header.indexOf('"a"'));
  assert.ok(header.indexOf('"a"') < header.indexOf('"b"'));
  const reordered = Object.fromEntries(Object.entries(t).reverse());
  assert.deepEqual(writeSafetensors(reordered), bytes);
});

Deno.test("parse works on an unaligned view into a larger buffer", () => {
  const inner = writeSafetensors({
    w: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) },
  });
  const outer = new Uint8Array(inner.length + 3);
  outer.set(inner, 1);
  const { tensors } = parseSafetensors(outer.subarray(1, 1 + inner.length));
  assert.deepEqual(tensors.get("w")!.data, new Float32Array([1, 2, 3]));
});

Deno.test("malformed files: each gives its specific code and names the tensor", () => {
  const w = (info: unknown, data: ArrayLike<number> = f32le(1, 2)) => () =>
    parseSafetensors(file({ w: info }, data));
  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  assertCode(() => parseSafetensors(new Uint8Array(5)), "truncated", /5 bytes/);
  assertCode(() => parseSafetensors(new Uint8Array(0)), "truncated");
  assertCode(() => parseSafetensors(file({}, [], 2 ** 40)), "header_length", /exceeds/);
  assertCode(() => parseSafetensors(file({}, [], 2n ** 64n - 1n)), "header_length");
  assertCode(() => parseSafetensors(file({}, [], 100 * 1024 * 1024 + 1)), "header_length");
  assertCode(() => parseSafetensors(file({}, [], 50)), "header_length", /past the end/);

  const badUtf8 = file("{}");
  badUtf8[9] = 0xff;
  assertCode(() => parseSafetensors(badUtf8), "header_json", /UTF-8/);
  assertCode(() => parseSafetensors(file("{not json")), "header_json");
  assertCode(() => parseSafetensors(file("[1,2]")), "header_json", /object/);
  assertCode(() => parseSafetensors(file("null")), "header_json");
  assertCode(w(7), "header_json", /tensor "w": entry must be an object/);

  assertCode(() => parseSafetensors(file({ __metadata__: [1] })), "metadata");
  assertCode(() => parseSafetensors(file({ __metadata__: { a: 1 } })), "metadata", /"a"/);

  assertCode(w({ ...ok, dtype: "BF16" }), "dtype", /tensor "w": unsupported dtype "BF16"/);
  assertCode(w({ shape: [2], data_offsets: [0, 8] }), "dtype", /"w"/);
  assertCode(w({ ...ok, shape: "2" }), "shape", /tensor "w"/);
  assertCode(w({ ...ok, shape: [-2] }), "shape");
  assertCode(w({ ...ok, shape: [1.5] }), "shape");
  assertCode(w({ ...ok, shape: [2 ** 40, 2 ** 40] }), "shape", /too many/);

  assertCode(w({ ...ok, data_offsets: [0] }), "offsets", /tensor "w": data_offsets/);
  assertCode(w({ ...ok, data_offsets: ["0", 8] }), "offsets");
  assertCode(w({ ...ok, data_offsets: [0, 8.5] }), "offsets");
  assertCode(w({ ...ok, data_offsets: [8, 0] }), "offsets", /end before/);
  assertCode(w({ ...ok, data_offsets: [0, 12] }), "truncated", /"w".*past the 8-byte data section/);
  assertCode(
    w({ ...ok, data_offsets: [0, 4] }),
    "offsets",
    /span 4 bytes but shape \[2\] of F32 needs 8/,
  );
  assertCode(w({ ...ok, shape: [3] }), "offsets", /needs 12/);
  assertCode(
    () =>
      parseSafetensors(file({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      }, f32le(1, 2))),
    "offsets",
    /"b".*overlaps.*"a"/,
  );

  assertCode(w(ok, f32le(1, NaN)), "nonfinite", /tensor "w": element 1 is NaN/);
  assertCode(w(ok, f32le(-Infinity, 1)), "nonfinite", /element 0 is -Infinity/);
  assertCode(
    w({ dtype: "F16", shape: [2], data_offsets: [0, 4] }, [0, 0, 0x00, 0x7c]),
    "nonfinite",
    /Infinity/,
  );
});

Deno.test("parse accepts gaps, zero-size tensors and extra entry keys", () => {
  const { tensors } = parseSafetensors(file({
    a: { dtype: "I8", shape: [1], data_offsets: [2, 3], extra: true },
    z: { dtype: "F32", shape: [0], data_offsets: [2, 2] },
  }, [9, 9, 5]));
  assert.deepEqual(tensors.get("a")!.data, new Int8Array([5]));
  assert.equal(tensors.get("z")!.data.length, 0);
});

Deno.test("writer rejects what the reader would reject", () => {
  const f = (t: Tensor, name = "w") => () => writeSafetensors({ [name]: t });
  assertCode(
    f({ dtype: "F32", shape: [3], data: new Float32Array(2) }),
    "shape",
    /"w".*3 elements.*2/,
  );
  assertCode(f({ dtype: "F32", shape: [2], data: new Int8Array(2) } as unknown as Tensor), "dtype");
  assertCode(
    f({ dtype: "I8", shape: [2], data: new Float32Array(2) } as unknown as Tensor),
    "dtype",
  );
  assertCode(
    f({ dtype: "BF16", shape: [2], data: new Float32Array(2) } as unknown as Tensor),
    "dtype",
  );
  assertCode(f({ dtype: "F32", shape: [1], data: new Float32Array([NaN]) }), "nonfinite");
  assertCode(f({ dtype: "F16", shape: [1], data: new Float32Array([70000]) }), "nonfinite", /F16/);
  assertCode(
    f({ dtype: "F32", shape: [0], data: new Float32Array(0) }, "__metadata__"),
    "unexpected",
  );
  assertCode(() => writeSafetensors({}, { a: 1 } as unknown as Record<string, string>), "metadata");
});

Deno.test("validateTensors: missing, shape, dtype, unexpected", () => {
  const t = new Map<string, Tensor>([
    ["a", { dtype: "I8", shape: [4, 3], data: new Int8Array(12) }],
    ["b", { dtype: "F32", shape: [4], data: new Float32Array(4) }],
  ]);
  validateTensors(t, [{ name: "a", shape: [4, 3], dtypes: ["I8"] }, { name: "b", shape: [4] }]);
  assertCode(
    () =>
      validateTensors(t, [{ name: "a", shape: [4, 3] }, { name: "b", shape: [4] }, {
        name: "c",
        shape: [1],
      }]),
    "missing",
    /"c"/,
  );
  assertCode(
    () => validateTensors(t, [{ name: "a", shape: [3, 4] }, { name: "b", shape: [4] }]),
    "shape",
    /"a": shape \[4,3\] but expected \[3,4\]/,
  );
  assertCode(
    () =>
      validateTensors(t, [{ name: "a", shape: [4, 3], dtypes: ["F32", "F16"] }, {
        name: "b",
        shape: [4],
      }]),
    "dtype",
    /"a": dtype I8/,
  );
  assertCode(() => validateTensors(t, [{ name: "a", shape: [4, 3] }]), "unexpected", /"b"/);
});

Deno.test("sha256Hex and verifySha256", async () => {
  assert.equal(
    await sha256Hex(new Uint8Array(0)),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const abc = enc.encode("abc");
  const hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(await sha256Hex(abc), hex);
  // A view into a larger buffer hashes only its own bytes.
  assert.equal(await sha256Hex(enc.encode("xabcx").subarray(1, 4)), hex);
  await verifySha256(abc, hex);
  await verifySha256(abc, hex.toUpperCase());
  await assert.rejects(verifySha256(enc.encode("abd"), hex), (e) => {
    assert.ok(e instanceof WeightsError);
    assert.equal(e.code, "sha256");
    assert.match(e.message, new RegExp(`expected ${hex}`));
    return true;
  });
});
