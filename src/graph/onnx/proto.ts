// The ONNX file format: the protobuf messages of onnx.proto that a model needs, with a small
// schema-driven protobuf wire codec, so reading and writing ONNX needs no dependency and a damaged
// file fails with an OnnxError that says where, never with a crash or an endless loop.
//
// Messages decode to plain objects keyed by the schema's field names (camelCase of onnx.proto's).
// Absent scalar fields are undefined, absent repeated fields are empty arrays; int64 values are JS
// numbers (an int64 beyond ±2^53 is an error). Unknown fields are skipped, as protobuf requires.

/** Any problem reading or writing an ONNX file. `at` is a byte offset where one is known. */
export class OnnxError extends Error {
  override name = "OnnxError";
}

type Scalar = "int64" | "int32" | "uint64" | "float" | "double" | "string" | "bytes";
type MessageName =
  | "ModelProto"
  | "OperatorSetIdProto"
  | "StringStringEntryProto"
  | "GraphProto"
  | "NodeProto"
  | "AttributeProto"
  | "ValueInfoProto"
  | "TypeProto"
  | "TypeProtoTensor"
  | "TensorShapeProto"
  | "Dimension"
  | "TensorProto";
interface Field {
  no: number;
  type: Scalar | MessageName;
  repeated?: boolean;
  /** Written packed (ONNX's [packed = true]); packed and unpacked are both read either way. */
  packed?: boolean;
}

// Field numbers and types from onnx.proto (IR version 8+). Only what models use is declared.
const SCHEMA: Record<MessageName, Record<string, Field>> = {
  ModelProto: {
    irVersion: { no: 1, type: "int64" },
    opsetImport: { no: 8, type: "OperatorSetIdProto", repeated: true },
    producerName: { no: 2, type: "string" },
    producerVersion: { no: 3, type: "string" },
    domain: { no: 4, type: "string" },
    modelVersion: { no: 5, type: "int64" },
    docString: { no: 6, type: "string" },
    graph: { no: 7, type: "GraphProto" },
    metadataProps: { no: 14, type: "StringStringEntryProto", repeated: true },
  },
  OperatorSetIdProto: {
    domain: { no: 1, type: "string" },
    version: { no: 2, type: "int64" },
  },
  StringStringEntryProto: {
    key: { no: 1, type: "string" },
    value: { no: 2, type: "string" },
  },
  GraphProto: {
    node: { no: 1, type: "NodeProto", repeated: true },
    name: { no: 2, type: "string" },
    initializer: { no: 5, type: "TensorProto", repeated: true },
    docString: { no: 10, type: "string" },
    input: { no: 11, type: "ValueInfoProto", repeated: true },
    output: { no: 12, type: "ValueInfoProto", repeated: true },
    valueInfo: { no: 13, type: "ValueInfoProto", repeated: true },
  },
  NodeProto: {
    input: { no: 1, type: "string", repeated: true },
    output: { no: 2, type: "string", repeated: true },
    name: { no: 3, type: "string" },
    opType: { no: 4, type: "string" },
    domain: { no: 7, type: "string" },
    attribute: { no: 5, type: "AttributeProto", repeated: true },
    docString: { no: 6, type: "string" },
  },
  AttributeProto: {
    name: { no: 1, type: "string" },
    type: { no: 20, type: "int32" },
    f: { no: 2, type: "float" },
    i: { no: 3, type: "int64" },
    s: { no: 4, type: "bytes" },
    t: { no: 5, type: "TensorProto" },
    g: { no: 6, type: "GraphProto" },
    floats: { no: 7, type: "float", repeated: true },
    ints: { no: 8, type: "int64", repeated: true },
    strings: { no: 9, type: "bytes", repeated: true },
    tensors: { no: 10, type: "TensorProto", repeated: true },
    docString: { no: 13, type: "string" },
  },
  ValueInfoProto: {
    name: { no: 1, type: "string" },
    type: { no: 2, type: "TypeProto" },
    docString: { no: 3, type: "string" },
  },
  TypeProto: {
    tensorType: { no: 1, type: "TypeProtoTensor" },
    denotation: { no: 6, type: "string" },
  },
  TypeProtoTensor: {
    elemType: { no: 1, type: "int32" },
    shape: { no: 2, type: "TensorShapeProto" },
  },
  TensorShapeProto: {
    dim: { no: 1, type: "Dimension", repeated: true },
  },
  Dimension: {
    dimValue: { no: 1, type: "int64" },
    dimParam: { no: 2, type: "string" },
  },
  TensorProto: {
    dims: { no: 1, type: "int64", repeated: true, packed: true },
    dataType: { no: 2, type: "int32" },
    floatData: { no: 4, type: "float", repeated: true, packed: true },
    int32Data: { no: 5, type: "int32", repeated: true, packed: true },
    int64Data: { no: 7, type: "int64", repeated: true, packed: true },
    name: { no: 8, type: "string" },
    rawData: { no: 9, type: "bytes" },
    doubleData: { no: 10, type: "double", repeated: true, packed: true },
    uint64Data: { no: 11, type: "uint64", repeated: true, packed: true },
    docString: { no: 12, type: "string" },
    dataLocation: { no: 14, type: "int32" },
  },
};

