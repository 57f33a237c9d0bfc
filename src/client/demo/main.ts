// The demo page at `/` (markup rendered by src/server/client.ts): camera, uploaded photo or sample
// clip → the SDK → a canvas with a before/after split, an effect picker from the catalog, per-stage
// timings, a backend badge and plain-language messages for what can go wrong.
//
// URL parameters: ?effect=ID &backend=auto|webgpu|edge &source=camera|sample:NAME &split=0..1
// &faces=1..4. `globalThis.facefxDemo` exposes the live session to tests and the console.

import {
  type BackendChoice,
  createEffectSession,
  EDGE_BACK,
  type EffectSession,
  type ErrorCode,
  type SourceOption,
  type Timings,
} from "../mod.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URL(location.href).searchParams;

const view = $<HTMLDivElement>("view");
const message = $<HTMLParagraphElement>("message");
const notice = $<HTMLParagraphElement>("notice");
const badge = $<HTMLSpanElement>("backend");
const effectPicker = $<HTMLSelectElement>("effect");
const backendPicker = $<HTMLSelectElement>("backend-choice");
const samplePicker = $<HTMLSelectElement>("sample");
const upload = $<HTMLInputElement>("upload");
const cameraButton = $<HTMLButtonElement>("camera");
const split = $<HTMLInputElement>("split");
const splitLine = $<HTMLDivElement>("split-line");
const progress = $<HTMLProgressElement>("progress");
const progressLabel = $<HTMLSpanElement>("progress-label");
const timingCells = Object.fromEntries(
  ["track", "align", "infer", "composite", "total", "fps", "faces"].map((k) => [k, $(`t-${k}`)]),
);

/** What the page says for each error code; every message tells the user what they can do. */
const MESSAGES: Partial<Record<ErrorCode | "no-face", string>> = {
  "camera-denied":
    "Camera access was denied. Allow the camera for this site (the icon in the address bar), or upload a photo instead.",
  "camera-unavailable":
    "No camera was found. Plug one in, or upload a photo or pick a sample clip.",
  "no-face": "No face found. Face the camera in good light, a little closer.",
  "no-webgpu": "WebGPU isn't available on this device: the effect runs on the edge server instead.",
  "server-unreachable":
    "The effect server can't be reached. Check your connection; the page keeps trying.",
  "effect-not-found": "That effect isn't on this server. Pick another one.",
  "bad-weights": "The effect's weights failed verification; reload to fetch them again.",
  "tracker-failed": "The face tracker couldn't load. Reload the page to try again.",
};

interface DemoState {
  session?: EffectSession;
  /** Every message shown so far (tests read it). */
  messages: { code: string; text: string }[];
  errors: { code: string; message: string }[];
  backends: { backend: string; reason: string; time: number }[];
  frames: number[];
  timings?: Timings;
  /** The last 300 frames' timings. */
  timingLog: Timings[];
  started?: Promise<void>;
}

const state: DemoState = { messages: [], errors: [], backends: [], frames: [], timingLog: [] };
Object.assign(globalThis, { facefxDemo: state });

function show(code: keyof typeof MESSAGES | "", detail = ""): void {
  const text = code ? `${MESSAGES[code] ?? detail}` : "";
  message.textContent = text;
  message.hidden = !text;
  message.dataset.code = code;
  if (code) state.messages.push({ code, text });
}

function say(text: string, code = ""): void {
  notice.textContent = text;
  notice.hidden = !text;
  if (code) state.messages.push({ code, text });
}

let sampleFrame = 0;

/** A sample picture turned into a gently moving clip (canvas stream), or a sample video. */
async function sampleSource(name: string): Promise<SourceOption> {
  const url = `/samples/${encodeURIComponent(name)}`;
  if (/\.(mp4|webm|ogv|mov)$/i.test(name)) {
    const video = document.createElement("video");
    Object.assign(video, { src: url, muted: true, loop: true, playsInline: true });
    return video;
  }
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const context = canvas.getContext("2d")!;
  const draw = () => {
    const t = sampleFrame++ / 30;
    const scale = Math.min(640 / image.width, 480 / image.height) * (1 + 0.04 * Math.sin(t * 0.9));
    const w = image.width * scale, h = image.height * scale;
    context.fillStyle = "#222";
    context.fillRect(0, 0, 640, 480);
    context.drawImage(image, (640 - w) / 2 + 12 * Math.sin(t * 0.7), (480 - h) / 2, w, h);
  };
  draw();
  setInterval(draw, 1000 / 30);
  return canvas.captureStream(30);
}

function formatMs(v: number): string {
  return v < 10 ? v.toFixed(1) : v.toFixed(0);
}

let smoothed: Record<string, number> = {};
let lastPaint = 0;

function showTimings(t: Timings): void {
  state.timings = t;
  state.timingLog.push(t);
  if (state.timingLog.length > 300) state.timingLog.shift();
  for (const k of ["track", "align", "infer", "composite", "total"] as const) {
    smoothed[k] = smoothed[k] === undefined ? t[k] : 0.8 * smoothed[k] + 0.2 * t[k];
  }
  const now = performance.now();
  if (now - lastPaint < 250) return;
  lastPaint = now;
  for (const k of ["track", "align", "infer", "composite", "total"]) {
    timingCells[k].textContent = `${formatMs(smoothed[k])} ms`;
  }
  timingCells.fps.textContent = String(t.fps);
  timingCells.faces.textContent = String(t.faces);
}

