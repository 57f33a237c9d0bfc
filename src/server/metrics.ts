// A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4. Hand-rolled: prom-client drags in Node's cluster/perf_hooks for ~60 lines.

export type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(): string[];
}

/** Label values escaped per the exposition format: backslash, double quote and newline. */
const escapeLabel = (v: string) =>
  v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

const labelText = (labels: Labels, extra?: [string, string]) => {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
};

/** Prometheus renders +Inf/-Inf/NaN by name; everything else as a plain JS number. */
const num = (v: number) =>
  Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v);

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Series are keyed by their sorted label pairs, so label order at the call site does not matter. */
const seriesKey = (labels: Labels) => labelText(labels);

export class Counter implements Metric {
  readonly type = "counter";
  #series = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    const key = seriesKey(labels);
    const s = this.#series.get(key) ?? { labels: { ...labels }, value: 0 };
    s.value += by;
    this.#series.set(key, s);
  }

  get(labels: Labels = {}): number {
    return this.#series.get(seriesKey(labels))?.value ?? 0;
  }

  render(): string[] {
    return [...this.#series.values()].map((s) =>
      `${this.name}${labelText(s.labels)} ${num(s.value)}`
    );
  }
}

export class Gauge implements Metric {
  readonly type = "gauge";
  #series = new Map<string, { labels: Labels; value: number }>();
  /** A gauge may be computed at scrape time instead of being set (queue depth, RSS). */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: () => number,
  ) {}

  set(value: number, labels: Labels = {}): void {
    this.#series.set(seriesKey(labels), { labels: { ...labels }, value });
  }

  get(labels: Labels = {}): number {
    if (this.collect && Object.keys(labels).length === 0) return this.collect();
    return this.#series.get(seriesKey(labels))?.value ?? 0;
  }

  render(): string[] {
    if (this.collect) return [`${this.name} ${num(this.collect())}`];
    return [...this.#series.values()].map((s) =>
      `${this.name}${labelText(s.labels)} ${num(s.value)}`
    );
  }
}

export class Histogram implements Metric {
  readonly type = "histogram";
  readonly buckets: number[];
  #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, buckets: number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    if (this.buckets.some((b, i) => i > 0 && b === this.buckets[i - 1])) {
      throw new Error(`${name}: duplicate bucket bounds`);
    }
  }

  observe(value: number, labels: Labels = {}): void {
    const key = seriesKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    // Buckets are cumulative in the output; store per-bucket counts and sum them when rendering.
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Observation count and sum of one series (tests, healthz). */
  get(labels: Labels = {}): { count: number; sum: number } {
    const s = this.#series.get(seriesKey(labels));
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  render(): string[] {
    const lines: string[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i];
        lines.push(`${this.name}_bucket${labelText(s.labels, ["le", num(b)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  #metrics = new Map<string, Metric>();

  #add<M extends Metric>(metric: M): M {
    if (!NAME.test(metric.name)) throw new Error(`invalid metric name "${metric.name}"`);
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} already exists`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.#add(new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** The text exposition format; serve with CONTENT_TYPE. */
  render(): string {
    const out: string[] = [];
    for (const m of this.#metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${m.name} ${m.type}`);
      out.push(...m.render());
    }
    return out.join("\n") + "\n";
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The edge server's metrics, created together so every route and worker records into one place. */
export function serverMetrics(
  gauges: { queueDepth: () => number; inFlight: () => number; streams: () => number },
) {
  const registry = new Registry();
  return {
    registry,
    requests: registry.counter(
      "http_requests_total",
      "HTTP requests by route pattern, method and status.",
    ),
    requestSeconds: registry.histogram(
      "http_request_duration_seconds",
      "HTTP request handling time by route pattern.",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    inferenceSeconds: registry.histogram(
      "inference_batch_duration_seconds",
      "A batch's start to its result, by effect and backend (in-flight batches share the device).",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    queueWaitSeconds: registry.histogram(
      "inference_queue_wait_seconds",
      "Time a crop waited in the batching queue before its batch started.",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
    batchSize: registry.histogram(
      "inference_batch_size",
      "Crops per executed batch, by effect.",
      [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
    ),
    rejected: registry.counter(
      "inference_rejected_total",
      "Crops refused or abandoned before a result: overload, timeout, cancelled.",
    ),
    droppedFrames: registry.counter(
      "stream_frames_dropped_total",
      "WebSocket frames dropped, by reason (superseded, stale, backpressure, error).",
    ),
    queueDepth: registry.gauge(
      "inference_queue_depth",
      "Crops waiting for a batch.",
      gauges.queueDepth,
    ),
    inFlight: registry.gauge(
      "inference_batches_in_flight",
      "Batches submitted to the device or reading back.",
      gauges.inFlight,
    ),
    streams: registry.gauge("stream_connections", "Open WebSocket streams.", gauges.streams),
    rss: registry.gauge(
      "process_resident_memory_bytes",
      "Resident set size of the server process.",
      () => Deno.memoryUsage().rss,
    ),
  };
}

export type ServerMetrics = ReturnType<typeof serverMetrics>;
