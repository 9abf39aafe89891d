/**
 * Hot-path metrics: plain numbers updated per call (a map lookup and a few additions), exposed
 * through prom-client's registry at scrape time. prom-client's own Counter and Histogram hash
 * their labels on every update, which costs more than the rest of a call's telemetry together.
 */

import type { Registry } from "prom-client";

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

/** A counter with labels; `series(labels)` once, then `inc()` on the result. */
export class FastCounter {
  readonly #series = new Map<string, Series>();

  readonly name: string;
  readonly help: string;
  readonly type = "counter";

  constructor(registry: Registry, name: string, help: string) {
    this.name = name;
    this.help = help;
    registry.registerMetric(this as never);
  }

  /** The series for `labels` (created at zero). */
  series(labels: Labels): Series {
    const key = Object.values(labels).join("\0");
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels, value: 0 }));
    return s;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Labels; value: number }> } {
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values: [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }

  reset(): void {}
}

/** One histogram series. */
export class HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  readonly #buckets: readonly number[];
  sum = 0;
  count = 0;

  constructor(labels: Labels, buckets: readonly number[]) {
    this.labels = labels;
    this.#buckets = buckets;
    this.counts = new Float64Array(buckets.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const b = this.#buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/** A histogram with labels, cumulative buckets at scrape time. */
export class FastHistogram {
  readonly #series = new Map<string, HistogramSeries>();
  readonly type = "histogram";
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];

  constructor(registry: Registry, name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
    registry.registerMetric(this as never);
  }

  series(labels: Labels): HistogramSeries {
    const key = Object.values(labels).join("\0");
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = new HistogramSeries(labels, this.buckets)));
    return s;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Labels; value: number; metricName: string }> } {
    const values: Array<{ labels: Labels; value: number; metricName: string }> = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...s.labels, le: String(le) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values };
  }

  reset(): void {}
}
