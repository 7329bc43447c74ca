import { CircuitOpenError } from './circuit-open-error.js';
import { type Clock, systemClock } from './clock.js';
import { createSilentLogger, type Logger } from './logger.js';
import { ValidationError } from './validation-error.js';

/** `closed`: calls flow. `open`: calls are refused. `half-open`: a few probe calls decide. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Emitted on every state change. */
export interface CircuitStateChange {
  name: string;
  from: CircuitState;
  to: CircuitState;
  /** Failure rate of the rolling window at the moment of the change (0..1). */
  failureRate: number;
  /** When the change happened (clock time, epoch ms). */
  at: number;
}

/** Reported to {@link CircuitBreakerOptions.onCall} for each call or refusal. */
export interface CircuitCallInfo {
  name: string;
  outcome: 'success' | 'failure' | 'rejected';
  state: CircuitState;
  /** Duration of the call in ms; absent for refusals. */
  durationMs?: number;
}

/** Options of {@link CircuitBreaker}; every field but `name` has a default. */
export interface CircuitBreakerOptions {
  /** Names the breaker in errors, events and metrics. */
  name: string;
  /** Failure share (0..1] of the rolling window that opens the circuit. Default `0.5`. */
  failureRateThreshold?: number;
  /** Calls the window must hold before the rate may open the circuit. Default `10`. */
  minimumThroughput?: number;
  /** Length of the rolling window in ms. Default `10_000`. */
  windowMs?: number;
  /** Buckets the window is split into (its resolution). Default `10`. */
  windowBuckets?: number;
  /** How long the circuit stays open before letting probes through, in ms. Default `30_000`. */
  openTimeoutMs?: number;
  /** Probe calls allowed at once while half-open; that many successes close it. Default `1`. */
  halfOpenProbes?: number;
  /** Which errors count as failures (e.g. not a 404). Default: every error. */
  isFailure?: (error: unknown) => boolean;
  /** Metric hook, called for each call outcome and refusal. */
  onCall?: (info: CircuitCallInfo) => void;
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Receives errors thrown by listeners and hooks. Default silent. */
  logger?: Logger;
}

/** A permission to make one call; report its outcome exactly once. */
export interface CircuitPermit {
  /** Report that the call succeeded. */
  success(): void;
  /** Report that the call failed; `error` goes through `isFailure`. */
  failure(error?: unknown): void;
}

/** A snapshot of the breaker for stats pages and `getStats()`. */
export interface CircuitSnapshot {
  name: string;
  state: CircuitState;
  /** Calls in the rolling window. */
  calls: number;
  failures: number;
  /** failures / calls, 0 when there are no calls. */
  failureRate: number;
  /** When an open circuit will let a probe through (epoch ms); absent unless open. */
  nextProbeAt?: number;
}

/** A `stateChange` listener of {@link CircuitBreaker}. */
export type CircuitStateListener = (change: CircuitStateChange) => void;

/**
 * A circuit breaker with a failure-rate threshold over a rolling window, minimum throughput,
 * an open timeout and limited half-open probes.
 *
 * It keeps no timers: the open → half-open step is taken lazily by the next caller once
 * `openTimeoutMs` has passed, so an idle breaker costs nothing and never holds the process open.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ name: 'smtp', failureRateThreshold: 0.5, openTimeoutMs: 30_000 });
 * breaker.on('stateChange', ({ from, to }) => logger.warn({ from, to }, 'smtp circuit'));
 * await breaker.execute(() => transport.sendMail(message)); // throws CircuitOpenError while open
 * ```
 */
export class CircuitBreaker {
  /** The breaker's name. */
  readonly name: string;
  private readonly threshold: number;
  private readonly minimumThroughput: number;
  private readonly bucketMs: number;
  private readonly openTimeoutMs: number;
  private readonly halfOpenProbes: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly onCall: ((info: CircuitCallInfo) => void) | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly listeners = new Set<CircuitStateListener>();

  /** Ring of buckets; each holds the index of the time slice it counts. */
  private readonly buckets: { slice: number; calls: number; failures: number }[];
  private current: CircuitState = 'closed';
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;

