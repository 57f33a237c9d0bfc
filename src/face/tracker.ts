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

  /**
   * IMAGE mode: landmarks of every face (up to maxFaces) in one still image. MediaPipe's detector
   * looks at the image shrunk to 128 px, so a face under about a sixth of the picture (a person
   * standing in a room) goes unseen; unless `tiles` is false, while faces may still be missing,
   * overlapping tiles of half and a third of the shorter side are searched too, at full resolution.
   */
  detect(image: TrackerImage, options: { tiles?: boolean } = {}): TrackResult {
    if (this.mode !== "IMAGE") throw new Error("detect() needs a tracker made with mode IMAGE");
    const size = sourceSize(image);
    const result = toPixels(this.landmarker.detect(image), size);
    if (options.tiles === false || result.faces.length >= this.maxFaces) return result;
    const canvas = new OffscreenCanvas(1, 1);
    const context = canvas.getContext("2d", { willReadFrequently: true })!;
    /** The faces wholly inside one square of the image, in image pixels. */
    const detectIn = (tile: Tile): TrackedFace[] => {
      canvas.width = canvas.height = tile.side;
      if (image instanceof ImageData) {
        context.putImageData(image, -tile.x, -tile.y, tile.x, tile.y, tile.side, tile.side);
      } else {
        context.drawImage(
          image as CanvasImageSource,
          tile.x,
          tile.y,
          tile.side,
          tile.side,
          0,
          0,
          tile.side,
          tile.side,
        );
      }
      const found = toPixels(this.landmarker.detect(canvas), {
        width: tile.side,
        height: tile.side,
      });
      return found.faces.filter((face) => {
        // A face cut by the tile's edge is left to a tile (or the whole image) that holds it.
        const box = bounds(face.landmarks);
        const margin = 0.02 * tile.side;
        if (box.x0 < margin || box.y0 < margin) return false;
        if (box.x1 > tile.side - margin || box.y1 > tile.side - margin) return false;
        for (let i = 0; i < face.landmarks.length; i += 3) {
          face.landmarks[i] += tile.x;
          face.landmarks[i + 1] += tile.y;
        }
        return true;
      });
    };
    // Every sighting in a tile, grouped by face. The tiles overlap by half at two scales, so a real
    // face is usually seen in several; a pattern that fools the detector once (a shirt's folds)
    // rarely is, and one seen once must be seen again in a tile centred on it.
    const sightings: TrackedFace[][] = [];
    for (const fraction of [1 / 2, 1 / 3]) {
      for (const tile of tiles(size.width, size.height, fraction)) {
        for (const face of detectIn(tile)) {
          if (result.faces.some((known) => sameFace(known.landmarks, face.landmarks))) continue;
          const group = sightings.find((g) => sameFace(g[0].landmarks, face.landmarks));
          if (group) group.push(face);
          else sightings.push([face]);
        }
      }
    }
    for (const group of sightings.filter((g) => g.length === 1)) {
      const centred = tileAround(bounds(group[0].landmarks), size.width, size.height);
      const again = detectIn(centred).find((f) => sameFace(f.landmarks, group[0].landmarks));
      if (again) group.push(again);
    }
    const confirmed = sightings.filter((g) => g.length >= MIN_SIGHTINGS);
    confirmed.sort((a, b) => b.length - a.length);
    for (const group of confirmed.slice(0, this.maxFaces - result.faces.length)) {
      result.faces.push(group[0]);
    }
    return result;
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

/** Tiles a face must be seen in before the tiled search believes it. */
const MIN_SIGHTINGS = 2;

interface Tile {
  x: number;
  y: number;
  side: number;
}

/** A square three times the size of a face's box, centred on it, inside the image. */
function tileAround(
  box: { x0: number; y0: number; x1: number; y1: number },
  width: number,
  height: number,
): Tile {
  const side = Math.round(
    Math.min(width, height, Math.max(64, 3 * Math.max(box.x1 - box.x0, box.y1 - box.y0))),
  );
  const clampTo = (v: number, length: number) => Math.max(0, Math.min(length - side, v));
  return {
    x: Math.round(clampTo((box.x0 + box.x1) / 2 - side / 2, width)),
    y: Math.round(clampTo((box.y0 + box.y1) / 2 - side / 2, height)),
    side,
  };
}

/** Square tiles of `fraction` of the shorter side, overlapping by half, covering the image. */
function tiles(width: number, height: number, fraction: number): Tile[] {
  const side = Math.round(Math.min(width, height) * fraction);
  if (side < 64) return []; // nothing a face detector could use
  const starts = (length: number) => {
    const n = Math.max(1, Math.ceil((length - side) / (side / 2)) + 1);
    return Array.from(
      { length: n },
      (_, i) => Math.round((i * (length - side)) / Math.max(1, n - 1)),
    );
  };
  return starts(height).flatMap((y) => starts(width).map((x) => ({ x, y, side })));
}

function bounds(lm: ArrayLike<number>) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < lm.length; i += 3) {
    x0 = Math.min(x0, lm[i]), x1 = Math.max(x1, lm[i]);
    y0 = Math.min(y0, lm[i + 1]), y1 = Math.max(y1, lm[i + 1]);
  }
  return { x0, y0, x1, y1 };
}

/** Two landmark sets are one face when either's centre lies inside the other's box. */
function sameFace(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const inside = (p: ArrayLike<number>, q: ArrayLike<number>) => {
    const box = bounds(q), c = bounds(p);
    const cx = (c.x0 + c.x1) / 2, cy = (c.y0 + c.y1) / 2;
    return cx >= box.x0 && cx <= box.x1 && cy >= box.y0 && cy <= box.y1;
  };
  return inside(a, b) || inside(b, a);
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

function toPixels(
  result: FaceLandmarkerResult,
  size: { width: number; height: number },
): TrackResult {
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
