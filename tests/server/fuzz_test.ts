// Seeded fuzzing of every parser the edge server exposes: thousands of random and bit-flipped
// bodies, headers, paths and stream frames. The only acceptable answers are 2xx/3xx/4xx and the
// intended 503s; nothing may throw past the app, and the server must still work afterwards.
// Bounded in count and in time (FUZZ_SECONDS each, default 4), so the whole file stays < 20 s.

import assert from "node:assert/strict";
import { encodeJpeg, encodePng } from "../../src/media/codec.ts";
import { rng } from "../../src/graph/random.ts";
import { createEdgeServer } from "../../src/server/app.ts";
import { parseCrop } from "../../src/server/crops.ts";
import { HttpError } from "../../src/server/errors.ts";
import { decodeFrame, encodeFrame, FrameError } from "../../src/server/frames.ts";
import { bodyOf, buildTestEffect, StubBackend, testCrop } from "./fixture.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240611);
const SECONDS = Number(Deno.env.get("FUZZ_SECONDS") ?? 4);
const fx = await buildTestEffect({ id: "fuzz" });
const S = fx.config.inputSize;
const crop = testCrop(S, 9);
const seeds = {
  png: encodePng({ width: S, height: S, data: crop }),
  jpeg: encodeJpeg({ width: S, height: S, data: crop }, 80),
  rgba: crop,
  smallPng: encodePng({ width: 8, height: 8, data: testCrop(8) }),
};

function fuzzer(seed: number) {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  /** A copy with a few bits flipped, bytes overwritten, or the tail cut. */
  const mutate = (src: Uint8Array): Uint8Array => {
    const out = src.slice();
    const kind = int(4);
    if (kind === 0) {
      for (let i = 0, n = 1 + int(8); i < n; i++) out[int(out.length)] ^= 1 << int(8);
    } else if (kind === 1) {
      for (let i = 0, n = 1 + int(4); i < n; i++) out[int(Math.min(out.length, 64))] = int(256);
    } else if (kind === 2) {
      return out.subarray(0, int(out.length));
    } else {
      const at = int(out.length);
      out.set(bytes(Math.min(16, out.length - at)), at);
    }
    return out;
  };
  const weirdText = () =>
    pick([
      "",
      "0",
      "-1",
      String(S),
      String(S + 1),
      "1e3",
      "NaN",
      "99999999999",
      " 128 ",
      "128x",
      "\u0000",
      "💥",
      "3",
      "4",
      "5",
      "a".repeat(300),
    ]);
  return { random, int, pick, bytes, mutate, weirdText };
}

function deadline() {
  const until = performance.now() + SECONDS * 1000;
  return () => performance.now() < until;
}

const acceptable = (status: number) => status < 500 || status === 503;

Deno.test("random and mutated crop bodies only ever raise HttpError from parseCrop", () => {
  const f = fuzzer(SEED);
  const more = deadline();
  const types = [
    "image/png",
    "image/jpeg",
    "application/octet-stream",
    "image/gif",
    "",
    "text/plain",
  ];
  let n = 0;
  for (; n < 20_000 && more(); n++) {
    const source = f.pick([seeds.png, seeds.jpeg, seeds.rgba, seeds.smallPng, f.bytes(f.int(64))]);
    const body = f.int(5) === 0 ? f.bytes(f.int(2000)) : f.mutate(source);
    const raw = { width: f.weirdText(), height: f.weirdText(), channels: f.weirdText() };
    try {
      parseCrop(body, f.pick(types), S, f.int(2) ? raw : { width: String(S), height: String(S) });
    } catch (e) {
      if (!(e instanceof HttpError) || e.status >= 500) throw e;
    }
  }
  assert.ok(n >= 500, `only ${n} cases ran`);
});

Deno.test("random and bit-flipped frames only ever raise FrameError from decodeFrame", () => {
  const f = fuzzer(SEED + 1);
  const more = deadline();
  const good = encodeFrame({ seq: 7, format: "png", width: S, height: S, payload: seeds.smallPng });
  let n = 0;
  for (; n < 50_000 && more(); n++) {
    const message = f.int(3) === 0 ? f.bytes(f.int(40)) : f.mutate(good);
    try {
      decodeFrame(message);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
    }
  }
  assert.ok(n >= 1000, `only ${n} cases ran`);
});

