// Page side of the Chromium peers: the same runtime wrappers as in Deno, bundled for the page.
// Each page bundles the runtime it measures (ORT's WebGPU or WASM build, TF.js) plus ours, whose
// warm frames alternate with the peer's. `globalThis.runPeer(spec)` returns a PeerResult.

import { makeStudent, measure, type PeerSpec, type Session } from "./common.ts";
import { openOurs } from "./runtimes.ts";

export function servePeer(
  open: (spec: PeerSpec, student: ReturnType<typeof makeStudent>) => Promise<Session>,
) {
  Object.assign(globalThis, {
    runPeer: async (spec: PeerSpec) => {
      const model = spec.model
        ? new Uint8Array(await (await fetch(spec.model)).arrayBuffer())
        : undefined;
      const student = makeStudent(spec.inputSize, model);
      const interleave = spec.runtime !== "facefx" && spec.interleave !== false;
      const ours = () =>
        openOurs(student, new URL("/tuning/", location.origin), { baseline: true });
      return measure(
        spec,
        "chromium",
        student,
        () => open(spec, student),
        interleave ? ours : undefined,
      );
    },
  });
}
