// Dynamic batching: crops from separate submits share a batch up to maxBatch, maxBatch 1 turns it
// off, the queue is bounded (all-or-nothing), deadlines and cancellation free their place, effects
// take turns by age, at most maxInFlight batches run at once, and close() drains.

import assert from "node:assert/strict";
import { Batcher, DEFAULT_BATCHER } from "../../src/server/batcher.ts";
import { type Effect, loadCatalog } from "../../src/server/effects.ts";
import { HttpError } from "../../src/server/errors.ts";
import { buildTestEffect, StubBackend, tempDir } from "./fixture.ts";

const dir = await tempDir();
await buildTestEffect({ dir, id: "one" });
await buildTestEffect({ dir, id: "two", seed: 2 });
const catalog = await loadCatalog(dir, () => {});
const one: Effect = catalog.effects.get("one")!;
const two: Effect = catalog.effects.get("two")!;
const CROP = 128 * 128 * 3;
const crop = (v: number) => new Float32Array(CROP).fill(v);

Deno.test("crops submitted together by different callers run as one batch, results in order", async () => {
  const backend = new StubBackend(0, (x) => x * 2);
  const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, maxWaitMs: 20 });
  const results = await Promise.all([1, 2, 3, 4, 5].map((v) => batcher.submit(one, [crop(v)])));
  assert.deepEqual(backend.batches, [5]);
  results.forEach(([out], i) => {
    assert.equal(out.length, CROP);
    assert.equal(out[0], (i + 1) * 2);
    assert.equal(out[CROP - 1], (i + 1) * 2);
  });
});

Deno.test("batches never exceed maxBatch, and maxBatch 1 serves one crop at a time", async () => {
  for (const maxBatch of [3, 1]) {
    const backend = new StubBackend(5);
    const batcher = new Batcher(backend, {
      ...DEFAULT_BATCHER,
      maxBatch,
      maxWaitMs: 10,
      maxInFlight: 1,
    });
    await Promise.all(Array.from({ length: 7 }, (_, i) => batcher.submit(one, [crop(i)])));
    assert.ok(backend.batches.every((n) => n <= maxBatch), `${backend.batches}`);
    assert.equal(backend.batches.reduce((a, b) => a + b, 0), 7);
    assert.equal(backend.maxConcurrent, 1, "one batch at a time");
    if (maxBatch === 3) assert.deepEqual(backend.batches, [3, 3, 1]);
  }
});

Deno.test("a second batch runs while the first is still out, never more than maxInFlight", async () => {
  for (const maxInFlight of [2, 3]) {
    const backend = new StubBackend(30, (x) => x + 1);
    const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, maxBatch: 1, maxInFlight });
    const submitted = [1, 2, 3, 4, 5].map((v) => batcher.submit(one, [crop(v)]));
    assert.equal(batcher.inFlight, maxInFlight);
    const results = await Promise.all(submitted);
    assert.deepEqual(results.map(([o]) => o[0]), [2, 3, 4, 5, 6]);
    assert.equal(backend.maxConcurrent, maxInFlight);
    assert.equal(batcher.inFlight, 0);
  }
  assert.throws(() => new Batcher(new StubBackend(), { ...DEFAULT_BATCHER, maxInFlight: 0 }));
});

Deno.test("a lone crop waits at most maxWaitMs for company", async () => {
  const backend = new StubBackend();
  const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, maxWaitMs: 30 });
  const t0 = performance.now();
  await batcher.submit(one, [crop(1)]);
  const waited = performance.now() - t0;
  assert.ok(waited >= 25 && waited < 500, `${waited} ms`);
});

Deno.test("the queue is bounded: a request that does not fit is refused whole with 503", async () => {
  const backend = new StubBackend(50);
  const batcher = new Batcher(backend, {
    ...DEFAULT_BATCHER,
    maxBatch: 1,
    maxQueue: 3,
    maxWaitMs: 0,
    maxInFlight: 1,
  });
  const first = batcher.submit(one, [crop(1)]);
  await new Promise((r) => setTimeout(r, 5)); // the first is running now, not waiting
  const fits = batcher.submit(one, [crop(2), crop(3)]);
  assert.equal(batcher.depth, 2);
  await assert.rejects(batcher.submit(one, [crop(4), crop(5)]), (e: HttpError) => {
    assert.equal(e.status, 503);
    assert.equal(e.code, "overloaded");
    assert.ok(Number(e.headers["retry-after"]) >= 1);
    return true;
  });
  assert.equal(batcher.depth, 2, "nothing of the refused request was queued");
  await Promise.all([first, fits]);
  assert.equal(batcher.depth, 0);
});

