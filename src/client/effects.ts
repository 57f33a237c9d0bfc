// Effects in the browser: the server's catalog, a validated manifest, and its weights — streamed with
// progress, verified by sha256, kept in the Cache API so a reload downloads nothing.
//
// The weight URL is content-addressed (`/weights/<sha256>.safetensors`), so a cached entry never
// goes stale; it is still re-verified on every load (a few ms) and dropped if it does not match.

import { type EffectManifest, parseManifest } from "../graph/manifest.ts";
import { verifySha256, WeightsError } from "../graph/safetensors.ts";
import { type Architecture, inputSizeOf } from "../graph/architecture.ts";
import { decodeStudentWeights } from "../graph/weights.ts";
import type { Weights } from "../runtime/executor.ts";

export interface CatalogEntry {
  id: string;
  name: string;
  version: string;
  description: string;
  inputSize: number;
  manifestUrl: string;
}

export interface LoadedEffect {
  id: string;
  manifest: EffectManifest;
  architecture: Architecture;
  /** Dequantised f32 weights for the executor. */
  weights: Weights;
  /** True when the weights came from the Cache API, not the network. */
  fromCache: boolean;
}

export interface LoadProgress {
  /** Bytes of the weight file received so far, and its size. */
  loaded: number;
  total: number;
  fromCache: boolean;
}

/** Why an effect could not be loaded; `code` is what the SDK's error event carries. */
export class EffectLoadError extends Error {
  override name = "EffectLoadError";
  constructor(
    readonly code: "server-unreachable" | "effect-not-found" | "bad-manifest" | "bad-weights",
    message: string,
  ) {
    super(message);
  }
}

/** Cache API bucket of verified weight files. */
export const WEIGHTS_CACHE = "facefx-weights-v1";

async function get(url: URL, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new EffectLoadError(
      "server-unreachable",
      `the effect server at ${url.origin} can't be reached (${(e as Error).message})`,
    );
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw new EffectLoadError("effect-not-found", `${what} not found (${url.pathname})`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new EffectLoadError(
      "server-unreachable",
      `${what}: the server answered HTTP ${response.status}`,
    );
  }
  return response;
}

/** The server's effect catalog. */
export async function fetchCatalog(server: URL): Promise<CatalogEntry[]> {
  const response = await get(new URL("/api/effects", server), "the effect catalog");
  const body = await response.json() as { effects?: CatalogEntry[] };
  return body.effects ?? [];
}

/** The manifest of one effect, validated. */
export async function fetchManifest(server: URL, id: string): Promise<EffectManifest> {
  const url = new URL(`/api/effects/${encodeURIComponent(id)}`, server);
  const response = await get(url, `effect "${id}"`);
  try {
    return parseManifest(await response.text());
  } catch (e) {
    throw new EffectLoadError("bad-manifest", (e as Error).message);
  }
}

async function openCache(): Promise<Cache | undefined> {
  try {
    return globalThis.caches ? await caches.open(WEIGHTS_CACHE) : undefined;
  } catch {
    return undefined; // opaque origins, private modes: work without a cache
  }
}

/** Reads a body to the end, reporting progress after each chunk. */
async function readAll(
  response: Response,
  total: number,
  onProgress?: (p: LoadProgress) => void,
): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ loaded, total, fromCache: false });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ loaded, total: Math.max(total, loaded), fromCache: false });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) bytes.set(c, at), at += c.length;
  return bytes;
}

/**
 * The weight file of a manifest: from the cache when a verified copy is there, else downloaded
 * (with progress), verified and cached.
 */
export async function fetchWeights(
  server: URL,
  manifest: EffectManifest,
  onProgress?: (p: LoadProgress) => void,
): Promise<{ bytes: Uint8Array; fromCache: boolean }> {
  const url = new URL(manifest.weights.url, server);
  const { sha256, bytes: size } = manifest.weights;
  const cache = await openCache();
  const hit = await cache?.match(url.href);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    try {
      await verifySha256(bytes, sha256);
      onProgress?.({ loaded: bytes.length, total: bytes.length, fromCache: true });
      return { bytes, fromCache: true };
    } catch {
      await cache!.delete(url.href); // a damaged entry: fetch it again
    }
  }
  const response = await get(url, `weights of "${manifest.id}"`);
  const bytes = await readAll(response, size, onProgress);
  try {
    await verifySha256(bytes, sha256);
  } catch (e) {
    throw new EffectLoadError("bad-weights", (e as Error).message);
  }
  if (bytes.length !== size) {
    throw new EffectLoadError(
      "bad-weights",
      `got ${bytes.length} bytes, the manifest says ${size}`,
    );
  }
  await cache?.put(
    url.href,
    new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    }),
  ).catch(() => {}); // quota: carry on uncached
  return { bytes, fromCache: false };
}

/** Manifest + verified, decoded weights, checked against each other. */
export async function loadEffect(
  server: URL,
  id: string,
  onProgress?: (p: LoadProgress) => void,
): Promise<LoadedEffect> {
  const manifest = await fetchManifest(server, id);
  const { bytes, fromCache } = await fetchWeights(server, manifest, onProgress);
  let decoded;
  try {
    decoded = decodeStudentWeights(bytes);
  } catch (e) {
    const why = e instanceof WeightsError ? e.message : String(e);
    throw new EffectLoadError("bad-weights", why);
  }
  const inputSize = inputSizeOf(decoded.architecture);
  if (inputSize !== manifest.inputSize) {
    throw new EffectLoadError(
      "bad-weights",
      `weights are for ${inputSize}² crops, the manifest says ${manifest.inputSize}²`,
    );
  }
  return { id, manifest, architecture: decoded.architecture, weights: decoded.weights, fromCache };
}
