// POST /api/effects/:id/infer: one crop (PNG, JPEG, raw RGBA/RGB with its size) or several
// (multipart/form-data, one file part each) in; the stylised crops out, each in its input's format.
// Crops join the shared batcher, so one request's crops batch with other requests' and sockets'.

import type { Context } from "hono";
import type { Batcher } from "./batcher.ts";
import {
  CONTENT_TYPES,
  type Crop,
  encodeCrop,
  mediaType,
  parseCrop,
  type RawParams,
  toInput,
  toRgba,
} from "./crops.ts";
import { sniffImageType } from "../media/codec.ts";
import type { Effect } from "./effects.ts";
import { HttpError } from "./errors.ts";

export interface InferDeps {
  effects: Map<string, Effect>;
  batcher: Batcher;
  maxCropsPerRequest: number;
}

export function findEffect(effects: Map<string, Effect>, id: string): Effect {
  const effect = effects.get(id);
  if (!effect) {
    throw new HttpError(404, "unknown_effect", `no effect "${id.slice(0, 64)}" is loaded`);
  }
  return effect;
}

export async function handleInfer(c: Context, deps: InferDeps): Promise<Response> {
  const effect = findEffect(deps.effects, c.req.param("id")!);
  const size = effect.manifest.inputSize;
  const raw: RawParams = {
    width: c.req.header("x-image-width") ?? c.req.query("width"),
    height: c.req.header("x-image-height") ?? c.req.query("height"),
    channels: c.req.header("x-image-channels") ?? c.req.query("channels"),
  };
  const type = mediaType(c.req.header("content-type"));
  const t0 = performance.now();

  let crops: { name?: string; crop: Crop }[];
  const multipart = type === "multipart/form-data";
  if (multipart) {
    crops = await parseMultipart(c.req.raw, size, raw, deps.maxCropsPerRequest);
  } else {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    crops = [{ crop: parseCrop(bytes, type, size, raw) }];
  }

  const { normalization } = effect.manifest;
  const inputs = crops.map(({ crop }) => toInput(crop.rgba, normalization));
  const t1 = performance.now();
  let outputs: Float32Array[];
  try {
    outputs = await deps.batcher.submit(effect, inputs, { signal: c.req.raw.signal });
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (c.req.raw.signal.aborted) throw new HttpError(499, "cancelled", "the client went away");
    throw e;
  }
  const t2 = performance.now();
  const encoded = outputs.map((out, i) => {
    const { crop } = crops[i];
    return encodeCrop(toRgba(out, normalization, crop.rgba), size, crop.format);
  });
  const t3 = performance.now();
  const headers: Record<string, string> = {
    "cache-control": "no-store",
    "server-timing": `decode;dur=${(t1 - t0).toFixed(1)}, infer;dur=${(t2 - t1).toFixed(1)}, ` +
      `encode;dur=${(t3 - t2).toFixed(1)}`,
  };

  if (!multipart) {
    const { crop } = crops[0];
    if (crop.format === "rgba" || crop.format === "rgb") {
      headers["x-image-width"] = String(size);
      headers["x-image-height"] = String(size);
      headers["x-image-channels"] = crop.format === "rgba" ? "4" : "3";
    }
    return new Response(encoded[0] as Uint8Array<ArrayBuffer>, {
      headers: { ...headers, "content-type": CONTENT_TYPES[crop.format] },
    });
  }
  const form = new FormData();
  const ext = { png: "png", jpeg: "jpg", rgba: "rgba", rgb: "rgb" } as const;
  encoded.forEach((bytes, i) => {
    const { name, crop } = crops[i];
    form.append(
      name ?? `crop${i}`,
      new File([bytes as Uint8Array<ArrayBuffer>], `crop${i}.${ext[crop.format]}`, {
        type: CONTENT_TYPES[crop.format],
      }),
    );
  });
  // Response serialises FormData as multipart/form-data and sets the boundary itself.
  const response = new Response(form, { headers });
  return response;
}

async function parseMultipart(
  request: Request,
  size: number,
  raw: RawParams,
  maxCrops: number,
): Promise<{ name: string; crop: Crop }[]> {
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    throw new HttpError(400, "bad_request", "malformed multipart/form-data body");
  }
  const files: [string, File][] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value !== "string") files.push([name, value]);
  }
  if (files.length === 0) {
    throw new HttpError(
      400,
      "bad_request",
      "the multipart body has no file parts (crops need a filename)",
    );
  }
  if (files.length > maxCrops) {
    throw new HttpError(
      413,
      "too_many_crops",
      `at most ${maxCrops} crops per request, got ${files.length}`,
    );
  }
  const out: { name: string; crop: Crop }[] = [];
  for (const [name, file] of files) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    // A part typed generically is sniffed: PNG and JPEG announce themselves, the rest is raw.
    let type = mediaType(file.type);
    if (type === "" || type === "application/octet-stream") {
      type = sniffImageType(bytes) ?? "application/octet-stream";
    }
    try {
      out.push({ name, crop: parseCrop(bytes, type, size, raw) });
    } catch (e) {
      if (e instanceof HttpError) {
        throw new HttpError(
          e.status,
          e.code,
          `part "${name.slice(0, 64)}": ${e.message}`,
          e.headers,
        );
      }
      throw e;
    }
  }
  return out;
}