Deno.test("a deadline rejects with 503 timeout and frees the crop's place in the queue", async () => {
  const backend = new StubBackend(100);
  const batcher = new Batcher(backend, {
    ...DEFAULT_BATCHER,
    maxBatch: 1,
    maxWaitMs: 0,
    maxInFlight: 1,
  });
  const running = batcher.submit(one, [crop(1)]);
  await new Promise((r) => setTimeout(r, 5));
  await assert.rejects(
    batcher.submit(one, [crop(2)], { timeoutMs: 20 }),
    (e: HttpError) => e.code === "timeout",
  );
  await running;
  await new Promise((r) => setTimeout(r, 5));
  // The timed-out crop never ran.
  assert.deepEqual(backend.batches, [1]);
  assert.equal(batcher.depth, 0);
});

Deno.test("an aborted submit (client gone) is dropped before it runs", async () => {
  const backend = new StubBackend(50);
  const batcher = new Batcher(backend, {
    ...DEFAULT_BATCHER,
    maxBatch: 1,
    maxWaitMs: 0,
    maxInFlight: 1,
  });
  const running = batcher.submit(one, [crop(1)]);
  const abort = new AbortController();
  const gone = batcher.submit(one, [crop(2), crop(3)], { signal: abort.signal });
  abort.abort();
  await assert.rejects(gone, /cancelled/);
  await running;
  await batcher.close();
  assert.deepEqual(backend.batches, [1]);
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(batcher.submit(one, [crop(1)], { signal: aborted.signal }));
});

Deno.test("effects never share a batch, and take turns by the age of their oldest crop", async () => {
  const order: string[] = [];
  const backend = new StubBackend(10);
  const run = backend.run.bind(backend);
  backend.run = (effect, input) => {
    order.push(`${effect.id}x${input.shape[0]}`);
    return run(effect, input);
  };
  const batcher = new Batcher(backend, {
    ...DEFAULT_BATCHER,
    maxBatch: 2,
    maxWaitMs: 0,
    maxInFlight: 1,
  });
  const all = [
    batcher.submit(one, [crop(1)]), // runs alone at once
    batcher.submit(two, [crop(2)]),
    batcher.submit(one, [crop(3)]),
    batcher.submit(one, [crop(4)]),
    batcher.submit(two, [crop(5)]),
  ];
  await Promise.all(all);
  assert.deepEqual(order, ["onex1", "twox2", "onex2"]);
});

Deno.test("a failed batch rejects its crops; the next batch still runs", async () => {
  const backend = new StubBackend();
  const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, maxWaitMs: 0 });
  backend.fail = new Error("boom");
  const originalError = console.error;
  console.error = () => {};
  try {
    await assert.rejects(batcher.submit(one, [crop(1)]), /boom/);
  } finally {
    console.error = originalError;
  }
  backend.fail = undefined;
  const [out] = await batcher.submit(one, [crop(7)]);
  assert.equal(out[0], 7);
});

Deno.test("close() lets admitted crops finish and refuses new ones", async () => {
  const backend = new StubBackend(20);
  const batcher = new Batcher(backend, { ...DEFAULT_BATCHER, maxBatch: 2, maxWaitMs: 1000 });
  const admitted = [1, 2, 3].map((v) => batcher.submit(one, [crop(v)]));
  const closed = batcher.close();
  await assert.rejects(
    batcher.submit(one, [crop(9)]),
    (e: HttpError) => e.code === "shutting_down",
  );
  const results = await Promise.all(admitted);
  await closed;
  assert.deepEqual(results.map(([o]) => o[0]), [1, 2, 3]);
  assert.equal(batcher.depth, 0);
  assert.equal(batcher.inFlight, 0);
});
