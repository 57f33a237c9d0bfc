// Uniform structs declared once in TS: the WGSL struct text and the byte packing both come from here,
// so a kernel and its caller can never disagree on field order or types.

type ScalarType = "u32" | "i32" | "f32";

export interface UniformStruct<F extends string> {
  name: string;
  fields: Record<F, ScalarType>;
  /** WGSL declaration, prepended to every kernel that uses this struct. */
  wgsl: string;
  /** Byte size, rounded up to 16 as uniform buffers require. */
  byteSize: number;
  pack(values: Record<F, number>): ArrayBuffer;
}

export function uniformStruct<F extends string>(
  name: string,
  fields: Record<F, ScalarType>,
): UniformStruct<F> {
  const entries = Object.entries(fields) as [F, ScalarType][];
  const wgsl = `struct ${name} {\n${entries.map(([f, t]) => `  ${f}: ${t},`).join("\n")}\n}\n`;
  const byteSize = Math.ceil((entries.length * 4) / 16) * 16;
  return {
    name,
    fields,
    wgsl,
    byteSize,
    pack(values) {
      const buf = new ArrayBuffer(byteSize);
      const view = new DataView(buf);
      entries.forEach(([f, t], i) => {
        const v = values[f];
        if (v === undefined || !Number.isFinite(v)) throw new Error(`${name}.${f} is ${v}`);
        if (t === "f32") view.setFloat32(i * 4, v, true);
        else if (t === "u32") view.setUint32(i * 4, v, true);
        else view.setInt32(i * 4, v, true);
      });
      return buf;
    },
  };
}
