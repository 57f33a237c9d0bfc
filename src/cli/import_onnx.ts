// `deno task import-onnx --in student.onnx --effect ID`: a student trained elsewhere (PyTorch,
// exported with torch.onnx.export) becomes an effect that the server serves and the browser client
// runs: its graph and int8 weights in `<sha256>.safetensors`, and a validated `<id>.json`, in the
// weights directory. The model must edit an RGB crop into one of the same size (see
// src/graph/onnx/import.ts for the ops and the residual + mask head it maps).

import { parseArgs } from "node:util";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Architecture, graphSpec, inputSizeOf } from "../graph/architecture.ts";
import type { EffectManifest } from "../graph/manifest.ts";
import { importOnnx } from "../graph/onnx/import.ts";
import { sha256Hex } from "../graph/safetensors.ts";
import { decodeStudentWeights, encodeStudentWeights, type WeightDtype } from "../graph/weights.ts";
import { effectDefaults, exportEffect } from "../server/effects.ts";

const USAGE = `usage: deno task import-onnx --in MODEL.onnx --effect ID [options]
  --in PATH           the ONNX model: NCHW, one RGB image in, the edited image of the same size out
  --effect ID         effect id (lowercase letters, digits and '-')
  --name TEXT         display name (default the id)
  --description TEXT  what the effect does
  --version X.Y.Z     (default 0.1.0)
  --input-size N      crop side for a model exported with symbolic height and width (128..512,
                      a multiple of 16); a model of fixed size keeps its own
  --mean R,G,B        the model's input normalisation of RGB in [0, 1]: (x - mean) / std
  --std R,G,B         (default 0.5,0.5,0.5 for both: inputs in [-1, 1], as our students take them)
  --dtype D           int8 | f16 | f32 (default int8)
  --weights DIR       effects directory (default weights/)`;

export interface ImportEffectOptions {
  input: string;
  effect: string;
  name?: string;
  description?: string;
  version?: string;
  inputSize?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  dtype?: WeightDtype;
  weightsDir: string;
}

/** Imports the model and writes the effect; any problem with the model throws, naming it. */
export async function importEffect(o: ImportEffectOptions) {
  const bytes = await Deno.readFile(o.input);
  const size = o.inputSize;
  const imported = importOnnx(bytes, size ? { inputSize: [size, size] } : {});
  const architecture: Architecture = { kind: "graph", graph: graphSpec(imported.graph) };
  const dtype = o.dtype ?? "int8";
  const weightBytes = encodeStudentWeights(architecture, imported.weights, dtype);
  // What the server and the client will check on load: a crop in, a crop of that size out.
  decodeStudentWeights(weightBytes);
  const inputSize = inputSizeOf(architecture);
  if (size !== undefined && size !== inputSize) {
    throw new Error(`the model takes ${inputSize}² crops, not --input-size ${size}`);
  }
  if (inputSize < 128 || inputSize > 512 || inputSize % 16) {
    throw new Error(
      `the model takes ${inputSize}² crops; an effect's are 128² to 512², a multiple of 16 ` +
        `(export with symbolic height and width, then pass --input-size)`,
    );
  }
  const sha256 = await sha256Hex(weightBytes);
  const manifest: EffectManifest = {
    id: o.effect,
    name: o.name ?? o.effect,
    version: o.version ?? "0.1.0",
    description: o.description ?? `Imported from ${basename(o.input)}.`,
    inputSize,
    normalization: { mean: o.mean ?? [0.5, 0.5, 0.5], std: o.std ?? [0.5, 0.5, 0.5] },
    ...effectDefaults(),
    weights: { url: `/weights/${sha256}.safetensors`, sha256, bytes: weightBytes.length, dtype },
    provenance: {
      teacher: `imported from ONNX (${basename(o.input)}, opset ${imported.opset})`,
      note: `${imported.graph.nodes.length - 1} ops, ${imported.weights.size} weight tensors.`,
    },
  };
  const paths = await exportEffect(o.weightsDir, manifest, weightBytes);
  return { manifest, ...paths };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      in: { type: "string" },
      effect: { type: "string" },
      name: { type: "string" },
      description: { type: "string" },
      version: { type: "string" },
      "input-size": { type: "string" },
      mean: { type: "string" },
      std: { type: "string" },
      dtype: { type: "string", default: "int8" },
      weights: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const fail = (why: string): never => {
    console.error(`${why}\n\n${USAGE}`);
    Deno.exit(2);
  };
  if (!values.in || !values.effect) fail("--in and --effect are required");
  const rgb = (flag: string, text?: string) => {
    if (text === undefined) return undefined;
    const v = text.split(",").map(Number);
    if (v.length !== 3 || !v.every(Number.isFinite)) fail(`--${flag} takes three numbers R,G,B`);
    return v as [number, number, number];
  };
  const inputSize = values["input-size"] === undefined ? undefined : Number(values["input-size"]);
  if (inputSize !== undefined && !Number.isInteger(inputSize)) fail("--input-size is an integer");
  if (!["int8", "f16", "f32"].includes(values.dtype)) fail("--dtype is int8, f16 or f32");
  try {
    const { manifestPath, weightsPath, manifest } = await importEffect({
      input: values.in!,
      effect: values.effect!,
      name: values.name,
      description: values.description,
      version: values.version,
      inputSize,
      mean: rgb("mean", values.mean),
      std: rgb("std", values.std),
      dtype: values.dtype as WeightDtype,
      weightsDir: values.weights ??
        fileURLToPath(new URL("../../weights/", import.meta.url)),
    });
    console.log(
      `${manifest.id}: ${manifest.inputSize}² crops, ${manifest.weights.bytes} bytes of ` +
        `${manifest.weights.dtype} weights\n  ${resolve(manifestPath)}\n  ${resolve(weightsPath)}`,
    );
  } catch (e) {
    console.error(`import-onnx: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