Deno.test("thousands of hostile HTTP requests: no 5xx but intended 503s, and the app still works", async () => {
  const f = fuzzer(SEED + 2);
  const edge = await createEdgeServer({
    weightsDir: fx.dir,
    backend: new StubBackend(),
    log: () => {},
    rateLimit: { ratePerSec: 0, burst: 1 },
    maxBodyBytes: 256 * 1024,
    batcher: { maxWaitMs: 0, maxQueue: 8 },
  });
  const originalError = console.error;
  const more = deadline();
  const statuses = new Map<number, number>();
  const contentTypes = [
    "image/png",
    "image/jpeg",
    "IMAGE/PNG; charset=x",
    "application/octet-stream",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=zzz",
    "application/json",
    "",
    "\u00ff",
  ];
  const paths = [
    `/api/effects/${fx.id}/infer`,
    `/api/effects/${fx.id}/infer?width=${S}&height=${S}`,
    "/api/effects/%00/infer",
    `/api/effects/${"x".repeat(500)}/infer`,
    `/weights/${fx.sha256}.safetensors`,
    `/api/effects/${fx.id}`,
    "/models/face_landmarker.task",
    "/api/effects",
    "/healthz",
  ];
  const multipart = (boundary: string, parts: Uint8Array[]) => {
    const enc = new TextEncoder();
    const chunks: Uint8Array[] = [];
    parts.forEach((p, i) => {
      chunks.push(enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="c${i}"; filename="c${i}"\r\n` +
          `Content-Type: ${f.pick(contentTypes)}\r\n\r\n`,
      ));
      chunks.push(p, enc.encode("\r\n"));
    });
    chunks.push(enc.encode(`--${boundary}--\r\n`));
    const whole = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      whole.set(c, at);
      at += c.length;
    }
    return f.int(3) === 0 ? f.mutate(whole) : whole;
  };
  let n = 0;
  try {
    console.error = () => {};
    for (; n < 10_000 && more(); n++) {
      const path = f.pick(paths);
      const headers: Record<string, string> = {};
      let body: Uint8Array | undefined;
      const method = path.endsWith("infer") || path.includes("infer?")
        ? "POST"
        : f.pick(["GET", "HEAD", "POST"]);
      if (method === "POST") {
        const kind = f.int(4);
        if (kind === 3) {
          const boundary = f.pick(["b0undary", "x", "-".repeat(70)]);
          headers["content-type"] = `multipart/form-data; boundary=${boundary}`;
          const count = f.int(4);
          body = multipart(
            boundary,
            Array.from({ length: count }, () => f.mutate(f.pick([seeds.png, seeds.rgba]))),
          );
        } else {
          headers["content-type"] = f.pick(contentTypes);
          body = f.mutate(f.pick([seeds.png, seeds.jpeg, seeds.rgba]));
        }
        if (f.int(2)) headers["x-image-width"] = f.weirdText();
        if (f.int(2)) headers["x-image-height"] = f.weirdText();
        if (f.int(3) === 0) headers["x-image-channels"] = f.weirdText();
      } else {
        if (f.int(2)) {
          headers.range = f.pick([
            "bytes=",
            "bytes=0-",
            "bytes=-1",
            `bytes=${f.int(1e6)}-${f.int(1e6)}`,
            "bytes=1-2,3-4",
            "x",
          ]);
        }
        if (f.int(3) === 0) headers["if-none-match"] = f.pick(["*", '"x"', "W/", ",,,", fx.sha256]);
        if (f.int(4) === 0) headers["if-range"] = f.pick(['"x"', `"${fx.sha256}"`, ""]);
      }
      let res: Response;
      try {
        const init: RequestInit = { method, headers, body: body ? bodyOf(body) : undefined };
        res = await edge.app.request(path, init);
      } catch (e) {
        // A request the Request constructor itself refuses (invalid header bytes) never reaches us.
        if (e instanceof TypeError) continue;
        throw e;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (!acceptable(res.status)) {
        throw new Error(
          `${method} ${path} ${JSON.stringify(headers)} → ${res.status}: ${await res.text()}`,
        );
      }
      await res.body?.cancel();
    }
  } finally {
    console.error = originalError;
  }
  console.log(
    `${n} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
  );
  assert.ok(n >= 300, `only ${n} requests ran`);
  const ok = await edge.app.request(`/api/effects/${fx.id}/infer`, {
    method: "POST",
    body: crop,
    headers: {
      "content-type": "application/octet-stream",
      "x-image-width": String(S),
      "x-image-height": String(S),
    },
  });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  await edge.shutdown();
  await edge.dispose();
});

Deno.test("a socket fed random and bit-flipped frames answers each and keeps working", async () => {
  const f = fuzzer(SEED + 3);
  const edge = await createEdgeServer({
    weightsDir: fx.dir,
    backend: new StubBackend(),
    log: () => {},
    rateLimit: { ratePerSec: 0, burst: 1 },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, edge.app.fetch);
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/api/effects/${fx.id}/stream`);
  ws.binaryType = "arraybuffer";
  let replies = 0;
  let lastFrameSeq = -1;
  ws.onmessage = (e) => {
    replies++;
    if (typeof e.data !== "string") lastFrameSeq = decodeFrame(new Uint8Array(e.data)).seq;
  };
  await new Promise((r) => ws.onopen = r);
  const good = encodeFrame({ seq: 1, format: "rgba", width: S, height: S, payload: crop });
  const more = deadline();
  let sent = 0;
  for (; sent < 5000 && more(); sent++) {
    const kind = f.int(4);
    ws.send(
      kind === 0
        ? f.bytes(f.int(64))
        : kind === 1
        ? String.fromCharCode(...f.bytes(f.int(30)))
        : f.mutate(good),
    );
    // Let the server keep up so every message gets its answer before the next batch.
    if (sent % 50 === 49) await new Promise((r) => setTimeout(r, 1));
  }
  // Everything sent is answered (frame, error or dropped) before the final, valid frame.
  ws.send(encodeFrame({ seq: 0xffffffff, format: "rgba", width: S, height: S, payload: crop }));
  const until = performance.now() + 10_000;
  while (lastFrameSeq !== 0xffffffff && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(lastFrameSeq, 0xffffffff, "the final valid frame was answered");
  assert.ok(replies >= sent * 0.9, `${replies} replies to ${sent} messages`);
  assert.equal(ws.readyState, WebSocket.OPEN);
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await closed;
  await edge.shutdown();
  await server.shutdown();
  await edge.dispose();
});
