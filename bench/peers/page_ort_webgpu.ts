// Chromium page: ONNX Runtime Web's WebGPU EP on our exported model.
import * as ort from "onnxruntime-web/webgpu";
import { servePeer } from "./browser_page.ts";
import { openOrt } from "./runtimes.ts";

ort.env.wasm.wasmPaths = `${location.origin}/ort/`;
servePeer((spec, student) => openOrt(ort, student, spec.ep));
