/**
 * The part of a prom-client `Registry` the email block needs: `registerMetric`. Typed
 * structurally so this block never imports prom-client (only `monitoring/` does); pass
 * `performanceMonitor.registry` or any prom-client `Registry`.
 *
 * @example
 * ```ts
 * const email = new EnhancedEmailService({ providers, defaultFrom, metricsRegistry: performanceMonitor.registry });
 * ```
 */
export interface MetricsRegistry {
  /** prom-client's `Registry.registerMetric`. */
  registerMetric(metric: never): void;
}

/** A metric object as prom-client's registry reads it at scrape time. */
interface Collector {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: CollectedValue[] }>;
  reset(): void;
}

interface CollectedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Buckets of `email_send_duration_seconds`, in seconds: local SMTP relays answer in ms, HTTP
 * APIs in tens to hundreds of ms.
 *
 * @example
 * ```ts
 * EMAIL_DURATION_BUCKETS_SECONDS.at(-1); // 30
 * ```
 */
export const EMAIL_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
/** Rate-limit delays in seconds: from a second to a day. */
const DELAY_BUCKETS_SECONDS: readonly number[] = [1, 10, 60, 300, 900, 3600, 14_400, 86_400];

class CounterSeries implements Collector {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  inc(labelValues: readonly string[], by = 1): void {
    const key = labelValues.join('\u0000');
    const found = this.series.get(key);
    if (found !== undefined) found.value += by;
    else this.series.set(key, { labels: labelsOf(this.labelNames, labelValues), value: by });
  }

  get(): ReturnType<Collector['get']> {
    const values = [...this.series.values()].map((entry) => ({ labels: { ...entry.labels }, value: entry.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.series.clear();
  }
}

class HistogramSeries implements Collector {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {}

  observe(labelValues: readonly string[], seconds: number): void {
    const key = labelValues.join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { labels: labelsOf(this.labelNames, labelValues), counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    // Non-cumulative here; made cumulative at scrape time.
    const index = this.buckets.findIndex((bound) => seconds <= bound);
    if (index !== -1) entry.counts[index] = (entry.counts[index] ?? 0) + 1;
    entry.sum += seconds;
    entry.count++;
  }

  get(): ReturnType<Collector['get']> {
    const values: CollectedValue[] = [];
    for (const entry of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += entry.counts[index] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...entry.labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...entry.labels, le: '+Inf' }, value: entry.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...entry.labels }, value: entry.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...entry.labels }, value: entry.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.series.clear();
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, index) => {
    labels[name] = values[index] ?? '';
  });
  return labels;
}

const shared = new WeakMap<object, EmailMetrics>();

/**
 * Prometheus metrics of the email block, counted in plain numbers per message and handed to the
 * registry only when it is scraped:
 *
 * - `email_messages_sent_total{provider,template}` and `email_messages_failed_total{provider,template}`
 * - `email_provider_failures_total{provider,failure}` (each failed attempt; `failure` is `transient` or `permanent`)
 * - `email_send_duration_seconds{provider}` (histogram of provider calls; a batch request counts once)
 * - `email_delivery_events_total{event,source}` (delivered, bounced, opened, clicked, complained, unsubscribed)
 * - `email_suppressed_recipients_total{template}` (recipients skipped because they are suppressed)
 * - `email_rate_limit_delay_seconds{scope}` (histogram of the delay a cap imposed; `scope` is `sender` or `domain`)
 *
 * `template` is `none` for messages without one. One instance per registry: several services
 * given the same registry share the series.
 *
 * @example
 * ```ts
 * const metrics = EmailMetrics.for(performanceMonitor.registry);
 * metrics.sent('smtp', 'welcome');
 * ```
 */
export class EmailMetrics {
  private readonly sentTotal = new CounterSeries('email_messages_sent_total', 'Email messages accepted by a provider, by provider and template', ['provider', 'template']);
  private readonly failedTotal = new CounterSeries('email_messages_failed_total', 'Email messages no provider accepted, by the last provider tried and template', ['provider', 'template']);
  private readonly providerFailures = new CounterSeries('email_provider_failures_total', 'Failed provider attempts, by provider and failure class', ['provider', 'failure']);
  private readonly duration = new HistogramSeries('email_send_duration_seconds', 'Duration of provider send calls, by provider', ['provider'], EMAIL_DURATION_BUCKETS_SECONDS);
  private readonly events = new CounterSeries('email_delivery_events_total', 'Delivery events from webhooks and tracking, by event and source', ['event', 'source']);
  private readonly suppressedTotal = new CounterSeries('email_suppressed_recipients_total', 'Recipients skipped because they are on the suppression list, by template', ['template']);
  private readonly delays = new HistogramSeries('email_rate_limit_delay_seconds', 'Delays imposed by sending caps, by scope', ['scope'], DELAY_BUCKETS_SECONDS);

  private constructor(registry: MetricsRegistry) {
    const register = registry.registerMetric.bind(registry) as unknown as (metric: Collector) => void;
    for (const metric of [this.sentTotal, this.failedTotal, this.providerFailures, this.duration, this.events, this.suppressedTotal, this.delays]) register(metric);
  }

  /** The metrics registered on `registry` (registered on first call). */
  static for(registry: MetricsRegistry): EmailMetrics {
    let metrics = shared.get(registry);
    if (metrics === undefined) {
      metrics = new EmailMetrics(registry);
      shared.set(registry, metrics);
    }
    return metrics;
  }

  /** Counts messages a provider accepted. */
  sent(provider: string, template: string | undefined, count = 1): void {
    this.sentTotal.inc([provider, template ?? 'none'], count);
  }

  /** Counts messages no provider accepted. */
  failed(provider: string, template: string | undefined, count = 1): void {
    this.failedTotal.inc([provider, template ?? 'none'], count);
  }

  /** Counts one failed provider attempt. */
  providerFailure(provider: string, failure: 'transient' | 'permanent'): void {
    this.providerFailures.inc([provider, failure]);
  }

  /** Observes one provider call. */
  sendDuration(provider: string, ms: number): void {
    this.duration.observe([provider], ms / 1000);
  }

  /** Counts one applied delivery event. */
  event(event: string, source: string): void {
    this.events.inc([event, source]);
  }

  /** Counts suppressed recipients. */
  suppressed(template: string | undefined, count = 1): void {
    if (count > 0) this.suppressedTotal.inc([template ?? 'none'], count);
  }

  /** Observes a delay imposed by a cap (`key` is the limiter key, e.g. `domain:example.com`). */
  rateLimited(key: string, retryAfterMs: number): void {
    const cut = key.indexOf(':');
    this.delays.observe([cut === -1 ? key : key.slice(0, cut)], retryAfterMs / 1000);
  }
}
