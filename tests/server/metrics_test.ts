// The Prometheus text writer: HELP/TYPE lines, label escaping and ordering, cumulative histogram
// buckets with +Inf, _sum and _count, computed gauges, and refusal of bad names and decrements.

import assert from "node:assert/strict";
import { Registry } from "../../src/server/metrics.ts";

Deno.test("counters, gauges and histograms render in the exposition format", () => {
  const r = new Registry();
  const c = r.counter("reqs_total", "Requests.\nSecond line.");
  c.inc({ status: "200", route: "/a" });
  c.inc({ route: "/a", status: "200" }, 2); // label order does not make a new series
  c.inc({ route: 'we"ird\\path\n', status: "500" });
  let depth = 3;
  r.gauge("depth", "Queue depth.", () => depth);
  const g = r.gauge("temp", "Set gauge.");
  g.set(-1.5, { zone: "x" });
  const h = r.histogram("lat_seconds", "Latency.", [0.1, 0.5, 1]);
  for (const v of [0.05, 0.1, 0.3, 0.7, 2]) h.observe(v, { op: "run" });
  depth = 4;
  assert.equal(
    r.render(),
    [
      "# HELP reqs_total Requests.\\nSecond line.",
      "# TYPE reqs_total counter",
      'reqs_total{route="/a",status="200"} 3',
      'reqs_total{route="we\\"ird\\\\path\\n",status="500"} 1',
      "# HELP depth Queue depth.",
      "# TYPE depth gauge",
      "depth 4",
      "# HELP temp Set gauge.",
      "# TYPE temp gauge",
      'temp{zone="x"} -1.5',
      "# HELP lat_seconds Latency.",
      "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{op="run",le="0.1"} 2',
      'lat_seconds_bucket{op="run",le="0.5"} 3',
      'lat_seconds_bucket{op="run",le="1"} 4',
      'lat_seconds_bucket{op="run",le="+Inf"} 5',
      'lat_seconds_sum{op="run"} 3.15',
      'lat_seconds_count{op="run"} 5',
      "",
    ].join("\n"),
  );
  assert.equal(c.get({ status: "200", route: "/a" }), 3);
  assert.deepEqual(h.get({ op: "run" }), { count: 5, sum: 3.15 });
});

Deno.test("bad metric names, duplicates and counter decrements are refused", () => {
  const r = new Registry();
  assert.throws(() => r.counter("1bad", "x"), /invalid metric name/);
  assert.throws(() => r.counter("has-dash", "x"), /invalid metric name/);
  r.counter("ok", "x");
  assert.throws(() => r.gauge("ok", "x"), /already exists/);
  assert.throws(() => r.counter("neg", "x").inc({}, -1), /only goes up/);
  assert.throws(() => r.histogram("h", "x", [1, 1]), /duplicate/);
});
