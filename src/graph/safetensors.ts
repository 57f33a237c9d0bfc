// Safetensors reader/writer (F32, F16, I8) plus sha256 and name/shape checks for weight files.
// Every malformed input is reported as a WeightsError with a stable code; nothing else escapes.

import { f16BitsToF32, f32ToF16Bits } from "../runtime/half.ts";

/** Stable, machine-readable reasons a weight file (or weight set) is rejected. */
export type WeightsErrorCode =
  | "truncated"
  | "header_length"
  | "header_json"
  | "metadata"
  | "offsets"
  | "dtype"
  | "shape"
  | "nonfinite"
  | "sha256"
  | "missing"
  | "unexpected";

export class WeightsError extends Error {
  override name = "WeightsError";
  constructor(readonly code: WeightsErrorCode, message: string) {
    super(message);
  }
}

export type Dtype = "F32" | "F16" | "I8";

/** One tensor as stored. F16 is decoded to (and encoded from) Float32Array. */
export type Tensor =
  | { dtype: "F32" | "F16"; shape: number[]; data: Float32Array }
  | { dtype: "I8"; shape: number[]; data: Int8Array };

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor>;
}

const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2, I8: 1 };
// Writer order = the safetensors reference order (dtype alignment descending, then name), so our
// files are byte-identical to PyTorch's and every tensor is naturally aligned.
const DTYPE_ORDER: Record<Dtype, number> = { F32: 0, F16: 1, I8: 2 };
// A header this large is a lie or an attack, not a weight file.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const isDtype = (d: unknown): d is Dtype => typeof d === "string" && Object.hasOwn(DTYPE_BYTES, d);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
/** Short rendering of a header value for messages; never throws (some engines overflow on deep JSON). */
const fmt = (v: unknown) => {
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 60 ? s.slice(0, 57) + "..." : s;
  } catch {
    return Array.isArray(v) ? "an array" : typeof v;
  }
};

/** Element count of a shape; throws "shape" for non-integer, negative or overflowing dims. */
export function elementCount(shape: unknown, what = "tensor"): number {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new WeightsError(
      "shape",
      `${what}: shape must be an array of non-negative integers, got ${fmt(shape)}`,
    );
  }
  if (shape.includes(0)) return 0;
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) {
    throw new WeightsError("shape", `${what}: shape ${fmt(shape)} has too many elements`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Parse a safetensors file. Copies tensor data out of `bytes` (so the file buffer can be freed)
 * and rejects NaN/Inf in float tensors: a non-finite weight always means a broken export.
 */
export function parseSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new WeightsError(
      "truncated",
      `file is ${bytes.length} bytes; a safetensors file needs at least 8`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (hi !== 0 || headerLen > MAX_HEADER_BYTES) {
    throw new WeightsError(
      "header_length",
      `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  if (8 + headerLen > bytes.length) {
    throw new WeightsError(
      "header_length",
      `header length ${headerLen} runs past the end of the ${bytes.length}-byte file`,
    );
  }

  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)),
    );
  } catch (e) {
    throw new WeightsError(
      "header_json",
      `header is not valid UTF-8 JSON: ${(e as Error).message}`,
    );
  }
  if (!isObject(header)) {
    throw new WeightsError("header_json", `header must be a JSON object, got ${fmt(header)}`);
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  // Built with fromEntries so a "__proto__" key stays an ordinary key.
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(info)) {
        throw new WeightsError(
          "metadata",
          `__metadata__ must be an object of strings, got ${fmt(info)}`,
        );
      }
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") {
          throw new WeightsError(
            "metadata",
            `__metadata__["${k}"] must be a string, got ${fmt(v)}`,
          );
        }
      }
      metadata = Object.fromEntries(Object.entries(info)) as Record<string, string>;
      continue;
    }
    const what = `tensor "${name}"`;
    if (!isObject(info)) {
      throw new WeightsError("header_json", `${what}: entry must be an object, got ${fmt(info)}`);
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDtype(dtype)) {
      throw new WeightsError(
        "dtype",
        `${what}: unsupported dtype ${fmt(dtype)} (supported: F32, F16, I8)`,
      );
    }
    const count = elementCount(shape, what);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw new WeightsError(
        "offsets",
        `${what}: data_offsets must be [begin, end] non-negative integers, got ${fmt(offsets)}`,
      );
    }
    const [begin, end] = offsets as number[];
    if (end < begin) {
      throw new WeightsError(
        "offsets",
        `${what}: data_offsets [${begin}, ${end}] end before they begin`,
      );
    }
    if (end > dataLen) {
      throw new WeightsError(
        "truncated",
        `${what}: data_offsets [${begin}, ${end}] reach past the ${dataLen}-byte data section`,
      );
    }
    const need = count * DTYPE_BYTES[dtype];
    if (end - begin !== need) {
      throw new WeightsError(
        "offsets",
        `${what}: data_offsets span ${end - begin} bytes but shape ${
          fmt(shape)
        } of ${dtype} needs ${need}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // Overlapping tensors would alias each other's weights: reject (gaps are harmless).
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byOffset.length; i++) {
    const [a, b] = [byOffset[i - 1], byOffset[i]];
    if (b.begin < a.end) {
      throw new WeightsError(
        "offsets",
        `tensor "${b.name}" [${b.begin}, ${b.end}] overlaps tensor "${a.name}" [${a.begin}, ${a.end}]`,
      );
    }
  }

  const tensors = new Map<string, Tensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const raw = bytes.subarray(dataStart + begin, dataStart + end);
    if (dtype === "I8") {
      tensors.set(name, { dtype, shape, data: new Int8Array(raw) });
      continue;
    }
    const data = dtype === "F32" ? readF32(raw) : readF16(raw);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new WeightsError("nonfinite", `tensor "${name}": element ${bad} is ${data[bad]}`);
    }
    tensors.set(name, { dtype, shape, data });
  }
  return { metadata, tensors };
}

function readF32(raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

function readF16(raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Serialise tensors the way the reference implementation does: `__metadata__` first, tensors
 * ordered by dtype alignment then name, header padded with spaces to 8 bytes, data contiguous.
 */
export function writeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort((a, b) => {
    const d = DTYPE_ORDER[tensors[a].dtype] - DTYPE_ORDER[tensors[b].dtype];
    return d || (a < b ? -1 : a > b ? 1 : 0);
  });
  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort();
    for (const k of keys) {
      if (typeof metadata[k] !== "string") {
        throw new WeightsError(
          "metadata",
          `__metadata__["${k}"] must be a string, got ${fmt(metadata[k])}`,
        );
      }
    }
    const meta = Object.fromEntries(keys.map((k) => [k, metadata[k]]));
    parts.push(`"__metadata__":${JSON.stringify(meta)}`);
  }
  let offset = 0;
  const layout: { t: Tensor; at: number }[] = [];
  for (const name of names) {
    const t = tensors[name];
    checkWritable(name, t);
    const size = t.data.length * DTYPE_BYTES[t.dtype];
    // Built by hand (not one JSON.stringify) so integer-like names keep the layout order.
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":${JSON.stringify(t.shape)},` +
        `"data_offsets":[${offset},${offset + size}]}`,
    );
    layout.push({ t, at: offset });
    offset += size;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  for (const { t, at } of layout) {
    const base = 8 + headerLen + at;
    const d = t.data;
    if (t.dtype === "I8") out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), base);
    else if (t.dtype === "F32") d.forEach((v, i) => view.setFloat32(base + 4 * i, v, true));
    else d.forEach((v, i) => view.setUint16(base + 2 * i, f32ToF16Bits(v), true));
  }
  return out;
}

