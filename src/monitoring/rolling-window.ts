import { ValidationError } from '../core/validation-error.js';

/** Options for {@link RollingWindow}. */
export interface RollingWindowOptions {
  /** Length of the window, in ms. Default `60_000`. */
  windowMs?: number;
  /** Number of slots the window is cut into (its time resolution). Default `12`. */
  slots?: number;
  /** Upper bounds of the latency buckets, in seconds, increasing. Default the HTTP buckets of {@link HTTP_DURATION_BUCKETS_SECONDS}. */
  bucketsSeconds?: readonly number[];
}

/** What a {@link RollingWindow} saw over its window. */
export interface RollingWindowStats {
  /** Requests completed in the window. */
  readonly requests: number;
  /** Of which errors. */
  readonly errors: number;
  /** Requests per second over the window (or since start, when younger than the window). */
  readonly throughputPerSecond: number;
  /** `errors / requests`, `0` without requests. */
  readonly errorRate: number;
  /** Estimated 95th percentile latency in ms (bucket interpolation, like PromQL `histogram_quantile`); `0` without requests. */
  readonly p95LatencyMs: number;
  /** Estimated 99th percentile latency in ms; `0` without requests. */
  readonly p99LatencyMs: number;
}

/**
 * The OpenTelemetry-advised bucket bounds of `http.server.request.duration`, in seconds.
 *
 * @example
 * ```ts
 * new Histogram({ name: 'job_duration_seconds', help: '…', buckets: [...HTTP_DURATION_BUCKETS_SECONDS] });
 * ```
 */
export const HTTP_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/**
 * Request count, errors and a latency histogram over a sliding time window, kept in a fixed
 * ring of slots: constant memory, O(1) per record. Time comes from the caller.
 *
 * @example
 * ```ts
 * const window = new RollingWindow({ windowMs: 60_000 });
 * window.record(Date.now(), 0.042, false);
 * window.stats(Date.now()).p95LatencyMs;
 * ```
 */
export class RollingWindow {
  private readonly windowMs: number;
  private readonly slotMs: number;
  private readonly slots: number;
  private readonly bounds: readonly number[];
  private readonly slotEpoch: Float64Array;
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly buckets: Float64Array;
  private startedAt: number | undefined;

  /** @throws ValidationError naming the bad option. */
  constructor(options: RollingWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.slots = options.slots ?? 12;
    this.bounds = options.bucketsSeconds ?? HTTP_DURATION_BUCKETS_SECONDS;
    if (!Number.isFinite(this.windowMs) || this.windowMs <= 0) throw new ValidationError('windowMs', 'must be a positive number');
    if (!Number.isInteger(this.slots) || this.slots < 1 || this.slots > 3600) throw new ValidationError('slots', 'must be an integer between 1 and 3600');
    if (this.bounds.length === 0 || this.bounds.some((bound, i) => !(bound > 0) || (i > 0 && bound <= (this.bounds[i - 1] ?? 0)))) {
      throw new ValidationError('bucketsSeconds', 'must be positive, strictly increasing numbers');
    }
    this.slotMs = this.windowMs / this.slots;
    this.slotEpoch = new Float64Array(this.slots).fill(-1);
    this.counts = new Float64Array(this.slots);
    this.errors = new Float64Array(this.slots);
    this.buckets = new Float64Array(this.slots * (this.bounds.length + 1));
  }

  /** Adds one completed request that took `durationSeconds`, at `at` (epoch ms). */
  record(at: number, durationSeconds: number, isError: boolean): void {
    this.startedAt ??= at;
    const epoch = Math.floor(at / this.slotMs);
    const slot = epoch % this.slots;
    if (this.slotEpoch[slot] !== epoch) this.resetSlot(slot, epoch);
    this.counts[slot] = (this.counts[slot] ?? 0) + 1;
    if (isError) this.errors[slot] = (this.errors[slot] ?? 0) + 1;
    const width = this.bounds.length + 1;
    let bucket = 0;
    while (bucket < this.bounds.length && durationSeconds > (this.bounds[bucket] ?? Infinity)) bucket++;
    const index = slot * width + bucket;
    this.buckets[index] = (this.buckets[index] ?? 0) + 1;
  }

  /** Statistics over the window ending at `at` (epoch ms). */
  stats(at: number): RollingWindowStats {
    const current = Math.floor(at / this.slotMs);
    const width = this.bounds.length + 1;
    const merged = new Float64Array(width);
    let requests = 0;
    let errors = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      const epoch = this.slotEpoch[slot] ?? -1;
      if (epoch < 0 || epoch > current || current - epoch >= this.slots) continue;
      requests += this.counts[slot] ?? 0;
      errors += this.errors[slot] ?? 0;
      for (let b = 0; b < width; b++) merged[b] = (merged[b] ?? 0) + (this.buckets[slot * width + b] ?? 0);
    }
    const coveredMs = this.startedAt === undefined ? this.windowMs : Math.min(this.windowMs, Math.max(this.slotMs, at - this.startedAt));
    return {
      requests,
      errors,
      throughputPerSecond: requests / (coveredMs / 1000),
      errorRate: requests === 0 ? 0 : errors / requests,
      p95LatencyMs: this.quantile(merged, requests, 0.95) * 1000,
      p99LatencyMs: this.quantile(merged, requests, 0.99) * 1000,
    };
  }

  private quantile(merged: Float64Array, total: number, q: number): number {
    if (total === 0) return 0;
    const rank = q * total;
    let seen = 0;
    for (let b = 0; b < merged.length; b++) {
      const inBucket = merged[b] ?? 0;
      if (seen + inBucket >= rank && inBucket > 0) {
        // Past the last bound there is no upper edge: report the last bound, as histogram_quantile does.
        if (b >= this.bounds.length) return this.bounds[this.bounds.length - 1] ?? 0;
        const lower = b === 0 ? 0 : (this.bounds[b - 1] ?? 0);
        const upper = this.bounds[b] ?? lower;
        return lower + (upper - lower) * ((rank - seen) / inBucket);
      }
      seen += inBucket;
    }
    return this.bounds[this.bounds.length - 1] ?? 0;
  }

  private resetSlot(slot: number, epoch: number): void {
    this.slotEpoch[slot] = epoch;
    this.counts[slot] = 0;
    this.errors[slot] = 0;
    const width = this.bounds.length + 1;
    this.buckets.fill(0, slot * width, slot * width + width);
  }
}
