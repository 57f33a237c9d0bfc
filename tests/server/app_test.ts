// Every route of the edge app through app.request() (no socket), with a device-free stub backend:
// catalog, manifests and ETags, content-addressed weights with ranges, the landmarker bundle,
// inference in every format and every refusal, health and metrics, headers and limits.

import assert from "node:assert/strict";
import { decodeImage, encodeJpeg, encodePng } from "../../src/media/codec.ts";
import { createEdgeServer, type EdgeOptions, FACE_LANDMARKER_URL } from "../../src/server/app.ts";
import { needs, requireShared, sharedDir } from "../support/env.ts";
import {
  bodyOf,
  buildTestEffect,
  rawHeaders,
  StubBackend,
  tempDir,
  testCrop,
  type TestEffect,
} from "./fixture.ts";

const fx: TestEffect = await buildTestEffect({ id: "inky" });
const S = fx.config.inputSize;
const quiet = () => {};

async function edgeWith(options: Partial<EdgeOptions> = {}, backend = new StubBackend()) {
  const edge = await createEdgeServer({ weightsDir: fx.dir, backend, log: quiet, ...options });
  return { edge, app: edge.app, backend };
}

const infer = (id = fx.id) => `/api/effects/${id}/infer`;

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.equal(typeof body.error?.code, "string");
  assert.equal(typeof body.error?.message, "string");
  return body.error;
}

Deno.test("GET / is a small status page naming the effects", async () => {
  const { app } = await edgeWith();
  const res = await app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const html = await res.text();
  assert.match(html, /Test effect inky/);
  assert.match(res.headers.get("content-security-policy")!, /default-src 'self'/);
});

Deno.test("the catalog lists each effect with its manifest URL", async () => {
  const { app } = await edgeWith();
  const res = await app.request("/api/effects");
  assert.equal(res.status, 200);
  const { effects } = await res.json();
  assert.deepEqual(effects, [{
    id: "inky",
    name: fx.manifest.name,
    version: "0.1.0",
    description: fx.manifest.description,
    inputSize: S,
    manifestUrl: "/api/effects/inky",
  }]);
});

Deno.test("an empty or missing weights directory is an empty catalog, not a crash", async () => {
  const empty = await tempDir();
  for (const weightsDir of [empty, `${empty}/does-not-exist`]) {
    const warnings: string[] = [];
    const edge = await createEdgeServer({
      weightsDir,
      backend: new StubBackend(),
      log: (m) => warnings.push(m),
    });
    assert.deepEqual(await (await edge.app.request("/api/effects")).json(), { effects: [] });
    const health = await (await edge.app.request("/healthz")).json();
    assert.deepEqual(health.effects, []);
    assert.equal(health.status, "ok");
    assert.match(await (await edge.app.request("/")).text(), /No effects are loaded/);
  }
});

Deno.test("a manifest is served validated, with an ETag and 304 on If-None-Match", async () => {
  const { app } = await edgeWith();
  const res = await app.request("/api/effects/inky");
  assert.equal(res.status, 200);
  const etag = res.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  assert.equal(res.headers.get("cache-control"), "no-cache");
  assert.deepEqual(await res.json(), fx.manifest);
  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
    const again = await app.request("/api/effects/inky", { headers: { "if-none-match": inm } });
    assert.equal(again.status, 304, inm);
    assert.equal(again.headers.get("etag"), etag);
    assert.equal(await again.text(), "");
  }
  const stale = await app.request("/api/effects/inky", { headers: { "if-none-match": '"old"' } });
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
  const missing = await app.request("/api/effects/nope");
  assert.equal(missing.status, 404);
  assert.equal((await errorOf(missing)).code, "unknown_effect");
});

