// The per-client token bucket: bursts, refill over time, independent clients, bounded memory,
// and "off" meaning off.

import assert from "node:assert/strict";
import { TokenBuckets } from "../../src/server/middleware.ts";

Deno.test("a bucket allows its burst, then refills at its rate", () => {
  let now = 0;
  const b = new TokenBuckets({ ratePerSec: 2, burst: 3 }, () => now);
  assert.deepEqual([b.take("a"), b.take("a"), b.take("a")], [0, 0, 0]);
  assert.equal(b.take("a"), 0.5); // one token comes in 0.5 s
  assert.equal(b.take("b"), 0, "clients have their own buckets");
  now += 500;
  assert.equal(b.take("a"), 0);
  assert.ok(b.take("a") > 0);
  now += 60_000;
  // Refill caps at the burst.
  assert.deepEqual([b.take("a"), b.take("a"), b.take("a")], [0, 0, 0]);
  assert.ok(b.take("a") > 0);
});

Deno.test("rate 0 disables the limit; the client map stays bounded", () => {
  const off = new TokenBuckets({ ratePerSec: 0, burst: 1 });
  for (let i = 0; i < 100; i++) assert.equal(off.take("x"), 0);
  const b = new TokenBuckets({ ratePerSec: 1, burst: 1, maxClients: 3 }, () => 0);
  b.take("a");
  for (const k of ["b", "c", "d"]) b.take(k);
  // "a" was forgotten (least recently seen), so it starts again with a full bucket.
  assert.equal(b.take("a"), 0);
  // "d" is remembered: its bucket is empty.
  assert.ok(b.take("d") > 0);
});
