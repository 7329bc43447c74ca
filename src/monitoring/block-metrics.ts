import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';

/**
 * One finished job attempt, as the queue reports it (structurally the queue's `JobFinishedInfo`;
 * monitoring does not import the queue).
 */
export interface JobFinishedSample {
  queue: string;
  type: string;
  /** `retrying`: failed, another attempt follows; `dead`: failed for good. */
  outcome: 'completed' | 'retrying' | 'dead';
  /** Processor time in ms. */
  durationMs: number;
  /** Time from due to start in ms. */
  waitMs: number;
}

/** What {@link BlockMetrics.queue} implements: the queue's `metrics` hook. */
export interface QueueMetricsHook {
  /** Called once per processing attempt. */
  onJobFinished(info: JobFinishedSample): void;
}

/** A served prompt, as the prompt optimizer reports it. */
export interface PromptSample {
  template: string;
  arm: string;
  experiment?: string;
}

/** What {@link BlockMetrics.prompts} implements: the prompt optimizer's `metrics` hook. */
export interface PromptMetricsHook {
  /** Called each time a prompt is served. */
  onPromptServed(info: PromptSample): void;
  /** Called each time an outcome is recorded for a served prompt. */
  onOutcomeRecorded(info: PromptSample & { quality?: number; success?: boolean; latencyMs?: number; tokens?: number; costUsd?: number }): void;
}

/**
 * Anything whose state can be read at scrape time: a `MessageQueue` fits (its `getStats()`).
 * Counts are by state (`waiting`, `active`, `delayed`, `completed`, `failed`).
 */
export interface QueueStatsSource {
  /** The queue's name, its jobs per state and the age of its oldest waiting job (ms). */
  getStats(): Promise<{ name: string; counts: QueueStateCounts; oldestWaitingAgeMs: number }>;
}

/** Jobs per state, as a queue's `getStats().counts` gives them. */
export interface QueueStateCounts {
  readonly waiting?: number;
  readonly active?: number;
  readonly delayed?: number;
  readonly completed?: number;
  readonly failed?: number;
}

/** Buckets of `queue_job_duration_seconds` and `queue_job_wait_seconds` (seconds). */
export const QUEUE_DURATION_BUCKETS_SECONDS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Buckets of `prompt_quality` (0–1). */
const QUALITY_BUCKETS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

/** How long a scrape waits for one queue's statistics before reporting it stale. */
const STATS_TIMEOUT_MS = 2_000;

/**
 * Prometheus series for the queue and prompt blocks, in one registry, so `/metrics` shows HTTP,
 * runtime, queue, email and prompt series together. The blocks expose hooks without importing
 * prom-client; this class implements them. There is one instance per registry
 * ({@link BlockMetrics.for}), shared by every queue and optimizer reporting to it.
 *
 * Series: `queue_jobs_finished_total{queue,type,outcome}`, `queue_job_duration_seconds{queue,type}`,
 * `queue_job_wait_seconds{queue,type}`, `queue_jobs{queue,state}` and
 * `queue_oldest_waiting_age_seconds{queue}` (read at scrape time from watched queues),
 * `prompt_served_total{template,arm}`, `prompt_outcomes_total{template,arm,success}`,
 * `prompt_quality{template,arm}`.
 *
 * With a {@link PerformanceMonitor}, use its registry — `BlockMetrics.for(performanceMonitor.registry)` —
 * so one `/metrics` serves everything.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { BlockMetrics } from '@ux-flow/common/monitoring';
 * import { MessageQueue } from '@ux-flow/common/queue';
 *
 * const metrics = BlockMetrics.for(new Registry());
 * const queue = new MessageQueue({ name: 'jobs', metrics: metrics.queue });
 * metrics.watchQueue(queue);
 * ```
 */
export class BlockMetrics {
  private static readonly byRegistry = new WeakMap<Registry, BlockMetrics>();
  private readonly registry: Registry;
  private readonly logger: Logger | undefined;
  private queueHook: QueueMetricsHook | undefined;
  private promptHook: PromptMetricsHook | undefined;
  private readonly watched = new Set<QueueStatsSource>();
  private gaugesRegistered = false;

  private constructor(registry: Registry, logger: Logger | undefined) {
    this.registry = registry;
    this.logger = logger;
  }