export interface OperatorSetId {
  domain?: string;
  version?: number;
}
export interface ModelProto {
  irVersion?: number;
  opsetImport: OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  metadataProps: { key?: string; value?: string }[];
}
export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}
export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  docString?: string;
}
export interface ValueInfoProto {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: TensorShapeProto }; denotation?: string };
  docString?: string;
}
export interface TensorShapeProto {
  dim: { dimValue?: number; dimParam?: string }[];
}
export interface TensorProto {
  dims: number[];
  dataType?: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  name?: string;
  rawData?: Uint8Array;
  doubleData: number[];
  uint64Data: number[];
  docString?: string;
  dataLocation?: number;
}

/** onnx.proto's TensorProto.DataType values this codebase reads or writes. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** onnx.proto's AttributeProto.AttributeType. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

// ---- reading ----------------------------------------------------------------------------------

const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
/** Protobuf's default recursion limit: a hostile file cannot nest messages without bound. */
const MAX_DEPTH = 100;
const utf8 = new TextDecoder("utf-8", { fatal: false });

class Reader {
  pos: number;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly start: number, readonly end: number) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string, at = this.pos): never {
    throw new OnnxError(`malformed ONNX/protobuf data at byte ${at}: ${what}`);
  }

  /** A varint as a JS number (exact up to 2^53; int64 negatives come back negative). */
  varint(): number {
    let result = 0;
    let scale = 1;
    const at = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint", at);
      const b = this.bytes[this.pos++];
      if (i < 7) {
        result += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) return result;
      } else {
        // Long varints: finish in BigInt for an exact two's-complement int64.
        return this.#bigTail(at);
      }
    }
    this.fail("varint longer than 10 bytes", at);
  }

  #bigTail(at: number): number {
    this.pos = at;
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint", at);
      const b = this.bytes[this.pos++];
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        const signed = BigInt.asIntN(64, value);
        if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) {
          // ONNX uses INT64_MAX/MIN as "to the end" markers (Slice): keep them as ±Infinity.
          if (signed === 0x7fffffffffffffffn) return Infinity;
          if (signed === -0x8000000000000000n) return -Infinity;
          this.fail(`int64 ${signed} does not fit a JS number`, at);
        }
        return Number(signed);
      }
    }
    this.fail("varint longer than 10 bytes", at);
  }

  length(): number {
    const at = this.pos;
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) {
      this.fail(`length ${n} runs past the end of its enclosing message (${this.end})`, at);
    }
    return n;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail("truncated fixed32");
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    if (this.pos + 8 > this.end) this.fail("truncated fixed64");
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  skip(wire: number): void {
    if (wire === WIRE.varint) this.varint();
    else if (wire === WIRE.fixed64) this.pos += 8;
    else if (wire === WIRE.bytes) this.pos += this.length();
    else if (wire === WIRE.fixed32) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.end) this.fail("field runs past the end of its message");
  }
}

function readScalar(r: Reader, type: Scalar, wire: number): number | string | Uint8Array {
  const expect = (w: number) => {
    if (wire !== w) r.fail(`field of type ${type} has wire type ${wire}`);
  };
  switch (type) {
    case "int64":
    case "uint64":
      expect(WIRE.varint);
      return r.varint();
    case "int32": {
      expect(WIRE.varint);
      const v = r.varint();
      return v > 0x7fffffff && v <= 0xffffffff ? v - 0x100000000 : v;
    }
    case "float":
      expect(WIRE.fixed32);
      return r.fixed32();
    case "double":
      expect(WIRE.fixed64);
      return r.fixed64();
    case "string":
    case "bytes": {
      expect(WIRE.bytes);
      const n = r.length();
      const view = r.bytes.subarray(r.pos, r.pos + n);
      r.pos += n;
      return type === "string" ? utf8.decode(view) : view;
    }
  }
}

const isMessage = (type: string): type is MessageName => type in SCHEMA;
const packable = (type: string) =>
  type === "int64" || type === "int32" || type === "uint64" || type === "float" ||
  type === "double";

function readMessage(
  r: Reader,
  name: MessageName,
  depth: number,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) r.fail(`messages nested deeper than ${MAX_DEPTH}`);
  const fields = SCHEMA[name] as Record<string, Field>;
  const byNumber = new Map(Object.entries(fields).map(([key, f]) => [f.no, { key, ...f }]));
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) if (f.repeated) out[key] = [];
  while (r.pos < r.end) {
    const at = r.pos;
    const tag = r.varint();
    const no = Math.floor(tag / 8), wire = tag & 7;
    if (no === 0) r.fail("field number 0", at);
    const f = byNumber.get(no);
    if (!f) {
      r.skip(wire);
      continue;
    }
    if (isMessage(f.type)) {
      if (wire !== WIRE.bytes) r.fail(`${name}.${f.key} is a message but has wire type ${wire}`);
      const n = r.length();
      const sub = new Reader(r.bytes, r.pos, r.pos + n);
      const value = readMessage(sub, f.type, depth + 1);
      r.pos += n;
      if (f.repeated) (out[f.key] as unknown[]).push(value);
      else out[f.key] = value;
    } else if (f.repeated && packable(f.type) && wire === WIRE.bytes) {
      const n = r.length();
      const sub = new Reader(r.bytes, r.pos, r.pos + n);
      const list = out[f.key] as unknown[];
      const inner = f.type === "float" ? WIRE.fixed32 : f.type === "double" ? WIRE.fixed64 : 0;
      while (sub.pos < sub.end) list.push(readScalar(sub, f.type as Scalar, inner));
      r.pos += n;
    } else {
      const value = readScalar(r, f.type as Scalar, wire);
      if (f.repeated) (out[f.key] as unknown[]).push(value);
      else out[f.key] = value;
    }
  }
  if (r.pos !== r.end) r.fail(`${name} overruns its length`);
  return out;
}