  constructor(options: CircuitBreakerOptions) {
    const resolved = {
      failureRateThreshold: 0.5,
      minimumThroughput: 10,
      windowMs: 10_000,
      windowBuckets: 10,
      openTimeoutMs: 30_000,
      halfOpenProbes: 1,
      ...options,
    } satisfies CircuitBreakerOptions;
    if (typeof resolved.name !== 'string' || resolved.name === '') throw new ValidationError('name', 'must be a non-empty string');
    const { failureRateThreshold: rate, minimumThroughput, windowMs, windowBuckets, openTimeoutMs, halfOpenProbes } = resolved;
    if (!(rate > 0 && rate <= 1)) throw new ValidationError('failureRateThreshold', `must be in (0, 1] (got ${rate})`);
    positiveInteger('minimumThroughput', minimumThroughput);
    positiveInteger('windowBuckets', windowBuckets);
    positiveInteger('halfOpenProbes', halfOpenProbes);
    if (!(Number.isFinite(windowMs) && windowMs >= windowBuckets)) {
      throw new ValidationError('windowMs', `must be a number >= windowBuckets (got ${windowMs})`);
    }
    if (!(Number.isFinite(openTimeoutMs) && openTimeoutMs >= 0)) {
      throw new ValidationError('openTimeoutMs', `must be a non-negative number (got ${openTimeoutMs})`);
    }
    this.name = resolved.name;
    this.threshold = rate;
    this.minimumThroughput = minimumThroughput;
    this.bucketMs = windowMs / windowBuckets;
    this.openTimeoutMs = openTimeoutMs;
    this.halfOpenProbes = halfOpenProbes;
    this.isFailure = resolved.isFailure ?? (() => true);
    this.onCall = resolved.onCall;
    this.clock = resolved.clock ?? systemClock;
    this.logger = resolved.logger ?? createSilentLogger();
    this.buckets = Array.from({ length: windowBuckets }, () => ({ slice: -1, calls: 0, failures: 0 }));
  }

  /** The current state (an open circuit whose timeout has passed reads as `half-open`). */
  get state(): CircuitState {
    this.advance();
    return this.current;
  }

  /** Listens for state changes. A throwing listener is logged, never rethrown. */
  on(event: 'stateChange', listener: CircuitStateListener): this {
    if (event === 'stateChange') this.listeners.add(listener);
    return this;
  }

  /** Removes a listener added with {@link CircuitBreaker.on}. */
  off(event: 'stateChange', listener: CircuitStateListener): this {
    if (event === 'stateChange') this.listeners.delete(listener);
    return this;
  }

  /**
   * Asks to make one call. Returns a permit, or `undefined` when the circuit refuses (open, or
   * half-open with all probe slots taken). For callers that only pull work while the circuit
   * allows it (a queue worker); {@link CircuitBreaker.execute} does the bookkeeping for you.
   */
  tryAcquire(): CircuitPermit | undefined {
    this.advance();
    if (this.current === 'open') {
      this.report({ outcome: 'rejected' });
      return undefined;
    }
    const probe = this.current === 'half-open';
    if (probe) {
      if (this.probesInFlight >= this.halfOpenProbes) {
        this.report({ outcome: 'rejected' });
        return undefined;
      }
      this.probesInFlight++;
    }
    const started = this.clock.monotonic();
    let settled = false;
    const settle = (failed: boolean): void => {
      if (settled) return;
      settled = true;
      const durationMs = this.clock.monotonic() - started;
      if (probe) this.probesInFlight--;
      this.record(failed, probe);
      this.report({ outcome: failed ? 'failure' : 'success', durationMs });
    };
    return {
      success: () => settle(false),
      failure: (error?: unknown) => settle(this.safeIsFailure(error)),
    };
  }

