import { Histogram, type HistogramConfiguration } from 'prom-client';

/** One label set of a {@link RequestDurationHistogram}: plain counters, updated without lookups. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds one observation of `value`. */
  observe(value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] ?? Infinity)) bucket++;
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** What prom-client's registry reads from a metric to print it. */
interface PromStringValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  metricName?: string;
}
interface PromStringData {
  name: string;
  help: string;
  type: string;
  values: PromStringValue[];
  aggregator: string;
}
type GetForPromString = () => Promise<PromStringData>;

/**
 * A prom-client `Histogram` whose hot path skips prom-client's per-call label hashing: callers
 * take a {@link HistogramSeries} once per label set and observe into it (a bucket scan and three
 * additions); the series are turned into samples when the registry is scraped. `observe()` and
 * `labels()` keep working as in prom-client, and both kinds of samples are exported together.
 *
 * @example
 * ```ts
 * const histogram = new RequestDurationHistogram({ name: 'http_server_request_duration_seconds', help: '…', labelNames: ['route'], buckets: [0.1, 1] });
 * const series = histogram.series({ route: '/users/:id' });
 * series.observe(0.042);
 * ```
 */
export class RequestDurationHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: readonly number[];
  private readonly allSeries: HistogramSeries[] = [];

  constructor(configuration: HistogramConfiguration<T> & { buckets: number[] }) {
    super(configuration);
    this.bounds = [...configuration.buckets];
  }

  /** A new series for `labels` (the caller keeps it; one call per label set). */
  series(labels: Readonly<Record<T, string>>): HistogramSeries {
    const series = new HistogramSeries(labels, this.bounds);
    this.allSeries.push(series);
    return series;
  }

  /** Clears prom-client's samples and every series. */
  override reset(): void {
    super.reset();
    // The base constructor calls reset() before this class's fields exist.
    if (this.allSeries === undefined) return;
    for (const series of this.allSeries) series.reset();
  }

  /** prom-client's registry prints from this (and `get()` goes through it). */
  async getForPromString(): Promise<PromStringData> {
    const base = (Histogram.prototype as unknown as { getForPromString: GetForPromString }).getForPromString;
    const data = await base.call(this);
    const bucketName = `${data.name}_bucket`;
    for (const series of this.allSeries) {
      if (series.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i] ?? 0;
        data.values.push({ labels: { le: bound }, sharedLabels: series.labels, value: cumulative, metricName: bucketName });
      });
      data.values.push(
        { labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: bucketName },
        { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${data.name}_sum` },
        { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${data.name}_count` },
      );
    }
    return data;
  }
}
