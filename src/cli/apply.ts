// `deno task apply --effect ID --in photo.jpg --out result.png`: the browser client's very pipeline
// (MediaPipe landmarks, alignment, the student on WebGPU or through the edge, the composite) on
// pictures, a folder of pictures, or a clip's frames, by driving headless Chromium against an edge
// server started in-process on 127.0.0.1 (ephemeral port). Every face in a picture is stylised.
//
// The page fetches its inputs from this process (/cli/input/<i>) and posts each result back
// (/cli/output/<i>), so no picture crosses the DevTools protocol.

import { parseArgs } from "node:util";
import { existsSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { withBrowser } from "../headless/chromium.ts";
import { decodeImage, encodePng } from "../media/codec.ts";
import { decodeY4m, encodeY4m } from "../media/y4m.ts";
import { createEdgeServer } from "../server/app.ts";

const USAGE = `usage: deno task apply --effect ID --in PATH --out PATH [options]
  --in PATH          a picture (.png .jpg .jpeg .webp), a folder of pictures, or a .y4m clip
  --out PATH         a .png for one picture; a folder for a folder; a .y4m or a folder of frames for a clip
  --effect ID        effect id in the weights directory
  --weights DIR      effects directory (default weights/)
  --landmarker PATH  face_landmarker.task (default ../shared/models/face_landmarker.task if present,
                     else MediaPipe's public copy)
  --backend B        auto | webgpu | edge (default auto: as a browser would choose)
  --faces N          most faces per picture, 1..4 (default 4)
  --video            treat a folder of pictures as the frames of one clip (tracked and smoothed)
  --fps N            frame rate of such a folder (default 30)`;

const IMAGES = new Set([".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"]);
const root = fileURLToPath(new URL("../../", import.meta.url));

export interface ApplyCliOptions {
  effect: string;
  input: string;
  output: string;
  weightsDir: string;
  landmarkerPath?: string;
  backend: "auto" | "webgpu" | "edge";
  maxFaces: number;
  video?: boolean;
  fps?: number;
  log?: (line: string) => void;
}

export interface ApplyReport {
  outputs: { input: string; output: string; faces: number; backend: string }[];
  ms: number;
}

interface Input {
  name: string;
  bytes: () => Promise<Uint8Array> | Uint8Array;
}

/** Runs the pipeline on every input; resolves once every output is written. */
export async function applyEffect(options: ApplyCliOptions): Promise<ApplyReport> {
  const log = options.log ?? console.log;
  const started = performance.now();
  const input = resolve(options.input), output = resolve(options.output);
  const stat = statSync(input);
  let inputs: Input[];
  let video: { fps: number; y4m: boolean } | undefined;
  let outputOf: (i: number) => string;
  if (stat.isDirectory()) {
    const names = [...Deno.readDirSync(input)]
      .filter((e) => e.isFile && IMAGES.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    if (!names.length) throw new Error(`${options.input} holds no pictures`);
    inputs = names.map((name) => ({ name, bytes: () => Deno.readFile(join(input, name)) }));
    if (options.video) video = { fps: options.fps ?? 30, y4m: false };
    await Deno.mkdir(output, { recursive: true });
    outputOf = (i) => join(output, `${basename(names[i], extname(names[i]))}.png`);
  } else if (extname(input).toLowerCase() === ".y4m") {
    const clip = decodeY4m(await Deno.readFile(input));
    inputs = clip.frames.map((frame, i) => ({
      name: `frame ${i}`,
      bytes: () => encodePng(frame),
    }));
    const y4m = extname(output).toLowerCase() === ".y4m";
    video = { fps: clip.fps[0] / clip.fps[1], y4m };
    if (!y4m) await Deno.mkdir(output, { recursive: true });
    const frames = y4m ? `${output}.frames` : output;
    if (y4m) await Deno.mkdir(frames, { recursive: true });
    outputOf = (i) => join(frames, `frame_${String(i).padStart(5, "0")}.png`);
  } else {
    inputs = [{ name: basename(input), bytes: () => Deno.readFile(input) }];
    outputOf = () => output;
  }

  const edge = await createEdgeServer({
    weightsDir: options.weightsDir,
    landmarkerPath: options.landmarkerPath,
    rateLimit: { ratePerSec: 0, burst: 1 },
    log: () => {},
  });
  if (!edge.catalog.effects.has(options.effect)) {
    await edge.dispose();
    const known = [...edge.catalog.effects.keys()].join(", ") || "none";
    throw new Error(`no effect "${options.effect}" in ${options.weightsDir} (loaded: ${known})`);
  }
  const outputs: ApplyReport["outputs"] = [];
  const written: Promise<void>[] = [];
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const m = /^\/cli\/(input|output)\/(\d+)$/.exec(url.pathname);
    if (!m) return edge.app.fetch(req);
    const i = Number(m[2]);
    if (!(i < inputs.length)) return new Response("no such input", { status: 404 });
    if (m[1] === "input" && req.method === "GET") {
      return new Response(await inputs[i].bytes() as Uint8Array<ArrayBuffer>);
    }
    if (m[1] === "output" && req.method === "POST") {
      const png = new Uint8Array(await req.arrayBuffer());
      const path = outputOf(i);
      written.push(Deno.writeFile(path, png));
      const faces = Number(req.headers.get("x-faces"));
      const backend = req.headers.get("x-backend") ?? "?";
      outputs.push({ input: inputs[i].name, output: path, faces, backend });
      if (!video) {
        log(`${inputs[i].name} → ${path}: ${faces} face${faces === 1 ? "" : "s"} (${backend})`);
      }
      return new Response(null, { status: 204 });
    }
    return new Response("method not allowed", { status: 405 });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    await withBrowser(async (browser) => {
      // Offline but for our server: MediaPipe's usage logs go nowhere.
      await browser.context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
      const page = await browser.context.newPage();
      page.setDefaultTimeout(0);
      page.on("pageerror", (e) => console.error(`[page] ${e.message}`));
      await page.goto(`${origin}/status`);
      await page.evaluate(async (args) => {
        // A variable keeps type checkers from resolving the page's URL as a module here.
        const sdkUrl = "/client/sdk.js";
        const sdk = await import(sdkUrl);
        const get = async function* () {
          for (let i = 0; i < args.count; i++) yield await (await fetch(`/cli/input/${i}`)).blob();
        };
        const onResult = async (
          i: number,
          r: { png: Uint8Array<ArrayBuffer>; faces: number; backend: string },
        ) => {
          const res = await fetch(`/cli/output/${i}`, {
            method: "POST",
            body: r.png,
            headers: { "x-faces": String(r.faces), "x-backend": r.backend },
          });
          if (!res.ok) throw new Error(`result ${i}: HTTP ${res.status}`);
        };
        const common = { effect: args.effect, backend: args.backend, maxFaces: args.maxFaces };
        if (args.fps) await sdk.applyToVideo({ ...common, frames: get(), fps: args.fps, onResult });
        else await sdk.applyToImages({ ...common, images: get(), onResult });
      }, {
        count: inputs.length,
        effect: options.effect,
        backend: options.backend,
        maxFaces: options.maxFaces,
        fps: video?.fps ?? 0,
      });
    }, { timeoutMs: 120_000 });
  } finally {
    await edge.shutdown();
    await server.shutdown();
    await edge.dispose();
  }
  await Promise.all(written);
  if (outputs.length !== inputs.length) {
    throw new Error(`${outputs.length} results for ${inputs.length} inputs`);
  }
  outputs.sort((a, b) => a.output.localeCompare(b.output));
  if (video) {
    const faces = outputs.map((o) => o.faces);
    log(
      `${inputs.length} frames → ${video.y4m ? output : resolve(options.output)}: ` +
        `faces per frame ${Math.min(...faces)}..${Math.max(...faces)} (${outputs[0].backend})`,
    );
    if (video.y4m) {
      const frames = await Promise.all(
        outputs.map(async (o) => decodeImage(await Deno.readFile(o.output))),
      );
      const [n, d] = [Math.round(video.fps * 1000), 1000];
      await Deno.writeFile(output, encodeY4m({ ...frames[0], fps: [n, d], frames }));
      await Deno.remove(`${output}.frames`, { recursive: true });
      for (const o of outputs) o.output = output;
    }
  }
  return { outputs, ms: performance.now() - started };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      effect: { type: "string" },
      in: { type: "string" },
      out: { type: "string" },
      weights: { type: "string" },
      landmarker: { type: "string" },
      backend: { type: "string", default: "auto" },
      faces: { type: "string", default: "4" },
      video: { type: "boolean", default: false },
      fps: { type: "string" },
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
  if (!values.effect || !values.in || !values.out) fail("--effect, --in and --out are required");
  if (!["auto", "webgpu", "edge"].includes(values.backend)) {
    fail("--backend is auto, webgpu or edge");
  }
  const maxFaces = Number(values.faces);
  if (!Number.isInteger(maxFaces) || maxFaces < 1 || maxFaces > 4) fail("--faces is 1..4");
  if (!existsSync(values.in!)) fail(`${values.in} does not exist`);
  const fps = values.fps === undefined ? undefined : Number(values.fps);
  if (fps !== undefined && !(fps > 0)) fail("--fps must be positive");
  const shared = resolve(root, "../shared/models/face_landmarker.task");
  try {
    const report = await applyEffect({
      effect: values.effect!,
      input: values.in!,
      output: values.out!,
      weightsDir: values.weights ?? resolve(root, "weights"),
      landmarkerPath: values.landmarker ?? (existsSync(shared) ? shared : undefined),
      backend: values.backend as ApplyCliOptions["backend"],
      maxFaces,
      video: values.video,
      fps,
    });
    console.log(`done in ${(report.ms / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(`apply failed: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