Deno.test("weights are content-addressed, immutable, ETagged and range-served", async () => {
  const { app } = await edgeWith();
  const url = `/weights/${fx.sha256}.safetensors`;
  const res = await app.request(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(res.headers.get("etag"), `"${fx.sha256}"`);
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  assert.equal(res.headers.get("cross-origin-resource-policy"), "cross-origin");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fx.bytes);

  const n = fx.bytes.length;
  const cases: [string, number, number][] = [["bytes=0-7", 0, 7], ["bytes=10-", 10, n - 1], [
    "bytes=-16",
    n - 16,
    n - 1,
  ], ["bytes=5-999999999", 5, n - 1]];
  for (const [range, start, end] of cases) {
    const part = await app.request(url, { headers: { range } });
    assert.equal(part.status, 206, range);
    assert.equal(part.headers.get("content-range"), `bytes ${start}-${end}/${n}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), fx.bytes.slice(start, end + 1));
  }
  for (const range of [`bytes=${n}-`, `bytes=${n + 5}-${n + 9}`, "bytes=-0"]) {
    const bad = await app.request(url, { headers: { range } });
    assert.equal(bad.status, 416, range);
    assert.equal(bad.headers.get("content-range"), `bytes */${n}`);
    assert.equal((await errorOf(bad)).code, "range_not_satisfiable");
  }
  // Several ranges, other units and nonsense are ignored: the whole file (RFC 9110 allows it).
  for (const range of ["bytes=0-1,4-5", "items=0-1", "bytes=abc", "bytes=9-3"]) {
    const whole = await app.request(url, { headers: { range } });
    assert.equal(whole.status, 200, range);
    await whole.body?.cancel();
  }
  // If-Range with another validator: the whole (new) file, not a piece of it.
  const ifRange = await app.request(url, {
    headers: { range: "bytes=0-3", "if-range": '"other"' },
  });
  assert.equal(ifRange.status, 200);
  await ifRange.body?.cancel();
  const cached = await app.request(url, { headers: { "if-none-match": `"${fx.sha256}"` } });
  assert.equal(cached.status, 304);
  const head = await app.request(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(n));
});

Deno.test("no weights path escapes the weights directory or names an unverified file", async () => {
  const { app } = await edgeWith();
  // A file in the directory that no loaded manifest names is not served either.
  const stray = "a".repeat(64);
  await Deno.writeTextFile(`${fx.dir}/${stray}.safetensors`, "not verified");
  try {
    for (
      const path of [
        `/weights/${stray}.safetensors`,
        "/weights/..%2F..%2Fetc%2Fpasswd",
        "/weights/../../etc/passwd",
        `/weights/%2e%2e%2f${fx.sha256}.safetensors`,
        `/weights/${fx.sha256.toUpperCase()}.safetensors`,
        `/weights/${fx.sha256}.json`,
        `/weights/${fx.id}.json`,
        `/weights/${fx.sha256}.safetensors/x`,
        "/weights/",
      ]
    ) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      await errorOf(res);
    }
  } finally {
    await Deno.remove(`${fx.dir}/${stray}.safetensors`);
  }
});

Deno.test("without a landmarker bundle, its route is a 404 naming MediaPipe's public URL", async () => {
  for (const landmarkerPath of [undefined, `${fx.dir}/missing.task`]) {
    const { app } = await edgeWith({ landmarkerPath });
    const res = await app.request("/models/face_landmarker.task");
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.url, FACE_LANDMARKER_URL);
    assert.equal(body.error.code, "not_found");
  }
});

Deno.test(needs(requireShared("models/face_landmarker.task"), {
  name: "with a landmarker bundle, it is served with an ETag and ranges",
  async fn() {
    const path = `${sharedDir}/models/face_landmarker.task`;
    const bytes = await Deno.readFile(path);
    const { app } = await edgeWith({ landmarkerPath: path });
    const res = await app.request("/models/face_landmarker.task");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    const etag = res.headers.get("etag")!;
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
    const part = await app.request("/models/face_landmarker.task", {
      headers: { range: "bytes=0-3" },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(0, 4));
    const again = await app.request("/models/face_landmarker.task", {
      headers: { "if-none-match": etag },
    });
    assert.equal(again.status, 304);
  },
}));

Deno.test("inference round-trips raw RGBA, raw RGB, PNG and JPEG in their own format", async () => {
  const { app, backend } = await edgeWith();
  const crop = testCrop(S, 3);
  // The stub backend is the identity, so a lossless format comes back bit-exact.
  const rgba = await app.request(infer(), { method: "POST", body: crop, headers: rawHeaders(S) });
  assert.equal(rgba.status, 200);
  assert.equal(rgba.headers.get("content-type"), "application/octet-stream");
  assert.equal(rgba.headers.get("x-image-channels"), "4");
  assert.match(rgba.headers.get("server-timing")!, /infer;dur=/);
  assert.deepEqual(new Uint8Array(await rgba.arrayBuffer()), crop);

  const rgb = bodyOf(crop.filter((_, i) => i % 4 !== 3));
  const viaQuery = `${infer()}?width=${S}&height=${S}&channels=3`;
  const rgbRes = await app.request(viaQuery, {
    method: "POST",
    body: rgb,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(rgbRes.status, 200);
  assert.equal(rgbRes.headers.get("x-image-channels"), "3");
  assert.deepEqual(new Uint8Array(await rgbRes.arrayBuffer()), rgb);

  const png = bodyOf(encodePng({ width: S, height: S, data: crop }));
  const pngRes = await app.request(infer(), {
    method: "POST",
    body: png,
    headers: { "content-type": "image/png" },
  });
  assert.equal(pngRes.status, 200);
  assert.equal(pngRes.headers.get("content-type"), "image/png");
  assert.deepEqual(decodeImage(new Uint8Array(await pngRes.arrayBuffer())).data, crop);

  const jpeg = bodyOf(encodeJpeg({ width: S, height: S, data: crop }, 95));
  const jpegRes = await app.request(infer(), {
    method: "POST",
    body: jpeg,
    headers: { "content-type": "image/jpeg" },
  });
  assert.equal(jpegRes.status, 200);
  assert.equal(jpegRes.headers.get("content-type"), "image/jpeg");
  const back = decodeImage(new Uint8Array(await jpegRes.arrayBuffer()));
  assert.equal(back.width, S);
  assert.deepEqual(backend.batches.every((n) => n === 1), true);
});

Deno.test("several crops in multipart/form-data come back as multipart, in order and format", async () => {
  const { app, backend } = await edgeWith({ batcher: { maxWaitMs: 20 } });
  const crops = [0, 1, 2].map((i) => testCrop(S, i));
  const form = new FormData();
  form.append(
    "a",
    new File([bodyOf(encodePng({ width: S, height: S, data: crops[0] }))], "a.png", {
      type: "image/png",
    }),
  );
  form.append("b", new File([crops[1]], "b.raw", { type: "application/octet-stream" }));
  form.append("note", "text fields are ignored");
  // An untyped part is sniffed: this one is a PNG.
  form.append("c", new File([bodyOf(encodePng({ width: S, height: S, data: crops[2] }))], "c"));
  const res = await app.request(`${infer()}?width=${S}&height=${S}`, {
    method: "POST",
    body: form,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^multipart\/form-data; boundary=/);
  const out = await res.formData();
  assert.deepEqual([...out.keys()], ["a", "b", "c"]);
  const a = out.get("a") as File, b = out.get("b") as File, c = out.get("c") as File;
  assert.equal(a.type, "image/png");
  assert.equal(b.type, "application/octet-stream");
  assert.deepEqual(decodeImage(new Uint8Array(await a.arrayBuffer())).data, crops[0]);
  assert.deepEqual(new Uint8Array(await b.arrayBuffer()), crops[1]);
  assert.deepEqual(decodeImage(new Uint8Array(await c.arrayBuffer())).data, crops[2]);
  // One request's three crops ran as one batch.
  assert.deepEqual(backend.batches, [3]);
});

Deno.test("every bad inference request gets its own 4xx and a JSON error body", async () => {
  const { app } = await edgeWith({ maxBodyBytes: 200_000, maxCropsPerRequest: 2 });
  const crop = testCrop(S);
  const png = bodyOf(encodePng({ width: S, height: S, data: crop }));
  const small = bodyOf(encodePng({ width: 64, height: 64, data: testCrop(64) }));
  const post = async (body: BodyInit, headers: Record<string, string>, url = infer()) =>
    await app.request(url, { method: "POST", body, headers });
  const form = (n: number) => {
    const f = new FormData();
    for (let i = 0; i < n; i++) {
      f.append(`c${i}`, new File([png], `c${i}.png`, { type: "image/png" }));
    }
    return f;
  };
  const cases: [string, Promise<Response>, number, string][] = [
    ["unknown effect", post(crop, rawHeaders(S), infer("nope")), 404, "unknown_effect"],
    ["PNG of the wrong size", post(small, { "content-type": "image/png" }), 422, "wrong_size"],
    ["raw of the wrong size", post(testCrop(64), rawHeaders(64)), 422, "wrong_size"],
    ["raw bytes not matching the size", post(crop.subarray(1), rawHeaders(S)), 422, "wrong_size"],
    [
      "raw with 3 bytes/pixel declared 4",
      post(crop.subarray(0, S * S * 3), rawHeaders(S)),
      422,
      "wrong_channels",
    ],
    [
      "raw with 2 channels",
      post(crop.subarray(0, S * S * 2), rawHeaders(S, 2)),
      422,
      "wrong_channels",
    ],
    [
      "raw without its size",
      post(crop, { "content-type": "application/octet-stream" }),
      400,
      "bad_request",
    ],
    [
      "raw with a non-numeric size",
      post(crop, { ...rawHeaders(S), "x-image-width": "12x" }),
      400,
      "bad_request",
    ],
    [
      "GIF",
      post(new Uint8Array([71, 73, 70, 56, 57, 97]), { "content-type": "image/gif" }),
      415,
      "unsupported_media_type",
    ],
    ["text", post("hello", { "content-type": "text/plain" }), 415, "unsupported_media_type"],
    ["no content type", post(new Blob([crop]), {}), 415, "unsupported_media_type"],
    [
      "declared PNG, is JPEG",
      post(bodyOf(encodeJpeg({ width: S, height: S, data: crop })), {
        "content-type": "image/png",
      }),
      400,
      "undecodable_image",
    ],
    [
      "truncated PNG",
      post(png.subarray(0, 100), { "content-type": "image/png" }),
      400,
      "undecodable_image",
    ],
    [
      "garbage PNG",
      post(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 1, 2, 3]), {
        "content-type": "image/png",
      }),
      400,
      "undecodable_image",
    ],
    ["empty body", post(new Uint8Array(0), { "content-type": "image/png" }), 400, "bad_request"],
    ["too large", post(new Uint8Array(300_000), rawHeaders(S)), 413, "payload_too_large"],
    ["too many crops", post(form(3), {}), 413, "too_many_crops"],
    [
      "multipart without files",
      post(
        (() => {
          const f = new FormData();
          f.append("x", "y");
          return f;
        })(),
        {},
      ),
      400,
      "bad_request",
    ],
    [
      "malformed multipart",
      post("--x\r\nnope", { "content-type": "multipart/form-data; boundary=x" }),
      400,
      "bad_request",
    ],
    [
      "wrong-size part",
      post(
        (() => {
          const f = new FormData();
          f.append("p", new File([small], "p.png", { type: "image/png" }));
          return f;
        })(),
        {},
      ),
      422,
      "wrong_size",
    ],
  ];
  for (const [what, pending, status, code] of cases) {
    const res = await pending;
    assert.equal(res.status, status, what);
    assert.equal((await errorOf(res)).code, code, what);
  }
  const get = await app.request(infer());
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  const unknown = await app.request("/nope/../../etc/passwd");
  assert.equal(unknown.status, 404);
  assert.equal((await errorOf(unknown)).code, "not_found");
});

Deno.test("a streamed body over the limit is refused with 413 as well", async () => {
  const { app } = await edgeWith({ maxBodyBytes: 100_000 });
  const chunk = new Uint8Array(30_000);
  const body = new ReadableStream({
    start(ctrl) {
      for (let i = 0; i < 5; i++) ctrl.enqueue(chunk);
      ctrl.close();
    },
  });
  const res = await app.request(infer(), { method: "POST", body, headers: rawHeaders(S) });
  assert.equal(res.status, 413);
  assert.equal((await errorOf(res)).code, "payload_too_large");
});

Deno.test("overload is a 503 with Retry-After, and the queue stays bounded", async () => {
  const { app, edge } = await edgeWith(
    { batcher: { maxBatch: 1, maxQueue: 2, maxWaitMs: 0 } },
    new StubBackend(150),
  );
  const send = () =>
    app.request(infer(), { method: "POST", body: testCrop(S), headers: rawHeaders(S) });
  // Two run (the default maxInFlight), two wait, the rest are refused at once.
  const all = await Promise.all(Array.from({ length: 6 }, send));
  const statuses = all.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 200, 503, 503]);
  for (const r of all) {
    if (r.status === 503) {
      assert.ok(Number(r.headers.get("retry-after")) >= 1);
      assert.equal((await errorOf(r)).code, "overloaded");
    } else await r.body?.cancel();
  }
  assert.equal(edge.batcher.depth, 0);
  const metrics = await (await app.request("/metrics")).text();
  assert.match(metrics, /inference_rejected_total\{reason="overloaded"\} 2/);
});

Deno.test("a crop not done by its deadline is a 503 timeout; the server stays healthy", async () => {
  const { app } = await edgeWith({ batcher: { timeoutMs: 50 } }, new StubBackend(300));
  const res = await app.request(infer(), {
    method: "POST",
    body: testCrop(S),
    headers: rawHeaders(S),
  });
  assert.equal(res.status, 503);
  assert.equal((await errorOf(res)).code, "timeout");
  assert.ok(res.headers.get("retry-after"));
  await new Promise((r) => setTimeout(r, 300)); // let the abandoned batch finish
  assert.equal((await app.request("/healthz")).status, 200);
});

Deno.test("a failing backend is a 500 with a generic message (no internals, no pixels)", async () => {
  const backend = new StubBackend();
  backend.fail = new Error("GPU exploded at 0xdeadbeef");
  const logged: string[] = [];
  const { app } = await edgeWith({ log: (m) => logged.push(m) }, backend);
  const originalError = console.error;
  console.error = () => {};
  try {
    const res = await app.request(infer(), {
      method: "POST",
      body: testCrop(S),
      headers: rawHeaders(S),
    });
    assert.equal(res.status, 500);
    const error = await errorOf(res);
    assert.deepEqual(error, { code: "internal", message: "internal server error" });
  } finally {
    console.error = originalError;
  }
});

Deno.test("inference is rate-limited per client with a token bucket (429 + Retry-After)", async () => {
  const { app } = await edgeWith({ rateLimit: { ratePerSec: 1, burst: 2 } });
  const from = (ip: string) => ({ remoteAddr: { hostname: ip, port: 1, transport: "tcp" } });
  const send = (ip: string) =>
    app.request(infer(), { method: "POST", body: testCrop(S), headers: rawHeaders(S) }, from(ip));
  const a = [await send("10.0.0.1"), await send("10.0.0.1"), await send("10.0.0.1")];
  assert.deepEqual(a.map((r) => r.status), [200, 200, 429]);
  assert.equal((await errorOf(a[2])).code, "rate_limited");
  assert.ok(Number(a[2].headers.get("retry-after")) >= 1);
  // Another client has its own bucket; reads are never limited.
  assert.equal((await send("10.0.0.2")).status, 200);
  assert.equal((await app.request("/api/effects", {}, from("10.0.0.1"))).status, 200);
  for (const r of a.slice(0, 2)) await r.body?.cancel();
});

Deno.test("X-Forwarded-For keys the rate limit only behind a trusted proxy", async () => {
  for (const trustProxy of [false, true]) {
    const { app } = await edgeWith({ rateLimit: { ratePerSec: 1, burst: 1 }, trustProxy });
    const send = (xff: string) =>
      app.request(infer(), {
        method: "POST",
        body: testCrop(S),
        headers: { ...rawHeaders(S), "x-forwarded-for": xff },
      });
    const first = await send("1.1.1.1");
    const second = await send("2.2.2.2, 10.0.0.1");
    assert.equal(first.status, 200);
    assert.equal(second.status, trustProxy ? 200 : 429);
    await first.body?.cancel();
    await second.body?.cancel();
  }
});

Deno.test("secure headers on every response; CORS configurable, preflight answered", async () => {
  const { app } = await edgeWith();
  const res = await app.request("/api/effects", { headers: { origin: "https://example.com" } });
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("x-frame-options"), "SAMEORIGIN");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.ok(res.headers.get("strict-transport-security"));
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
  const pre = await app.request(infer(), {
    method: "OPTIONS",
    headers: {
      origin: "https://example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,x-image-width",
    },
  });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get("access-control-allow-methods")!, /POST/);
  assert.match(pre.headers.get("access-control-allow-headers")!, /X-Image-Width/);

  const { app: strict } = await edgeWith({ corsOrigins: ["https://app.example"] });
  const ok = await strict.request("/api/effects", { headers: { origin: "https://app.example" } });
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
  const other = await strict.request("/api/effects", {
    headers: { origin: "https://evil.example" },
  });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  await ok.body?.cancel();
  await other.body?.cancel();
});

Deno.test("/healthz reports backend, effects, broken effects and the queue", async () => {
  const dir = await tempDir();
  await buildTestEffect({ dir, id: "good" });
  await buildTestEffect({ dir, id: "bad", manifest: { inputSize: 256 } });
  const warnings: string[] = [];
  const edge = await createEdgeServer({
    weightsDir: dir,
    backend: new StubBackend(),
    log: (m) => warnings.push(m),
  });
  const health = await (await edge.app.request("/healthz")).json();
  assert.equal(health.status, "ok");
  assert.equal(health.backend, "cpu");
  assert.deepEqual(health.effects.map((e: { id: string }) => e.id), ["good"]);
  assert.equal(health.broken.length, 1);
  assert.equal(health.broken[0].file, "bad.json");
  assert.match(health.broken[0].reason, /inputSize 256 differs from the weights' 128/);
  assert.deepEqual(health.queue, { depth: 0, max: 64, inFlight: 0, maxInFlight: 2, maxBatch: 8 });
  assert.ok(warnings.some((w) => w.includes("bad.json")));
  // The broken effect is not served.
  assert.equal((await edge.app.request("/api/effects/bad")).status, 404);
  await edge.shutdown();
  const down = await edge.app.request("/healthz");
  assert.equal(down.status, 503);
  assert.equal((await down.json()).status, "shutting_down");
  const refused = await edge.app.request("/api/effects/good/infer", {
    method: "POST",
    body: testCrop(S),
    headers: rawHeaders(S),
  });
  assert.equal(refused.status, 503);
  assert.equal((await errorOf(refused)).code, "shutting_down");
});

Deno.test("/metrics is Prometheus text: requests by route and status, latency and batch histograms", async () => {
  const { app } = await edgeWith();
  await (await app.request("/api/effects")).body?.cancel();
  await (await app.request("/api/effects/nope")).body?.cancel();
  await (await app.request("/no/such/route")).body?.cancel();
  await (await app.request(infer(), { method: "POST", body: testCrop(S), headers: rawHeaders(S) }))
    .body?.cancel();
  const res = await app.request("/metrics");
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  assert.match(text, /^# TYPE http_requests_total counter$/m);
  assert.match(
    text,
    /^http_requests_total\{method="GET",route="\/api\/effects",status="200"\} 1$/m,
  );
  assert.match(
    text,
    /^http_requests_total\{method="GET",route="\/api\/effects\/:id",status="404"\} 1$/m,
  );
  assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
  assert.match(
    text,
    /^http_requests_total\{method="POST",route="\/api\/effects\/:id\/infer",status="200"\} 1$/m,
  );
  assert.match(text, /^inference_batch_duration_seconds_count\{backend="cpu",effect="inky"\} 1$/m);
  assert.match(text, /^inference_batch_size_bucket\{effect="inky",le="1"\} 1$/m);
  assert.match(text, /^inference_queue_depth 0$/m);
  assert.match(text, /^inference_batches_in_flight 0$/m);
  assert.match(text, /^stream_connections 0$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
  // No raw paths or ids become labels.
  assert.doesNotMatch(text, /no\/such\/route|nope/);
});

Deno.test("the stream route refuses plain HTTP with 426 and unknown effects with 404", async () => {
  const { app } = await edgeWith();
  const plain = await app.request("/api/effects/inky/stream");
  assert.equal(plain.status, 426);
  assert.equal((await errorOf(plain)).code, "upgrade_required");
  const unknown = await app.request("/api/effects/nope/stream", {
    headers: { upgrade: "websocket" },
  });
  assert.equal(unknown.status, 404);
  assert.equal((await errorOf(unknown)).code, "unknown_effect");
});

Deno.test("a request whose signal aborts while its crop waits is dropped from the queue", async () => {
  // Deno.serve (2.9) only notices a vanished HTTP client when it writes the response, so this
  // drives the request's own AbortSignal, as runtimes that do signal disconnects (and proxies) do.
  const { app, edge, backend } = await edgeWith(
    { batcher: { maxBatch: 1, maxWaitMs: 0, maxInFlight: 1 } },
    new StubBackend(100),
  );
  const send = (signal?: AbortSignal) =>
    app.request(
      new Request(`http://edge${infer()}`, {
        method: "POST",
        body: testCrop(S),
        headers: rawHeaders(S),
        signal,
      }),
    );
  const first = send();
  await new Promise((r) => setTimeout(r, 20));
  const abort = new AbortController();
  const second = send(abort.signal);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(edge.batcher.depth, 1);
  abort.abort();
  const gone = await second;
  assert.equal(gone.status, 499);
  assert.equal((await errorOf(gone)).code, "cancelled");
  const res = await first;
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(backend.batches, [1], "the abandoned crop never ran");
  assert.equal(edge.metrics.rejected.get({ reason: "cancelled" }), 1);
});
