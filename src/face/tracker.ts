// Face landmarks in the browser: a thin wrapper over MediaPipe's FaceLandmarker (VIDEO or IMAGE
// mode, 1–4 faces) that hands back landmarks in frame pixels, the unit the alignment math uses.
//
// Browser-only: MediaPipe needs `document` and WebGL/wasm, so this never runs in Deno. The model is
// fetched from our server by default and, if that fails, from MediaPipe's public model storage.

import { FaceLandmarker, FilesetResolver } from "@mediapipe/tasks-vision";
import type { FaceLandmarkerResult, ImageSource } from "@mediapipe/tasks-vision";

/** Where our server serves the model bundle (`../shared/models/face_landmarker.task`). */
export const DEFAULT_MODEL_URL = "/models/face_landmarker.task";
/** MediaPipe's own copy of the same bundle (float16), the fallback when ours is unreachable. */
export const PUBLIC_MODEL_URL =
  "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task";
/**
 * Where the MediaPipe wasm files (`vision_wasm_internal.{js,wasm}`, …, from
 * node_modules/@mediapipe/tasks-vision/wasm) are served from by default.
 */
export const DEFAULT_WASM_URL = "/mediapipe/wasm";
/** The same wasm files on a public CDN, for pages not served by our server. */
export const PUBLIC_WASM_URL = "https://cdn.jsdelivr.net/npm/@mediapipe/tasks-vision@1.1.0/wasm";

/** Landmarks per face: 468 mesh points + 10 iris points. */
export const LANDMARK_COUNT = 478;

export type TrackerMode = "VIDEO" | "IMAGE";

export interface TrackerOptions {
  /** VIDEO: `detectForVideo` with increasing timestamps (tracks between frames). IMAGE: `detect`. */
  mode?: TrackerMode;
  /** Faces to look for, 1–4; default 1. */
  maxFaces?: number;
  /** Model bundle URL; default DEFAULT_MODEL_URL. */
  modelUrl?: string;
  /** Retry with PUBLIC_MODEL_URL if `modelUrl` can't be loaded; default true. */
  fallbackToPublicModel?: boolean;
  /** Base URL of the MediaPipe wasm folder; default DEFAULT_WASM_URL. */
  wasmUrl?: string;
  /** MediaPipe inference delegate; default "CPU" (works everywhere, ~35 ms per frame). */
  delegate?: "CPU" | "GPU";
  minFaceDetectionConfidence?: number;
  minFacePresenceConfidence?: number;
  minTrackingConfidence?: number;
}

export interface TrackedFace {
  /**
   * LANDMARK_COUNT points as interleaved (x, y, z): x and y in frame pixels (pixel (i, j)'s centre
   * at (j + 0.5, i + 0.5)); z is MediaPipe's relative depth scaled by the frame width (smaller =
   * nearer the camera), kept for pose heuristics.
   */
  landmarks: Float32Array;
}

export interface TrackResult {
  /** Size of the frame the pixels refer to. */
  width: number;
  height: number;
  faces: TrackedFace[];
}

/** A frame MediaPipe accepts: image, bitmap, canvas, video element, ImageData, VideoFrame. */
export type TrackerImage = ImageSource;

export class FaceTracker {
  #lastTimestamp = -Infinity;

  private constructor(
    private readonly landmarker: FaceLandmarker,
    readonly mode: TrackerMode,
    readonly maxFaces: number,
    /** The model URL that was actually loaded. */
    readonly modelUrl: string,
  ) {}

  static async create(options: TrackerOptions = {}): Promise<FaceTracker> {
    const mode = options.mode ?? "VIDEO";
    const maxFaces = options.maxFaces ?? 1;
    if (!Number.isInteger(maxFaces) || maxFaces < 1 || maxFaces > 4) {
      throw new RangeError(`maxFaces must be an integer in 1..4, got ${maxFaces}`);
    }
    const wasm = await FilesetResolver.forVisionTasks(
      trimSlash(options.wasmUrl ?? DEFAULT_WASM_URL),
    );
    const make = (modelAssetPath: string) =>
      FaceLandmarker.createFromOptions(wasm, {
        baseOptions: { modelAssetPath, delegate: options.delegate ?? "CPU" },
        runningMode: mode,
        numFaces: maxFaces,
        minFaceDetectionConfidence: options.minFaceDetectionConfidence,
        minFacePresenceConfidence: options.minFacePresenceConfidence,
        minTrackingConfidence: options.minTrackingConfidence,
        outputFaceBlendshapes: false,
        outputFacialTransformationMatrixes: false,
      });
    const url = options.modelUrl ?? DEFAULT_MODEL_URL;
    try {
      return new FaceTracker(await make(url), mode, maxFaces, url);
    } catch (e) {
      if (options.fallbackToPublicModel === false || url === PUBLIC_MODEL_URL) throw e;
      console.warn(`face model ${url} failed to load (${e}); trying ${PUBLIC_MODEL_URL}`);
      return new FaceTracker(await make(PUBLIC_MODEL_URL), mode, maxFaces, PUBLIC_MODEL_URL);
    }
  }

  /** IMAGE mode: landmarks of every face (up to maxFaces) in one still image. */
  detect(image: TrackerImage): TrackResult {
    if (this.mode !== "IMAGE") throw new Error("detect() needs a tracker made with mode IMAGE");
    return toPixels(this.landmarker.detect(image), sourceSize(image));
  }

  /**
   * VIDEO mode: landmarks in one frame of a stream. MediaPipe refuses timestamps that do not
   * increase; a repeated or earlier one is nudged just past the previous frame's.
   */
  detectForVideo(frame: TrackerImage, timestampMs: number): TrackResult {
    if (this.mode !== "VIDEO") {
      throw new Error("detectForVideo() needs a tracker made with mode VIDEO");
    }
    const ts = Math.max(timestampMs, this.#lastTimestamp + 1);
    this.#lastTimestamp = ts;
    return toPixels(this.landmarker.detectForVideo(frame, ts), sourceSize(frame));
  }

  close(): void {
    this.landmarker.close();
  }
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

function toPixels(result: FaceLandmarkerResult, size: { width: number; height: number }) {
  const { width, height } = size;
  const faces = result.faceLandmarks.map((points) => {
    const landmarks = new Float32Array(points.length * 3);
    points.forEach((p, i) => {
      landmarks[i * 3] = p.x * width;
      landmarks[i * 3 + 1] = p.y * height;
      landmarks[i * 3 + 2] = p.z * width;
    });
    return { landmarks };
  });
  return { width, height, faces };
}

/** The pixel size MediaPipe sees for each kind of source. */
export function sourceSize(src: TrackerImage): { width: number; height: number } {
  const s = src as unknown as Record<string, unknown>;
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const v = s[k];
      if (typeof v === "number" && v > 0) return v;
    }
    return 0;
  };
  // Video elements report their element box as width/height; the frame is videoWidth/videoHeight.
  // Image elements: naturalWidth. VideoFrame: displayWidth.
  const width = pick("videoWidth", "naturalWidth", "displayWidth", "width");
  const height = pick("videoHeight", "naturalHeight", "displayHeight", "height");
  if (!width || !height) throw new Error("cannot tell the size of this image source");
  return { width, height };
}
