// Chromium page: TF.js with its WebGPU backend, the student built through its layers API.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { servePeer } from "./browser_page.ts";
import { openTfjs } from "./runtimes.ts";

servePeer((_spec, student) => openTfjs(tf, student));
