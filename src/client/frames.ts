// Where frames come from: a camera, a MediaStream, a video element (a sample clip) or a still image,
// each as one `Frame` per new picture. A frame is captured once (a VideoFrame or an ImageBitmap) so
// the tracker, the GPU upload and the edge crop all see the very same pixels.

export type SourceOption =
  | "camera"
  | { camera: MediaTrackConstraints }
  | MediaStream
  | HTMLVideoElement
  | HTMLImageElement
  | HTMLCanvasElement
  | ImageBitmap
  | Blob
  | FrameList;

/** A video as a sequence of pictures (e.g. a clip's decoded frames), taken in order at `fps`. */
export interface FrameList {
  frames: AsyncIterable<ImageBitmap | Blob> | Iterable<ImageBitmap | Blob>;
  fps: number;
}

/** Why a source could not be opened; `code` is the SDK's error code. */
export class SourceError extends Error {
  override name = "SourceError";
  constructor(
    readonly code: "camera-denied" | "camera-unavailable" | "bad-source",
    message: string,
  ) {
    super(message);
  }
}

export interface Frame {
  /** Presentation time in ms (monotonic for a stream). */
  timestamp: number;
  width: number;
  height: number;
  /** The captured picture: what the tracker reads and the GPU path uploads. */
  image: VideoFrame | ImageBitmap;
  /** RGBA8 pixels of `image` (drawn once on a 2D canvas, cached). */
  pixels(): ImageData;
  close(): void;
}

export interface FrameSource {
  /** VIDEO: a stream of frames (track with temporal smoothing). IMAGE: a single still. */
  readonly mode: "VIDEO" | "IMAGE";
  /** The next new frame; undefined once the source has ended (a still after its one frame). */
  next(): Promise<Frame | undefined>;
  /** The element showing the live source, if any (for the demo's raw view). */
  readonly element?: HTMLVideoElement;
  close(): void;
}

let scratch: OffscreenCanvas | undefined;
let scratchContext: OffscreenCanvasRenderingContext2D | undefined;

/** RGBA pixels of a picture through one reusable 2D canvas. */
export function readPixels(image: CanvasImageSource, width: number, height: number): ImageData {
  if (!scratch || scratch.width !== width || scratch.height !== height) {
    scratch = new OffscreenCanvas(width, height);
    scratchContext = scratch.getContext("2d", { willReadFrequently: true })!;
  }
  scratchContext!.drawImage(image, 0, 0);
  return scratchContext!.getImageData(0, 0, width, height);
}

function makeFrame(image: VideoFrame | ImageBitmap, timestamp: number, owned: boolean): Frame {
  const width = "displayWidth" in image ? image.displayWidth : image.width;
  const height = "displayHeight" in image ? image.displayHeight : image.height;
  let pixels: ImageData | undefined;
  return {
    timestamp,
    width,
    height,
    image,
    pixels: () => pixels ??= readPixels(image, width, height),
    close: () => owned && image.close(),
  };
}

/** A playing video element: one frame per new picture it presents. */
class VideoSource implements FrameSource {
  readonly mode = "VIDEO";
  #lastTime = -1;
  #closed = false;

  constructor(readonly element: HTMLVideoElement, private readonly stop?: () => void) {}

  async next(): Promise<Frame | undefined> {
    const video = this.element;
    while (!this.#closed) {
      // A picture we have not processed yet is taken at once; otherwise wait for the next one.
      if (video.readyState >= 2 && video.currentTime !== this.#lastTime) {
        this.#lastTime = video.currentTime;
        try {
          return makeFrame(new VideoFrame(video), performance.now(), true);
        } catch {
          // No frame decodable yet (e.g. right after a seek): wait for one.
        }
      }
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(done);
        else setTimeout(done, 16);
        // A paused or ended clip presents nothing: poll slowly instead of waiting forever.
        setTimeout(done, 250);
      });
    }
    return undefined;
  }

  close(): void {
    this.#closed = true;
    this.stop?.();
  }
}