async function run(source: SourceOption): Promise<void> {
  state.session?.stop();
  view.querySelectorAll("canvas").forEach((c) => c.remove());
  smoothed = {};
  show("");
  say("");
  badge.textContent = "…";
  badge.dataset.backend = "";
  const session = createEffectSession({
    effect: effectPicker.value,
    source,
    target: view,
    backend: backendPicker.value as BackendChoice,
    split: Number(split.value) / 100,
    maxFaces: Number(params.get("faces") ?? 4),
    // ?budget=ms and ?software=1: the frame budget, and letting "auto" use a software adapter.
    frameBudgetMs: params.has("budget") ? Number(params.get("budget")) : undefined,
    acceptSoftwareAdapter: params.get("software") === "1",
  });
  state.session = session;
  session.on("backend", ({ backend, reason }) => {
    state.backends.push({ backend, reason, time: performance.now() });
    badge.textContent = backend === "webgpu" ? "WebGPU (on device)" : "Edge server";
    badge.dataset.backend = backend;
    badge.title = reason;
  });
  session.on("frame", ({ time }) => {
    state.frames.push(time);
    if (state.frames.length > 2000) state.frames.splice(0, 1000);
  });
  session.on("timings", showTimings);
  // "No face" only once none has been seen for a moment: the first frames of a camera are often
  // dark, and a face lost for a frame or two is not news.
  let noFace: ReturnType<typeof setTimeout> | undefined;
  session.on("status", ({ faces, state: s, message: text }) => {
    clearTimeout(noFace);
    if (s !== "running") return;
    if (text === EDGE_BACK && message.dataset.code === "server-unreachable") show("");
    if (faces === 0) noFace = setTimeout(() => show("no-face"), 600);
    else if (message.dataset.code === "no-face") show("");
  });
  session.on("progress", ({ phase, loaded, total, fromCache }) => {
    progress.hidden = loaded >= total;
    progress.max = total;
    progress.value = loaded;
    const what = phase === "weights"
      ? fromCache
        ? "weights (cached)"
        : `weights ${Math.round(loaded / 1024)} / ${Math.round(total / 1024)} KiB`
      : phase === "model"
      ? "face model"
      : "GPU warm-up";
    progressLabel.textContent = loaded >= total ? "" : `Loading ${what}…`;
  });
  session.on("error", ({ code, message: text, fatal }) => {
    state.errors.push({ code, message: text });
    if (code === "no-webgpu") say(`${MESSAGES["no-webgpu"]} (${text}.)`, code);
    else if (code in MESSAGES) show(code as keyof typeof MESSAGES, text);
    else if (fatal) show("", text);
    if (fatal) {
      badge.textContent = "stopped";
      badge.dataset.backend = "";
    }
    console.warn(`facefx ${code}: ${text}`);
  });
  const started = session.start().catch(() => {
    // Shown through the error event; nothing else to do.
  });
  state.started = started;
  await started;
}

split.addEventListener("input", () => {
  const f = Number(split.value) / 100;
  splitLine.style.left = `${f * 100}%`;
  splitLine.hidden = f <= 0 || f >= 1;
  state.session?.setSplit(f);
});

effectPicker.addEventListener("change", () => {
  state.session?.setEffect(effectPicker.value).catch(() => {});
});
backendPicker.addEventListener("change", () => start());
/** A new source for the running session (effect, tracker and backend kept), else a new session. */
async function use(source: SourceOption): Promise<void> {
  const session = state.session;
  if (session?.backend) {
    show("");
    await session.setSource(source).catch(() => {}); // shown through the error event
  } else await run(source);
}

cameraButton.addEventListener("click", () => use("camera"));
upload.addEventListener("change", () => {
  const file = upload.files?.[0];
  if (file) use(file);
});
samplePicker.addEventListener("change", async () => {
  if (samplePicker.value) use(await sampleSource(samplePicker.value));
});

async function start(): Promise<void> {
  const source = params.get("source") ?? "camera";
  if (source.startsWith("sample:")) {
    samplePicker.value = source.slice(7);
    return run(await sampleSource(source.slice(7)));
  }
  return run("camera");
}

// Samples the server offers (if it was started with --samples).
fetch("/api/samples").then((r) => r.ok ? r.json() : { samples: [] }).then(
  ({ samples }: { samples: { name: string }[] }) => {
    for (const s of samples) samplePicker.add(new Option(s.name, s.name));
    samplePicker.disabled = samples.length === 0;
    const wanted = params.get("source");
    if (wanted?.startsWith("sample:")) samplePicker.value = wanted.slice(7);
  },
  () => {},
);

if (params.get("effect")) effectPicker.value = params.get("effect")!;
if (params.get("backend")) backendPicker.value = params.get("backend")!;
if (params.get("split")) {
  split.value = String(Math.round(Number(params.get("split")) * 100));
  split.dispatchEvent(new Event("input"));
}
if (!effectPicker.value) {
  show("", "");
  say("No effects are loaded on this server yet.");
} else {
  start();
}