function checkWritable(name: string, t: Tensor): void {
  const what = `tensor "${name}"`;
  if (name === "__metadata__") {
    throw new WeightsError("unexpected", `"__metadata__" is reserved and cannot name a tensor`);
  }
  if (!isDtype(t.dtype)) {
    throw new WeightsError(
      "dtype",
      `${what}: unsupported dtype ${fmt(t.dtype)} (supported: F32, F16, I8)`,
    );
  }
  const want = t.dtype === "I8" ? Int8Array : Float32Array;
  if (!(t.data instanceof want)) {
    throw new WeightsError("dtype", `${what}: ${t.dtype} data must be a ${want.name}`);
  }
  const count = elementCount(t.shape, what);
  if (count !== t.data.length) {
    throw new WeightsError(
      "shape",
      `${what}: shape ${fmt(t.shape)} holds ${count} elements but data has ${t.data.length}`,
    );
  }
  if (t.dtype !== "I8") {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new WeightsError("nonfinite", `${what}: element ${bad} is ${t.data[bad]}`);
    // Values beyond ±65504 would silently become Inf in F16 and then be unreadable.
    const over = t.dtype === "F16"
      ? t.data.findIndex((v) => (f32ToF16Bits(v) & 0x7c00) === 0x7c00)
      : -1;
    if (over >= 0) {
      throw new WeightsError(
        "nonfinite",
        `${what}: element ${over} = ${t.data[over]} overflows F16`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks against what a graph expects, and content hashes.

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Accepted stored dtypes; any when omitted. */
  dtypes?: string[];
}

/**
 * Check a weight set against the parameters a graph declares. Reports all missing (then all
 * unexpected) names at once, since those usually come from one renamed layer.
 */
export function validateTensors(
  tensors: ReadonlyMap<string, { shape: readonly number[]; dtype?: string }>,
  expected: readonly ExpectedTensor[],
): void {
  const missing = expected.filter((e) => !tensors.has(e.name)).map((e) => `"${e.name}"`);
  if (missing.length) {
    throw new WeightsError("missing", `missing ${missing.length} tensor(s): ${missing.join(", ")}`);
  }
  for (const e of expected) {
    const t = tensors.get(e.name)!;
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      throw new WeightsError(
        "shape",
        `tensor "${e.name}": shape [${t.shape}] but expected [${e.shape}]`,
      );
    }
    if (e.dtypes && !(t.dtype !== undefined && e.dtypes.includes(t.dtype))) {
      throw new WeightsError(
        "dtype",
        `tensor "${e.name}": dtype ${t.dtype} but expected one of ${e.dtypes.join(", ")}`,
      );
    }
  }
  const known = new Set(expected.map((e) => e.name));
  const extra = [...tensors.keys()].filter((n) => !known.has(n)).map((n) => `"${n}"`);
  if (extra.length) {
    throw new WeightsError(
      "unexpected",
      `${extra.length} unexpected tensor(s): ${extra.join(", ")}`,
    );
  }
}

/** Lowercase hex SHA-256 (Web Crypto, so it runs in browsers and Deno alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // Web Crypto wants an ArrayBuffer-backed view (not a SharedArrayBuffer one).
  const input = bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : bytes.slice();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Throws WeightsError "sha256" unless `bytes` hash to `expectedHex` (case-insensitive). */
export async function verifySha256(bytes: Uint8Array, expectedHex: string): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== String(expectedHex).toLowerCase()) {
    throw new WeightsError(
      "sha256",
      `sha256 mismatch: expected ${expectedHex}, got ${actual} (${bytes.length} bytes)`,
    );
  }
}