  /**
   * The instance of `registry` (made on first call; series are registered on first use of each
   * hook).
   *
   * @param logger - told when a watched queue's statistics cannot be read at scrape time; only
   * the first call's logger is kept. Default none.
   */
  static for(registry: Registry, logger?: Logger): BlockMetrics {
    let metrics = BlockMetrics.byRegistry.get(registry);
    if (metrics === undefined) {
      metrics = new BlockMetrics(registry, logger);
      BlockMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  /** The queue's `metrics` hook: finished attempts by outcome, processor time and wait time. */
  get queue(): QueueMetricsHook {
    if (this.queueHook !== undefined) return this.queueHook;
    const finished = this.counter('queue_jobs_finished_total', 'Job attempts finished, by outcome (completed, retrying, dead).', ['queue', 'type', 'outcome']);
    const duration = this.histogram('queue_job_duration_seconds', 'Processor time per job attempt, in seconds.', ['queue', 'type'], QUEUE_DURATION_BUCKETS_SECONDS);
    const wait = this.histogram('queue_job_wait_seconds', 'Time from a job being due to its attempt starting, in seconds.', ['queue', 'type'], QUEUE_DURATION_BUCKETS_SECONDS);
    this.queueHook = {
      onJobFinished({ queue, type, outcome, durationMs, waitMs }) {
        finished.inc({ queue, type, outcome });
        duration.observe({ queue, type }, durationMs / 1000);
        wait.observe({ queue, type }, Math.max(0, waitMs) / 1000);
      },
    };
    return this.queueHook;
  }

  /** The prompt optimizer's `metrics` hook: prompts served, outcomes and quality by template and arm. */
  get prompts(): PromptMetricsHook {
    if (this.promptHook !== undefined) return this.promptHook;
    const served = this.counter('prompt_served_total', 'Prompts served, by template and arm.', ['template', 'arm']);
    const outcomes = this.counter('prompt_outcomes_total', 'Prompt outcomes recorded, by template, arm and success (true, false, unknown).', ['template', 'arm', 'success']);
    const quality = this.histogram('prompt_quality', 'Quality score (0-1) of recorded prompt outcomes.', ['template', 'arm'], QUALITY_BUCKETS);
    this.promptHook = {
      onPromptServed({ template, arm }) {
        served.inc({ template, arm });
      },
      onOutcomeRecorded(info) {
        outcomes.inc({ template: info.template, arm: info.arm, success: info.success === undefined ? 'unknown' : String(info.success) });
        if (info.quality !== undefined) quality.observe({ template: info.template, arm: info.arm }, info.quality);
      },
    };
    return this.promptHook;
  }

  /**
   * Reports `queue_jobs{queue,state}` and `queue_oldest_waiting_age_seconds{queue}` for `queue`,
   * read with `getStats()` at each scrape (one Redis script per queue and scrape; a queue that
   * does not answer within 2 s keeps its last values and is logged). Returns a function that
   * stops watching.
   */
  watchQueue(queue: QueueStatsSource): () => void {
    this.watched.add(queue);
    this.registerGauges();
    return () => void this.watched.delete(queue);
  }

  private registerGauges(): void {
    if (this.gaugesRegistered) return;
    this.gaugesRegistered = true;
    const states = new Map<string, QueueStateCounts>();
    const ages = new Map<string, number>();
    const refresh = async (): Promise<void> => {
      await Promise.all(
        [...this.watched].map(async (queue) => {
          try {
            const stats = await withTimeout(queue.getStats(), STATS_TIMEOUT_MS);
            states.set(stats.name, stats.counts);
            ages.set(stats.name, stats.oldestWaitingAgeMs / 1000);
          } catch (error) {
            this.logger?.warn({ err: error }, 'queue statistics unavailable for /metrics; keeping the last values');
          }
        }),
      );
    };
    // prom-client collects all metrics of a scrape concurrently: both gauges await one refresh.
    let inFlight: Promise<void> | undefined;
    const refreshOnce = (): Promise<void> => (inFlight ??= refresh().finally(() => (inFlight = undefined)));
    this.gauge('queue_jobs', 'Jobs in the queue by state, read at scrape time.', ['queue', 'state'], async function collect(this: Gauge) {
      await refreshOnce();
      for (const [queue, counts] of states) {
        for (const [state, count] of Object.entries(counts) as [string, number | undefined][]) if (count !== undefined) this.set({ queue, state }, count);
      }
    });
    this.gauge('queue_oldest_waiting_age_seconds', 'Age of the oldest job waiting to start, in seconds (0 when none wait).', ['queue'], async function collect(this: Gauge) {
      await refreshOnce();
      for (const [queue, age] of ages) this.set({ queue }, age);
    });
  }

  private counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: readonly string[], collect: (this: Gauge) => Promise<void>): void {
    new Gauge({ name, help, labelNames, registers: [this.registry], collect });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
