// One peer measurement in a fresh Deno process (so cold start is cold): prints one line
// `PEER_RESULT {json}`. Run by bench/peers/run.ts; by hand:
//
//   deno run -A bench/peers/deno_peer.ts '{"runtime":"ort-web","ep":"wasm","inputSize":128}'

import { makeStudent, measure, type PeerSpec, type Session } from "./common.ts";
import { openOrt, openOurs, openTfjs } from "./runtimes.ts";

const spec = JSON.parse(Deno.args[0] ?? "{}") as PeerSpec;
const student = makeStudent(
  spec.inputSize,
  spec.model ? await Deno.readFile(spec.model) : undefined,
);

// Runtime modules load before the cold-start clock starts (as a page's scripts would).
let open: () => Promise<Session>;
switch (spec.runtime) {
  case "facefx":
    // As our client starts (and as in Chromium): baseline kernels first, the tuned ones after.
    open = () => openOurs(student, undefined, { baseline: true });
    break;
  case "ort-web": {
    const ort = spec.ep === "webgpu"
      ? await import("onnxruntime-web/webgpu")
      : await import("onnxruntime-web");
    open = () => openOrt(ort, student, spec.ep);
    break;
  }
  case "ort-node": {
    const ort = await import("onnxruntime-node");
    // deno-lint-ignore no-explicit-any
    open = () => openOrt(ort as any, student, "cpu");
    break;
  }
  case "tfjs": {
    const tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-webgpu");
    open = () => openTfjs(tf, student);
    break;
  }
  default:
    throw new Error(`unknown runtime ${spec.runtime}`);
}

const interleave = spec.runtime !== "facefx" && spec.interleave !== false;
const result = await measure(
  spec,
  "deno",
  student,
  open,
  interleave ? () => openOurs(student) : undefined,
);
console.log(`PEER_RESULT ${JSON.stringify(result)}`);
// Some runtimes keep worker threads or GPU handles alive; the measurement is done.
Deno.exit(0);