/** Decodes an ONNX ModelProto; a malformed or non-ONNX file throws an OnnxError. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new OnnxError("an ONNX model must be given as bytes");
  if (bytes.length === 0) throw new OnnxError("the ONNX file is empty");
  const model = readMessage(
    new Reader(bytes, 0, bytes.length),
    "ModelProto",
    0,
  ) as unknown as ModelProto;
  if (!model.graph) {
    throw new OnnxError(
      "not an ONNX model: no graph (ModelProto field 7) was found in the file",
    );
  }
  if (!model.irVersion || model.irVersion < 3 || model.irVersion > 100) {
    throw new OnnxError(`not an ONNX model: ir_version ${model.irVersion} is not plausible`);
  }
  return model;
}

// ---- writing ----------------------------------------------------------------------------------

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #reserve(n: number) {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  varint(v: number) {
    if (!Number.isInteger(v) && Math.abs(v) !== Infinity) {
      throw new OnnxError(`cannot write ${v} as an integer`);
    }
    this.#reserve(10);
    if (v >= 0 && v < 2 ** 31) {
      while (v >= 0x80) {
        this.#buf[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.#buf[this.length++] = v;
      return;
    }
    let big = v === Infinity
      ? 0x7fffffffffffffffn
      : v === -Infinity
      ? -0x8000000000000000n
      : BigInt(v);
    big = BigInt.asUintN(64, big);
    while (big >= 0x80n) {
      this.#buf[this.length++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.#buf[this.length++] = Number(big);
  }

  float(v: number) {
    this.#reserve(4);
    this.#view.setFloat32(this.length, v, true);
    this.length += 4;
  }

  double(v: number) {
    this.#reserve(8);
    this.#view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  bytes(b: Uint8Array) {
    this.varint(b.length);
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

const utf8Encode = new TextEncoder();

function writeScalar(w: Writer, type: Scalar, v: unknown) {
  switch (type) {
    case "int64":
    case "uint64":
    case "int32":
      return w.varint(v as number);
    case "float":
      return w.float(v as number);
    case "double":
      return w.double(v as number);
    case "string":
      return w.bytes(utf8Encode.encode(v as string));
    case "bytes":
      return w.bytes(v as Uint8Array);
  }
}

const wireOf = (type: string) =>
  isMessage(type) || type === "string" || type === "bytes"
    ? WIRE.bytes
    : type === "float"
    ? WIRE.fixed32
    : type === "double"
    ? WIRE.fixed64
    : WIRE.varint;

function writeMessage(w: Writer, name: MessageName, value: Record<string, unknown>) {
  const fields = SCHEMA[name] as Record<string, Field>;
  for (const key of Object.keys(value)) {
    if (!(key in fields)) throw new OnnxError(`${name} has no field "${key}"`);
  }
  // Field-number order, as protobuf serialisers write them.
  const ordered = Object.entries(fields).sort(([, a], [, b]) => a.no - b.no);
  for (const [key, f] of ordered) {
    const v = value[key];
    if (v === undefined) continue;
    const values = f.repeated ? (v as unknown[]) : [v];
    if (f.repeated && !Array.isArray(v)) throw new OnnxError(`${name}.${key} must be an array`);
    if (f.repeated && values.length === 0) continue;
    if (f.packed) {
      const inner = new Writer();
      for (const item of values) writeScalar(inner, f.type as Scalar, item);
      w.varint(f.no * 8 + WIRE.bytes);
      w.bytes(inner.finish());
      continue;
    }
    for (const item of values) {
      w.varint(f.no * 8 + wireOf(f.type));
      if (isMessage(f.type)) {
        const inner = new Writer();
        writeMessage(inner, f.type, item as Record<string, unknown>);
        w.bytes(inner.finish());
      } else {
        writeScalar(w, f.type as Scalar, item);
      }
    }
  }
}

/** What encodeModel takes: any field may be left out, at every depth. */
export type DeepPartial<T> = T extends Uint8Array ? T
  : T extends (infer U)[] ? DeepPartial<U>[]
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** Encodes a ModelProto to the bytes of an .onnx file. */
export function encodeModel(model: DeepPartial<ModelProto>): Uint8Array {
  const w = new Writer();
  writeMessage(w, "ModelProto", model as unknown as Record<string, unknown>);
  return w.finish();
}
