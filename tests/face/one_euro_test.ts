// Tests for the One-Euro filter: a still input gives an exactly still output after settling, a
// step is followed with the lag its parameters imply, jitter is reduced, and edge cases behave.

import assert from "node:assert/strict";
import { gaussian, rng } from "../../src/graph/random.ts";
import { OneEuroFilter, smoothingFactor } from "../../src/face/one_euro.ts";

const FPS = 30, DT = 1000 / FPS;

Deno.test("first sample passes through; a still input settles to an exactly still output", () => {
  const f = new OneEuroFilter({ minCutoff: 1, beta: 0.05, dCutoff: 1 });
  const start = [10, -3.25, 100.5];
  assert.deepEqual(Array.from(f.filter(start, 0)), start);
  // Jump to a new still pose and hold it.
  const still = [12.5, -1, 96.125];
  let prev: Float64Array | undefined;
  let frozenSince = -1;
  for (let i = 1; i <= 600; i++) {
    const y = f.filter(still, i * DT);
    if (prev && y.every((v, k) => v === prev![k])) {
      if (frozenSince < 0) frozenSince = i;
    } else frozenSince = -1;
    prev = y;
  }
  assert.ok(frozenSince > 0 && frozenSince < 500, `output still changing (since ${frozenSince})`);
  prev!.forEach((v, k) =>
    assert.ok(Math.abs(v - still[k]) < 1e-9, `settled at ${v}, input ${still[k]}`)
  );
});

Deno.test("a step is followed monotonically, with lag bounded by the parameters", () => {
  const minCutoff = 2, beta = 0;
  const f = new OneEuroFilter({ minCutoff, beta, dCutoff: 1 });
  f.filter([0], 0);
  // With beta = 0 the filter is a one-pole low-pass at minCutoff: after n samples the remaining
  // error is exactly (1 − α)^n of the step.
  const a = smoothingFactor(minCutoff, DT / 1000);
  let last = 0;
  for (let n = 1; n <= 30; n++) {
    const y = f.filter([100], n * DT)[0];
    assert.ok(y > last && y <= 100, `not monotone at ${n}: ${y}`);
    assert.ok(Math.abs(100 - y - 100 * (1 - a) ** n) < 1e-9, `sample ${n}: ${y}`);
    last = y;
  }
  // Time constant 1/(2π·2 Hz) ≈ 80 ms: after 0.5 s less than 0.5% of the step remains.
  assert.ok(100 - last < 0.5, `lag too long: ${last}`);
});

Deno.test("beta speeds up fast motion (less lag on a ramp)", () => {
  const lag = (beta: number) => {
    const f = new OneEuroFilter({ minCutoff: 1, beta, dCutoff: 1 });
    let y = 0;
    for (let n = 0; n <= 30; n++) y = f.filter([n * 10], n * DT)[0]; // 300 px/s
    return 300 - y;
  };
  const slow = lag(0), fast = lag(0.05);
  assert.ok(fast < slow / 3, `beta 0.05 lag ${fast} vs beta 0 lag ${slow}`);
});

Deno.test("jitter on a still target is strongly reduced", () => {
  const r = rng(42);
  const f = new OneEuroFilter({ minCutoff: 1, beta: 0.01, dCutoff: 1 });
  let inVar = 0, outVar = 0, n = 0;
  for (let i = 0; i < 600; i++) {
    const x = 50 + gaussian(r);
    const y = f.filter([x], i * DT)[0];
    if (i >= 60) (inVar += (x - 50) ** 2), (outVar += (y - 50) ** 2), n++;
  }
  const ratio = Math.sqrt(outVar / inVar);
  assert.ok(ratio < 0.35, `jitter only reduced to ${(100 * ratio).toFixed(0)}%`);
});

Deno.test("repeated timestamps change nothing; a new length restarts; bad parameters throw", () => {
  const f = new OneEuroFilter({ minCutoff: 1, beta: 0, dCutoff: 1 });
  f.filter([0, 0], 0);
  const a = f.filter([10, 10], 33);
  assert.deepEqual(Array.from(f.filter([99, 99], 33)), Array.from(a));
  assert.deepEqual(Array.from(f.filter([99, 99], 20)), Array.from(a));
  assert.deepEqual(Array.from(f.filter([1, 2, 3], 40)), [1, 2, 3]);
  assert.equal(f.size, 3);
  f.reset();
  assert.equal(f.value, undefined);
  assert.throws(() => new OneEuroFilter({ minCutoff: 0, beta: 0, dCutoff: 1 }), RangeError);
  assert.throws(() => new OneEuroFilter({ minCutoff: 1, beta: -1, dCutoff: 1 }), RangeError);
  assert.throws(() => f.filter([1], NaN), RangeError);
});