/** A still picture: one frame, then the end. */
class StillSource implements FrameSource {
  readonly mode = "IMAGE";
  #done = false;

  constructor(private readonly bitmap: ImageBitmap) {}

  next(): Promise<Frame | undefined> {
    if (this.#done) return Promise.resolve(undefined);
    this.#done = true;
    return Promise.resolve(makeFrame(this.bitmap, 0, false));
  }

  /** The picture again (re-rendering after an effect change). */
  again(): Frame {
    return makeFrame(this.bitmap, 0, false);
  }

  close(): void {
    this.bitmap.close();
  }
}

/** Frames of a FrameList, timestamped 1000/fps ms apart, then the end. */
class ListSource implements FrameSource {
  readonly mode = "VIDEO";
  #iterator: AsyncIterator<ImageBitmap | Blob> | Iterator<ImageBitmap | Blob>;
  #index = 0;
  #closed = false;

  constructor(private readonly list: FrameList) {
    const frames = list.frames;
    this.#iterator = Symbol.asyncIterator in frames
      ? (frames as AsyncIterable<ImageBitmap | Blob>)[Symbol.asyncIterator]()
      : (frames as Iterable<ImageBitmap | Blob>)[Symbol.iterator]();
  }

  async next(): Promise<Frame | undefined> {
    if (this.#closed) return undefined;
    const { done, value } = await this.#iterator.next();
    if (done || this.#closed) return undefined;
    const bitmap = value instanceof Blob ? await createImageBitmap(value) : value;
    return makeFrame(bitmap, (this.#index++ * 1000) / this.list.fps, true);
  }

  close(): void {
    this.#closed = true;
  }
}

export function isStill(source: FrameSource): source is FrameSource & { again(): Frame } {
  return source instanceof StillSource;
}

function videoFor(stream: MediaStream): HTMLVideoElement {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  return video;
}

async function started(video: HTMLVideoElement): Promise<HTMLVideoElement> {
  if (video.paused) await video.play();
  if (video.readyState < 2) {
    await new Promise<void>((resolve, reject) => {
      video.addEventListener("loadeddata", () => resolve(), { once: true });
      video.addEventListener("error", () => reject(new SourceError("bad-source", "video error")), {
        once: true,
      });
    });
  }
  return video;
}

/** Opens any supported source. Camera refusals become SourceError("camera-denied"). */
export async function openSource(source: SourceOption): Promise<FrameSource> {
  if (source === "camera" || (typeof source === "object" && "camera" in source)) {
    const constraints = source === "camera"
      ? { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" }
      : source.camera;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new SourceError("camera-unavailable", "this browser has no camera API (http page?)");
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
    } catch (e) {
      const name = (e as Error).name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        throw new SourceError("camera-denied", "camera access was denied");
      }
      throw new SourceError("camera-unavailable", `no usable camera (${name})`);
    }
    const video = await started(videoFor(stream));
    return new VideoSource(video, () => stream.getTracks().forEach((t) => t.stop()));
  }
  if (source instanceof MediaStream) return new VideoSource(await started(videoFor(source)));
  if (typeof source === "object" && "frames" in source) {
    if (!(source.fps > 0)) throw new SourceError("bad-source", `fps ${source.fps} is not positive`);
    return new ListSource(source);
  }
  if (source instanceof HTMLVideoElement) return new VideoSource(await started(source));
  if (source instanceof ImageBitmap) return new StillSource(await createImageBitmap(source));
  if (source instanceof HTMLImageElement) {
    if (!source.complete) await source.decode();
    return new StillSource(await createImageBitmap(source));
  }
  if (source instanceof HTMLCanvasElement || source instanceof Blob) {
    try {
      return new StillSource(await createImageBitmap(source));
    } catch (e) {
      throw new SourceError("bad-source", `the image can't be decoded (${(e as Error).message})`);
    }
  }
  throw new SourceError("bad-source", "unsupported source");
}
