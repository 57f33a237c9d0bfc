// Chromium page: ONNX Runtime Web's WASM EP (single thread) on our exported model.
import * as ort from "onnxruntime-web";
import { servePeer } from "./browser_page.ts";
import { openOrt } from "./runtimes.ts";

ort.env.wasm.wasmPaths = `${location.origin}/ort/`;
servePeer((spec, student) => openOrt(ort, student, spec.ep));
