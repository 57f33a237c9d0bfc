// Range and ETag parsing for in-memory assets: single ranges, suffixes, clamping, what is ignored
// (several ranges, other units, reversed) and what is unsatisfiable (416).

import assert from "node:assert/strict";
import { etagMatches, parseRange } from "../../src/server/assets.ts";
import { HttpError } from "../../src/server/errors.ts";

Deno.test("parseRange: single byte ranges, suffixes and clamping", () => {
  assert.deepEqual(parseRange("bytes=0-0", 10), [0, 0]);
  assert.deepEqual(parseRange("bytes=2-5", 10), [2, 5]);
  assert.deepEqual(parseRange("bytes=2-", 10), [2, 9]);
  assert.deepEqual(parseRange("bytes=-3", 10), [7, 9]);
  assert.deepEqual(parseRange("bytes=-30", 10), [0, 9]);
  assert.deepEqual(parseRange("bytes=8-100", 10), [8, 9]);
  assert.deepEqual(parseRange(" bytes=1-2 ", 10), [1, 2]);
});

Deno.test("parseRange: ignored forms serve the whole body; unsatisfiable ones are 416", () => {
  for (
    const h of [
      null,
      "",
      "bytes=",
      "bytes=-",
      "bytes=1-2,4-5",
      "items=1-2",
      "bytes=5-2",
      "bytes=a-b",
      "bytes=1.5-2",
    ]
  ) {
    assert.equal(parseRange(h, 10), undefined, String(h));
  }
  for (const h of ["bytes=10-", "bytes=10-20", "bytes=-0", "bytes=99999999999999999999-"]) {
    assert.throws(
      () => parseRange(h, 10),
      (e: HttpError) => e.status === 416 && e.headers["content-range"] === "bytes */10",
      h,
    );
  }
  assert.throws(() => parseRange("bytes=-5", 0), (e: HttpError) => e.status === 416);
});

Deno.test("etagMatches: exact, weak, lists and the wildcard", () => {
  assert.ok(etagMatches('"abc"', '"abc"'));
  assert.ok(etagMatches('W/"abc"', '"abc"'));
  assert.ok(etagMatches('"x", "abc"', '"abc"'));
  assert.ok(etagMatches("*", '"abc"'));
  assert.ok(!etagMatches('"abcd"', '"abc"'));
  assert.ok(!etagMatches(null, '"abc"'));
  assert.ok(!etagMatches("abc", '"abc"'));
});
