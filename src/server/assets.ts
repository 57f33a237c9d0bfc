// Serving bytes held in memory with HTTP caching semantics: strong ETags, 304 on If-None-Match,
// and single byte ranges (206, or 416 when unsatisfiable), as CDNs and resumable downloads expect.

import { HttpError } from "./errors.ts";

/** True when an If-None-Match header matches `etag` (weak comparison, lists, and "*"). */
export function etagMatches(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  const want = strip(etag);
  return ifNoneMatch.split(",").some((t) => t.trim() === "*" || strip(t) === want);
}

/**
 * Parses a Range header against a body of `size` bytes. Returns undefined to serve the whole body
 * (no header, another unit, several ranges, or syntax we do not take: RFC 9110 lets a server
 * ignore Range), a [start, end] inclusive pair, or throws 416 for an unsatisfiable range.
 */
export function parseRange(
  header: string | null | undefined,
  size: number,
): [number, number] | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const unsatisfiable = () =>
    new HttpError(
      416,
      "range_not_satisfiable",
      `range "${header.slice(0, 40)}" is outside ${size} bytes`,
      {
        "content-range": `bytes */${size}`,
      },
    );
  if (m[1] === "") {
    // Suffix range: the last n bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return undefined; // syntactically invalid: ignore
  if (start >= size) throw unsatisfiable();
  return [start, end];
}

export interface AssetOptions {
  etag: string;
  contentType: string;
  cacheControl: string;
}

/** 200 / 206 / 304 / 416 for one in-memory asset. */
export function serveBytes(req: Request, bytes: Uint8Array, options: AssetOptions): Response {
  const headers: Record<string, string> = {
    "content-type": options.contentType,
    "cache-control": options.cacheControl,
    etag: options.etag,
    "accept-ranges": "bytes",
  };
  if (etagMatches(req.headers.get("if-none-match"), options.etag)) {
    return new Response(null, { status: 304, headers });
  }
  // If-Range: a range only applies to the representation the client already has.
  const ifRange = req.headers.get("if-range");
  const range = ifRange && ifRange.trim() !== options.etag
    ? undefined
    : parseRange(req.headers.get("range"), bytes.length);
  if (!range) {
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { ...headers, "content-length": String(bytes.length) },
    });
  }
  const [start, end] = range;
  return new Response(bytes.slice(start, end + 1), {
    status: 206,
    headers: {
      ...headers,
      "content-range": `bytes ${start}-${end}/${bytes.length}`,
      "content-length": String(end - start + 1),
    },
  });
}
