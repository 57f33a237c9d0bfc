// The live stream over a real loopback WebSocket: results in seq order, latest frame wins (with a
// "dropped" message per superseded or stale frame), malformed frames answered and survived, a
// client leaving mid-inference, held-back sends under backpressure, and shutdown closing with 1001.

import assert from "node:assert/strict";
import { createEdgeServer, type EdgeOptions } from "../../src/server/app.ts";
import { decodeFrame, encodeFrame, type Frame } from "../../src/server/frames.ts";
import { encodePng } from "../../src/media/codec.ts";
import { buildTestEffect, StubBackend, testCrop } from "./fixture.ts";

const fx = await buildTestEffect({ id: "live" });
const S = fx.config.inputSize;

type Message = { text: Record<string, unknown> } | { frame: Frame };

class Client {
  readonly messages: Message[] = [];
  #waiters: (() => void)[] = [];
  closed: Promise<CloseEvent>;

  constructor(readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      this.messages.push(
        typeof e.data === "string"
          ? { text: JSON.parse(e.data) }
          : { frame: decodeFrame(new Uint8Array(e.data)) },
      );
      for (const w of this.#waiters.splice(0)) w();
    };
    this.closed = new Promise((r) => ws.addEventListener("close", r as (e: Event) => void));
  }

  /** Waits until `count` messages satisfy `pred` (bounded by a timeout). */
  async until(pred: (m: Message) => boolean, count = 1, timeoutMs = 5000): Promise<Message[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.messages.filter(pred).length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.messages.map(show))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.messages.filter(pred);
  }

  send(seq: number, options: Partial<Frame> = {}) {
    this.ws.send(encodeFrame({
      seq,
      format: "rgba",
      width: S,
      height: S,
      payload: testCrop(S, seq),
      ...options,
    }));
  }
}

const show = (m: Message) => "text" in m ? m.text : { frame: m.frame.seq };
const isFrame = (m: Message) => "frame" in m;
const isText = (type: string) => (m: Message) => "text" in m && m.text.type === type;