  /**
   * Runs `fn` through the breaker. Rejects with {@link CircuitOpenError} without calling `fn`
   * while the circuit refuses; otherwise returns or rethrows what `fn` does.
   */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    const permit = this.tryAcquire();
    if (permit === undefined) throw new CircuitOpenError(this.name, this.retryAfterMs());
    try {
      const value = await fn();
      permit.success();
      return value;
    } catch (error) {
      permit.failure(error);
      throw error;
    }
  }

  /** Milliseconds until an open circuit lets a probe through; 0 otherwise. */
  retryAfterMs(): number {
    this.advance();
    if (this.current !== 'open') return 0;
    return Math.max(0, this.openedAt + this.openTimeoutMs - this.clock.now());
  }

  /** Counts and state, for stats and health pages. */
  snapshot(): CircuitSnapshot {
    this.advance();
    const { calls, failures } = this.windowTotals();
    const snap: CircuitSnapshot = {
      name: this.name,
      state: this.current,
      calls,
      failures,
      failureRate: calls === 0 ? 0 : failures / calls,
    };
    if (this.current === 'open') snap.nextProbeAt = this.openedAt + this.openTimeoutMs;
    return snap;
  }

  /** Forces the circuit open now (e.g. a health check saw the dependency down). */
  open(): void {
    this.transition('open');
  }

  /** Forces the circuit closed and clears the window. */
  reset(): void {
    this.clearWindow();
    this.transition('closed');
  }

  private safeIsFailure(error: unknown): boolean {
    try {
      return this.isFailure(error);
    } catch (hookError) {
      this.logger.error({ err: hookError, breaker: this.name }, 'circuit breaker isFailure hook threw');
      return true;
    }
  }

  private record(failed: boolean, probe: boolean): void {
    if (this.current === 'half-open' && probe) {
      if (failed) {
        this.transition('open');
        return;
      }
      this.probeSuccesses++;
      if (this.probeSuccesses >= this.halfOpenProbes) {
        this.clearWindow();
        this.transition('closed');
      }
      return;
    }
    if (this.current !== 'closed') return; // a late result of a call made before the circuit opened
    const bucket = this.bucketFor(this.clock.now());
    bucket.calls++;
    if (failed) bucket.failures++;
    const { calls, failures } = this.windowTotals();
    if (failed && calls >= this.minimumThroughput && failures / calls >= this.threshold) this.transition('open');
  }

  private advance(): void {
    if (this.current === 'open' && this.clock.now() - this.openedAt >= this.openTimeoutMs) {
      this.transition('half-open');
    }
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    if (from === to && to !== 'open') return;
    const failureRate = this.snapshotRate();
    this.current = to;
    if (to === 'open') this.openedAt = this.clock.now();
    if (to === 'half-open') {
      this.probeSuccesses = 0;
      this.probesInFlight = 0;
    }
    if (from === to) return;
    const change: CircuitStateChange = { name: this.name, from, to, failureRate, at: this.clock.now() };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error({ err: error, breaker: this.name }, 'circuit breaker listener threw');
      }
    }
  }

  private report(info: Omit<CircuitCallInfo, 'name' | 'state'>): void {
    if (this.onCall === undefined) return;
    try {
      this.onCall({ name: this.name, state: this.current, ...info });
    } catch (error) {
      this.logger.error({ err: error, breaker: this.name }, 'circuit breaker onCall hook threw');
    }
  }

  private bucketFor(now: number): { slice: number; calls: number; failures: number } {
    const slice = Math.floor(now / this.bucketMs);
    const bucket = this.buckets[slice % this.buckets.length] as { slice: number; calls: number; failures: number };
    if (bucket.slice !== slice) {
      bucket.slice = slice;
      bucket.calls = 0;
      bucket.failures = 0;
    }
    return bucket;
  }

  private windowTotals(): { calls: number; failures: number } {
    const oldest = Math.floor(this.clock.now() / this.bucketMs) - this.buckets.length + 1;
    let calls = 0;
    let failures = 0;
    for (const bucket of this.buckets) {
      if (bucket.slice >= oldest) {
        calls += bucket.calls;
        failures += bucket.failures;
      }
    }
    return { calls, failures };
  }

  private snapshotRate(): number {
    const { calls, failures } = this.windowTotals();
    return calls === 0 ? 0 : failures / calls;
  }

  private clearWindow(): void {
    for (const bucket of this.buckets) {
      bucket.slice = -1;
      bucket.calls = 0;
      bucket.failures = 0;
    }
  }
}

function positiveInteger(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new ValidationError(field, `must be a positive integer (got ${value})`);
}
