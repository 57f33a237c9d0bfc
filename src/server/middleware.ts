// The edge server's middleware, each a small named factory composed in app.ts: request metrics,
// JSON errors, secure headers, CORS, body limits and a per-client token-bucket rate limit.

import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { errorResponse, HttpError } from "./errors.ts";
import type { ServerMetrics } from "./metrics.ts";

/**
 * Counts every request by matched route pattern (never the raw path: ids and hashes would explode
 * the label set), method and status, and times it.
 */
export function requestMetrics(metrics: ServerMetrics): MiddlewareHandler {
  return async function requestMetrics(c, next) {
    const started = performance.now();
    await next();
    // After next(), routePath is the pattern of the handler that answered; "*" means no route did.
    const pattern = c.req.routePath;
    const route = !pattern || pattern === "*" || pattern === "/*" ? "unmatched" : pattern;
    const method = ["GET", "HEAD", "POST", "OPTIONS"].includes(c.req.method)
      ? c.req.method
      : "other";
    metrics.requests.inc({ route, method, status: String(c.res.status) });
    metrics.requestSeconds.observe((performance.now() - started) / 1000, { route });
  };
}

/** Secure headers for the API and the demo page (own scripts + wasm only); weights and models may be embedded cross-origin. */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      // MediaPipe's face tracker is WebAssembly; its model falls back to Google's public copy.
      scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
      imgSrc: ["'self'", "data:", "blob:"],
      mediaSrc: ["'self'", "blob:"],
      connectSrc: ["'self'", "https://storage.googleapis.com"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    // Public, content-addressed assets: any origin may load them (CDN, another app's page).
    crossOriginResourcePolicy: "cross-origin",
  });
}

/** CORS for browser clients on other origins; "*" (no credentials) by default, or a list. */
export function corsPolicy(origins: "*" | string[]): MiddlewareHandler {
  return cors({
    origin: origins === "*" ? "*" : origins,
    allowMethods: ["GET", "HEAD", "POST", "OPTIONS"],
    allowHeaders: [
      "Content-Type",
      "If-None-Match",
      "Range",
      "X-Image-Width",
      "X-Image-Height",
      "X-Image-Channels",
    ],
    exposeHeaders: ["ETag", "Content-Range", "Accept-Ranges", "Retry-After", "Server-Timing"],
    maxAge: 600,
  });
}

/** Refuses bodies over `maxBytes` with a JSON 413 (declared or streamed, either way). */
export function jsonBodyLimit(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () =>
      errorResponse(
        new HttpError(413, "payload_too_large", `the body is larger than ${maxBytes} bytes`),
      ),
  });
}

/** The client's address: the socket peer, or the first X-Forwarded-For hop behind a trusted proxy. */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}

export interface RateLimitOptions {
  /** Tokens added per second; 0 disables the limit. */
  ratePerSec: number;
  /** Bucket size: the burst a client may spend at once. */
  burst: number;
  /** Buckets kept; the least recently seen client is forgotten beyond this (memory stays bounded). */
  maxClients?: number;
}

/** Token buckets keyed by client; `take` is O(1) and the map never grows past maxClients. */
export class TokenBuckets {
  #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly options: RateLimitOptions, private readonly now = () => performance.now()) {}

  get enabled(): boolean {
    return this.options.ratePerSec > 0;
  }

  /** Spends `cost` tokens; returns 0 if allowed, else the seconds until enough tokens exist. */
  take(key: string, cost = 1): number {
    if (!this.enabled) return 0;
    const { ratePerSec, burst } = this.options;
    const now = this.now();
    const b = this.#buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
    b.at = now;
    // Re-insert so Map order is least-recently-seen first.
    this.#buckets.delete(key);
    this.#buckets.set(key, b);
    const max = this.options.maxClients ?? 10_000;
    if (this.#buckets.size > max) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return (cost - b.tokens) / ratePerSec;
  }
}

/** 429 + Retry-After when the client's bucket is empty. */
export function rateLimit(buckets: TokenBuckets, trustProxy: boolean): MiddlewareHandler {
  return async function rateLimit(c, next) {
    const wait = buckets.take(clientIp(c, trustProxy));
    if (wait > 0) {
      throw new HttpError(429, "rate_limited", "too many inference requests from this client", {
        "retry-after": String(Math.max(1, Math.ceil(wait))),
      });
    }
    await next();
  };
}