async function serve(options: Partial<EdgeOptions> = {}, backend = new StubBackend(40)) {
  const edge = await createEdgeServer({ weightsDir: fx.dir, backend, log: () => {}, ...options });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, edge.app.fetch);
  const connect = async (id = fx.id) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/api/effects/${id}/stream`);
    const client = new Client(ws);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    await client.until(isText("hello"));
    return client;
  };
  const stop = async (...clients: Client[]) => {
    for (const c of clients) if (c.ws.readyState <= WebSocket.OPEN) c.ws.close();
    await Promise.all(clients.map((c) => c.closed));
    await edge.shutdown();
    await server.shutdown();
    await edge.dispose();
  };
  return { edge, server, backend, connect, stop };
}

Deno.test("hello, then one result per frame in seq order, pixels intact (identity backend)", async () => {
  const s = await serve();
  const c = await s.connect();
  assert.deepEqual((c.messages[0] as { text: unknown }).text, {
    type: "hello",
    effect: "live",
    version: "0.1.0",
    inputSize: S,
    formats: ["rgba", "rgb", "png", "jpeg"],
  });
  // Paced sends: each frame finishes before the next arrives, so none is dropped.
  for (let seq = 1; seq <= 4; seq++) {
    c.send(seq);
    await c.until(isFrame, seq);
  }
  const frames = c.messages.filter(isFrame).map((m) => (m as { frame: Frame }).frame);
  assert.deepEqual(frames.map((f) => f.seq), [1, 2, 3, 4]);
  for (const f of frames) {
    assert.equal(f.format, "rgba");
    assert.equal(f.width, S);
    assert.deepEqual(f.payload, testCrop(S, f.seq));
  }
  // PNG frames come back as PNG.
  c.send(5, {
    format: "png",
    width: 0,
    height: 0,
    payload: encodePng({ width: S, height: S, data: testCrop(S, 5) }),
  });
  const [, , , , png] = await c.until(isFrame, 5);
  assert.equal((png as { frame: Frame }).frame.format, "png");
  await s.stop(c);
});

Deno.test("latest frame wins: a burst keeps the first and the last, the rest are superseded", async () => {
  const s = await serve({}, new StubBackend(250));
  const c = await s.connect();
  for (let seq = 1; seq <= 10; seq++) c.send(seq);
  await c.until(isFrame, 2);
  await c.until(isText("dropped"), 8);
  const results = c.messages.filter(isFrame).map((m) => (m as { frame: Frame }).frame.seq);
  assert.deepEqual(results, [1, 10]);
  const dropped = c.messages.filter(isText("dropped")).map((m) =>
    (m as { text: { seq: number; reason: string } }).text
  );
  assert.deepEqual(dropped.map((d) => d.seq), [2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(dropped.every((d) => d.reason === "superseded"));
  // A frame older than one already accepted is stale.
  c.send(7);
  const [stale] = await c.until((m) =>
    isText("dropped")(m) && (m as { text: { reason: string } }).text.reason === "stale"
  );
  assert.equal((stale as { text: { seq: number } }).text.seq, 7);
  const metrics = await (await s.edge.app.request("/metrics")).text();
  assert.match(metrics, /stream_frames_dropped_total\{reason="superseded"\} 8/);
  assert.match(metrics, /stream_frames_dropped_total\{reason="stale"\} 1/);
  await s.stop(c);
});

Deno.test("malformed frames get an error message and the stream carries on", async () => {
  const s = await serve({ stream: { maxFrameBytes: 200_000 } });
  const c = await s.connect();
  const bad: (string | Uint8Array)[] = [
    new Uint8Array([1, 2, 3]),
    "not a frame",
    encodeFrame({ seq: 1, format: "rgba", width: S, height: S, payload: new Uint8Array(10) })
      .subarray(0, 20),
    new Uint8Array(300_000),
  ];
  for (const m of bad) c.ws.send(m);
  await c.until(isText("error"), bad.length);
  // Frames that parse but are wrong: wrong size, wrong channel count, undecodable PNG.
  c.send(2, { width: 64, height: 64, payload: testCrop(64) });
  c.send(3, { payload: new Uint8Array(S * S * 3) }); // rgba header, rgb bytes
  c.send(4, {
    format: "png",
    payload: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0]),
  });
  const errors = await c.until(isText("error"), bad.length + 3);
  const codes = errors.map((m) => (m as { text: { code: string; seq: number | null } }).text);
  assert.deepEqual(codes.map((e) => e.code), [
    "bad_frame",
    "bad_frame",
    "bad_frame",
    "payload_too_large",
    "wrong_size",
    "wrong_channels",
    "undecodable_image",
  ]);
  assert.deepEqual(codes.slice(4).map((e) => e.seq), [2, 3, 4]);
  c.ws.send('{"type":"ping"}');
  await c.until(isText("pong"));
  c.send(5);
  const [result] = await c.until(isFrame);
  assert.equal((result as { frame: Frame }).frame.seq, 5);
  await s.stop(c);
});

Deno.test("a client leaving mid-inference frees its place; the server and others carry on", async () => {
  const s = await serve({}, new StubBackend(150));
  const leaver = await s.connect();
  const stayer = await s.connect();
  leaver.send(1);
  leaver.send(2); // pending behind 1
  await new Promise((r) => setTimeout(r, 30));
  leaver.ws.close();
  await leaver.closed;
  stayer.send(1);
  const [result] = await stayer.until(isFrame);
  assert.equal((result as { frame: Frame }).frame.seq, 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.edge.streams.size, 1);
  assert.equal(s.edge.batcher.depth, 0);
  const health = await (await s.edge.app.request("/healthz")).json();
  assert.equal(health.streams, 1);
  // The leaver's pending frame 2 never ran: batches were its 1 and the stayer's 1.
  assert.ok(s.backend.batches.reduce((a, b) => a + b, 0) <= 2);
  await s.stop(stayer);
});

Deno.test("results wait for the socket to drain and are dropped when it does not (backpressure)", async () => {
  // A high-water mark below zero means "always full": every result times out waiting.
  const s = await serve({ stream: { highWaterBytes: -1, sendTimeoutMs: 30 } }, new StubBackend(0));
  const c = await s.connect();
  c.send(1);
  const [d] = await c.until(isText("dropped"));
  assert.deepEqual((d as { text: unknown }).text, {
    type: "dropped",
    seq: 1,
    reason: "backpressure",
  });
  assert.equal(c.messages.filter(isFrame).length, 0);
  await s.stop(c);
});

Deno.test("frames over the client's rate are dropped as rate_limited", async () => {
  const s = await serve({ rateLimit: { ratePerSec: 0.001, burst: 2 } }, new StubBackend(0));
  // Frames have a bucket of their own (the upgrade request spent from the HTTP one).
  const c = await s.connect();
  c.send(1);
  await c.until(isFrame);
  c.send(2);
  await c.until(isFrame, 2);
  c.send(3);
  const [d] = await c.until(isText("dropped"));
  assert.deepEqual((d as { text: unknown }).text, {
    type: "dropped",
    seq: 3,
    reason: "rate_limited",
  });
  await s.stop(c);
});

Deno.test("shutdown closes open streams with 1001 and refuses new ones", async () => {
  const s = await serve();
  const c = await s.connect();
  await s.edge.shutdown();
  const closed = await c.closed;
  assert.equal(closed.code, 1001);
  const res = await s.edge.app.request("/api/effects/live/stream", {
    headers: { upgrade: "websocket" },
  });
  assert.equal(res.status, 503);
  await res.body?.cancel();
  await s.server.shutdown();
  await s.edge.dispose();
});
