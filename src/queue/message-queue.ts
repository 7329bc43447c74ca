import { randomUUID } from 'node:crypto';
import { AbortError } from '../core/abort-error.js';
import { type BackoffStrategy, createBackoff } from '../core/backoff.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitSnapshot } from '../core/circuit-breaker.js';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.js';
import { configValue } from '../core/config.js';
import { Keyspace } from '../core/keyspace.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { isRedisDown, RedisUnavailableError } from '../core/redis-unavailable-error.js';
import { closeRedisConnection, createRedisConnection, type RedisClient, type RedisConnection, type RedisConnectionInput } from '../core/redis-connection.js';
import { TimeoutError } from '../core/timeout-error.js';
import { UxFlowError } from '../core/uxflow-error.js';
import { ValidationError } from '../core/validation-error.js';
import type { Job, JobErrorInfo, JobInfo } from './job.js';
import { type JobOptions, type PreparedOptions, prepareOptions, serializeData } from './job-options.js';
import {
  type Ack,
  type FetchedJob,
  type FetchRequest,
  type FetchResult,
  type NewJob,
  type QueueBackend,
  type RateLimit,
  type StoredJob,
  type StoredJobOptions,
  type StoredSchedule,
} from './queue-backend.js';
import { QueueError } from './queue-error.js';
import { QueueEvents, type QueueEventMap, type QueueListener } from './queue-events.js';
import { RedisQueueBackend } from './redis-queue-backend.js';
import { nextTick, prepareRepeat, type RepeatOptions, type RepeatSpec, type ScheduleInfo, type ScheduleTemplate } from './repeat-options.js';
import { UnrecoverableError } from './unrecoverable-error.js';

/**
 * Trace context without importing OpenTelemetry: the monitoring block's `DistributedTracer`
 * implements it. `produce` runs around `add` and writes `traceparent` into `carrier`, which is
 * stored with the job; `consume` runs around each attempt and continues that trace.
 */
export interface MessagingTelemetry {
  /** Runs `fn` (the enqueue) in a PRODUCER span and writes the trace context into `carrier`. */
  produce<T>(queue: string, carrier: Record<string, string>, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` (the processor) in a CONSUMER span that continues the context in `carrier`. */
  consume<T>(queue: string, carrier: Record<string, string>, attributes: Record<string, string | number | boolean>, fn: () => Promise<T>): Promise<T>;
}

/** One finished attempt, for {@link QueueMetrics}. */
export interface JobFinishedInfo {
  queue: string;
  type: string;
  /** `retrying`: failed, another attempt follows; `dead`: failed for good. */
  outcome: 'completed' | 'retrying' | 'dead';
  /** Processor time in ms. */
  durationMs: number;
  /** Time from due (added, or delay/backoff over) to start, in ms. */
  waitMs: number;
}

/** A metrics hook the performance monitor implements (no prom-client import here). */
export interface QueueMetrics {
  /** Called once per processing attempt, with its outcome and timings. */
  onJobFinished(info: JobFinishedInfo): void;
}

/** Processes one job; the return value (JSON) is stored as the job's result. */
export type Processor<T = unknown, R = unknown> = (data: T, job: Job<T>) => Promise<R> | R;

/** Options of {@link MessageQueue.registerProcessor}. */
export interface ProcessorOptions {
  /** Jobs of this type run at once in this process. Default `QUEUE_CONCURRENCY` (5). */
  concurrency?: number;
  /**
   * Jobs fetched ahead of free slots and held (locked) in this process, so the next job starts
   * without a round trip. `'auto'` prefetches only while this type's jobs average under 5 ms
   * (then up to `max(50, concurrency)`, at most 100), so slow jobs are never hoarded away from
   * other workers. Default `'auto'`.
   */
  prefetch?: number | 'auto';
  /** Custom backoff between attempts; wins over the job's `backoff`. Default the job's. */
  backoff?: BackoffStrategy;
  /**
   * Stop pulling this type while its processor keeps failing (core `CircuitBreaker`; state in
   * `getStats()`). `true` uses the breaker's defaults. Default off.
   */
  circuitBreaker?: boolean | Omit<CircuitBreakerOptions, 'name' | 'clock' | 'logger'>;
}

/** Options of {@link MessageQueue}; everything has a default. */
export interface MessageQueueOptions {
  /** Queue name; one queue carries many job types. Default `'default'`. */
  name?: string;
  /** Key prefix. Default `'uxflow'`; keys are `<prefix>:{queue:<name>}:…` (one Cluster slot). */
  prefix?: string;
  /** An ioredis client (kept open at close), a URL or connection options. Default `REDIS_URL`. */
  redis?: RedisConnectionInput;
  /** Another storage driver, e.g. the in-memory `MemoryQueueBackend`. Wins over `redis`. */
  backend?: QueueBackend;
  /** Default silent. */
  logger?: Logger;
  /** Default the system clock. */
  clock?: Clock;
  /** Defaults for every job's options. Default none. */
  defaultJobOptions?: JobOptions;
  /** Largest JSON payload accepted by `add`, in bytes. Default `524_288` (512 KiB). */
  maxPayloadBytes?: number;
  /** When set, `add` refuses other job types. Default any type. */
  jobTypes?: readonly string[];
  /** How long a worker's lock on a job lasts; renewed every half of it. Default `30_000`. */
  lockDurationMs?: number;
  /** How often the stalled checker runs (once per interval across processes). Default `30_000`. */
  stalledIntervalMs?: number;
  /** Stalls a job survives before it fails for good. Default `1`. */
  maxStalledCount?: number;
  /** Longest idle wait before a worker checks again without a wake-up, in ms. Default `5_000`. */
  blockTimeoutMs?: number;
  /**
   * Jobs started per fixed window across every worker of this queue, e.g.
   * `{ limit: 100, windowMs: 1_000 }`. Default none.
   */
  rateLimit?: RateLimit;
  /**
   * Jobs started per fixed window for each job `group` value (e.g. per tenant); jobs over the
   * limit wait, delayed, for the next window. Default none.
   */
  groupRateLimit?: RateLimit;
  /** Trace context hook. Default none (no cost). */
  telemetry?: MessagingTelemetry;
  /** Metrics hook. Default none. */
  metrics?: QueueMetrics;
  /**
   * Global events across processes (Redis driver): every transition also appends an event to a
   * bounded stream (`XADD MAXLEN ~ maxLen`) that `GlobalQueueEvents` (from `@ux-flow/common/queue`) reads. Costs one
   * stream write per event, so it is off by default. `true` keeps about `10_000` events.
   * Default `false`.
   */
  globalEvents?: boolean | { maxLen?: number };
}

/** Counts of jobs per state. */
export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

/** Finished attempts over a window. */
export interface ThroughputWindow {
  completed: number;
  failed: number;
  /** failed / (completed + failed), 0 when there were none. */
  failureRate: number;
  /** completed per second over the window. */
  completedPerSecond: number;
}

/** What {@link MessageQueue.getStats} returns. */
export interface QueueStats {
  name: string;
  paused: boolean;
  counts: JobCounts;
  /** Per job type; `circuit` when that type has a breaker in this process. */
  types: Record<string, JobCounts & { circuit?: CircuitSnapshot }>;
  lastMinute: ThroughputWindow;
  lastHour: ThroughputWindow;
  /** Age of the oldest job at the head of a type's waiting line, in ms; 0 when none wait. */
  oldestWaitingAgeMs: number;
}

interface ActiveRecord {
  fetched: FetchedJob;
  /** Made on first use of `job.signal`: most jobs never read it. */
  controller: AbortController | undefined;
  /** Set once the attempt is aborted (timeout, lost lock, shutdown). */
  abortReason: Error | undefined;
  /** Rejects the attempt's abort race. */
  rejectAbort: ((reason: Error) => void) | undefined;
}

interface ProcessorEntry {
  type: string;
  fn: Processor<never>;
  concurrency: number;
  prefetch: number | 'auto';
  /** Average processing time (ms), exponentially weighted; undefined until a job ran. */
  averageMs: number | undefined;
  /** Fetched, locked, not started yet. */
  buffer: FetchedJob[];
  active: Set<ActiveRecord>;
  reserved: number;
  backoff: BackoffStrategy | undefined;
  breaker: CircuitBreaker | undefined;
}

interface PendingAck {
  ack: Ack;
  done: (ok: boolean) => void;
}

const LOG_LINES = 1000;
/** 'auto' prefetch only for types whose jobs average below this (ms). */
const FAST_JOB_MS = 5;
/** Least jobs prefetched for a fast type: bigger acknowledgement batches, fewer round trips. */
const PREFETCH_FLOOR = 50;
const ACK_BATCH = 500;
/** Jobs buffered in one turn that go out at once instead of at the end of the turn. */
const WRITE_EAGER = 50;
/** Acknowledgement batches in flight at once (see `flush`). */
const ACK_LANES = 2;
/** Acknowledgements pending before a second lane opens. */
const LANE_MIN_BATCH = 16;

/**
 * A job queue on Redis: many job types per queue, priorities, delays, retries with backoff,
 * timeouts, dead letters, stalled-job recovery and batched acknowledgement. Every state change is
 * one Lua script; all keys share one hash tag, so a queue works on Redis Cluster.
 *
 * Delivery is at least once: a job whose worker dies or loses Redis is redelivered after its
 * lock (`lockDurationMs`) expires; a job that stalls more than `maxStalledCount` times fails.
 *
 * @example
 * ```ts
 * const queue = new MessageQueue({ redis: 'redis://127.0.0.1:6379', name: 'emails' });
 * queue.registerProcessor('email_send', async (data: { to: string }, job) => {
 *   await job.updateProgress(50);
 *   return sendEmail(data);
 * }, { concurrency: 20 });
 * await queue.add('email_send', { to: 'a@example.com' }, { priority: 'high', attempts: 5 });
 * await queue.close({ timeoutMs: 10_000 });
 * ```
 */
export class MessageQueue {
  /** The queue's name. */
  readonly name: string;
  private readonly backend: QueueBackend;
  private readonly connection: RedisConnection | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly events: QueueEvents;
  private readonly defaults: JobOptions;
  private readonly defaultAttempts: number;
  private readonly maxPayloadBytes: number;
  private readonly jobTypes: ReadonlySet<string> | undefined;
  private readonly lockDurationMs: number;
  private readonly stalledIntervalMs: number;
  private readonly maxStalledCount: number;
  private readonly blockTimeoutMs: number;
  private readonly telemetry: MessagingTelemetry | undefined;
  private readonly rateLimit: RateLimit | undefined;
  private readonly groupRateLimit: RateLimit | undefined;
  private readonly metrics: QueueMetrics | undefined;
  private readonly token = randomUUID();
  private readonly encodedDefaults: Omit<NewJob, 'type' | 'data'> | undefined;

  private readonly processors = new Map<string, ProcessorEntry>();
  private readonly writeBuffer: { jobs: NewJob[]; resolve: (ids: string[]) => void; reject: (error: unknown) => void }[] = [];
  private writeScheduled = false;
  private writeBuffered = 0;
  private acks: PendingAck[] = [];
  /** Pending while any ack lane runs; resolved when the last one ends. */
  private flushing: Promise<void> | undefined;
  private flushDone: (() => void) | undefined;
  private lanes = 0;
  private flushScheduled = false;
  private loop: Promise<void> | undefined;
  private kicked = false;
  private kickWaiter: (() => void) | undefined;
  private blockInFlight: Promise<void> | undefined;
  /** Types the wait in flight listens on. */
  private blockTypesInFlight: readonly string[] = [];
  /** When the wait in flight times out (epoch ms). */
  private blockUntil = 0;
  /** Set while the loop awaits that wait (not parked for free slots). */
  private blockTypes: readonly string[] | undefined;
  /** Counts finished waits, to detect a wake-up that arrived during a fetch. */
  private wakes = 0;
  private stopping = false;
  private closed = false;
  private drained = false;
  private lockTimer: TimerHandle | undefined;
  private stalledTimer: TimerHandle | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(options: MessageQueueOptions = {}) {
    this.name = options.name ?? 'default';
    if (typeof this.name !== 'string' || this.name === '' || /[{}]/.test(this.name)) {
      throw new ValidationError('name', 'must be a non-empty string without { or }');
    }
    const keys = new Keyspace(options.prefix ?? 'uxflow', `queue:${this.name}`);
    this.logger = options.logger ?? createSilentLogger();
    this.clock = options.clock ?? systemClock;
    this.events = new QueueEvents(this.logger);
    this.defaults = { ...options.defaultJobOptions };
    this.defaultAttempts = configValue('MAX_RETRY_ATTEMPTS', this.defaults.attempts);
    this.maxPayloadBytes = positive('maxPayloadBytes', options.maxPayloadBytes ?? 524_288);
    this.lockDurationMs = positive('lockDurationMs', options.lockDurationMs ?? 30_000);
    this.stalledIntervalMs = positive('stalledIntervalMs', options.stalledIntervalMs ?? 30_000);
    this.blockTimeoutMs = positive('blockTimeoutMs', options.blockTimeoutMs ?? 5_000);
    this.maxStalledCount = options.maxStalledCount ?? 1;
    if (!Number.isSafeInteger(this.maxStalledCount) || this.maxStalledCount < 0) {
      throw new ValidationError('maxStalledCount', `must be a non-negative integer (got ${String(this.maxStalledCount)})`);
    }
    if (options.jobTypes !== undefined) {
      options.jobTypes.forEach((type, index) => {
        checkType(type, `jobTypes[${index}]`);
      });
      this.jobTypes = new Set(options.jobTypes);
    }
    // Validate the defaults once, so a bad default fails here and not at the first add.
    const resolvedDefaults = prepareOptions({}, this.defaults, this.defaultAttempts, 0);
    if (this.defaults.delayMs === undefined && this.defaults.runAt === undefined && this.defaults.jobId === undefined) {
      this.encodedDefaults = {
        jobId: '',
        opts: JSON.stringify(resolvedDefaults.stored),
        priority: resolvedDefaults.priority,
        runAt: 0,
        traceCarrier: '',
        group: resolvedDefaults.stored.group ?? '',
      };
    }
    this.telemetry = options.telemetry;
    this.metrics = options.metrics;
    this.rateLimit = checkRateLimit('rateLimit', options.rateLimit);
    this.groupRateLimit = checkRateLimit('groupRateLimit', options.groupRateLimit);
    if (options.backend !== undefined) {
      this.backend = options.backend;
    } else {
      this.connection = createRedisConnection(options.redis);
      this.backend = new RedisQueueBackend(this.connection.client, keys, { eventsMaxLen: eventsMaxLen(options.globalEvents) });
      if (this.connection.owned) this.logOutages(this.connection.client);
    }
  }

  /** One warning per outage of a connection the queue created (instead of ioredis's console noise). */
  private logOutages(client: RedisClient): void {
    let down = false;
    client.on('error', (error: Error) => {
      if (down) return;
      down = true;
      this.logger.warn({ err: error, queue: this.name }, 'queue lost its Redis connection; producers fail fast with ERR_REDIS, workers resume on reconnect');
    });
    client.on('ready', () => {
      if (down) this.logger.info({ queue: this.name }, 'queue reconnected to Redis');
      down = false;
    });
  }

  /**
   * The ioredis client the Redis driver sends its commands on (idle workers block on a separate
   * duplicate), so other blocks can share the connection — the email service does when given
   * this queue. `undefined` on another driver. Closed by {@link MessageQueue.close} only when
   * the queue created it.
   *
   * @example
   * ```ts
   * const queue = initializeMessageQueue(redisClient, logger);
   * queue.redis === redisClient; // true
   * ```
   */
  get redis(): RedisClient | undefined {
    return this.connection?.client;
  }

  /** Subscribes to a local event. */
  on<E extends keyof QueueEventMap>(event: E, listener: QueueListener<E>): this {
    this.events.on(event, listener);
    return this;
  }

  /** Unsubscribes a listener. */
  off<E extends keyof QueueEventMap>(event: E, listener: QueueListener<E>): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Adds one job and returns its id. With `jobId`, adding an id that exists is a no-op that
   * returns it. Bad input (a non-JSON payload, an oversized one, an unknown type, an invalid
   * option) throws a {@link ValidationError} and writes nothing. While the Redis connection is
   * down or reconnecting, it fails at once with a `RedisUnavailableError` (`ERR_REDIS`) instead
   * of waiting for Redis: nothing is written, so the caller can retry or answer 503. (Workers,
   * on the other hand, wait through a reconnect and resume on their own.)
   */
  async add<T>(type: string, data: T, options: JobOptions = {}): Promise<string> {
    if (this.telemetry !== undefined) {
      const [id] = await this.addBulk([{ type, data, options }]);
      return id as string;
    }
    this.checkOpen();
    this.checkReachable('add');
    const [id] = await this.write([this.prepare(type, data, options, this.clock.now())]);
    return id as string;
  }

  /**
   * Adds many jobs in few round trips (atomic per 1,000 jobs). Every job is validated before
   * anything is written. Returns the ids in order.
   */
  async addBulk(jobs: readonly { type: string; data: unknown; options?: JobOptions }[]): Promise<string[]> {
    this.checkOpen();
    this.checkReachable('addBulk');
    const now = this.clock.now();
    const prepared = jobs.map((job, index) => {
      try {
        return this.prepare(job.type, job.data, job.options ?? {}, now);
      } catch (error) {
        if (jobs.length > 1 && ValidationError.isInstance(error)) {
          throw new ValidationError(`jobs[${index}].${error.field}`, error.message.slice(error.field.length + 3), { cause: error });
        }
        throw error;
      }
    });
    if (this.telemetry === undefined) return this.write(prepared);
    const carrier: Record<string, string> = {};
    return this.telemetry.produce(this.name, carrier, () => {
      const text = Object.keys(carrier).length === 0 ? '' : JSON.stringify(carrier);
      return this.write(prepared.map((job) => ({ ...job, traceCarrier: text })));
    });
  }

  /** Producers fail fast rather than queue commands behind a reconnect (nothing is written). */
  private checkReachable(operation: string): void {
    const client = this.connection?.client;
    if (client !== undefined && isRedisDown(client)) throw new RedisUnavailableError(operation, `the connection is ${client.status}`);
  }

  /**
   * Writes jobs, coalescing the adds made in the same event-loop turn into one script call
   * (atomic per call), so many concurrent single adds cost few round trips without waiting on
   * each other.
   */
  private write(jobs: NewJob[]): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.writeBuffer.push({ jobs, resolve, reject });
      this.writeBuffered += jobs.length;
      if (this.writeBuffered >= WRITE_EAGER) {
        // A burst in one turn goes out in slices as it builds up, so Redis stores one slice
        // while this process prepares the next instead of waiting for the whole turn.
        this.writeBuffered = 0;
        void this.sendWrites(this.writeBuffer.splice(0));
        return;
      }
      if (this.writeScheduled) return;
      this.writeScheduled = true;
      // After every pending microtask: callers awaiting a previous add have all added again.
      setImmediate(() => {
        this.writeScheduled = false;
        this.writeBuffered = 0;
        if (this.writeBuffer.length > 0) void this.sendWrites(this.writeBuffer.splice(0));
      });
    });
  }

  private async sendWrites(batch: { jobs: NewJob[]; resolve: (ids: string[]) => void; reject: (error: unknown) => void }[]): Promise<void> {
    const jobs = batch.length === 1 ? (batch[0]?.jobs ?? []) : batch.flatMap((entry) => entry.jobs);
    try {
      const result = await this.backend.addJobs(jobs, this.clock.now());
      let offset = 0;
      for (const entry of batch) {
        const ids: string[] = [];
        for (let i = 0; i < entry.jobs.length; i++) ids.push((result[offset + i] as { id: string }).id);
        entry.resolve(ids);
        offset += entry.jobs.length;
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  private prepare(type: string, data: unknown, options: JobOptions, now: number): NewJob {
    checkType(type, 'type');
    if (this.jobTypes !== undefined && !this.jobTypes.has(type)) {
      throw new ValidationError('type', `is not a known job type (got ${JSON.stringify(type)}; known: ${[...this.jobTypes].join(', ')})`);
    }
    if (typeof options !== 'object' || options === null) throw new ValidationError('options', 'must be an object');
    const serialized = serializeData(data, this.maxPayloadBytes);
    // The common case, a job without options, reuses the defaults encoded once.
    const defaults = this.encodedDefaults;
    if (defaults !== undefined && isEmpty(options)) {
      return { jobId: '', type, data: serialized, opts: defaults.opts, priority: defaults.priority, runAt: 0, traceCarrier: '', group: defaults.group };
    }
    const resolved: PreparedOptions = prepareOptions(options, this.defaults, this.defaultAttempts, now);
    return {
      jobId: resolved.jobId,
      type,
      data: serialized,
      opts: JSON.stringify(resolved.stored),
      priority: resolved.priority,
      runAt: resolved.runAt,
      traceCarrier: '',
      group: resolved.stored.group ?? '',
    };
  }

  /**
   * Starts processing jobs of `type` in this process, at most `concurrency` at once. The
   * processor gets `(data, job)`; throwing retries the job (with backoff) until its attempts are
   * used, throwing {@link UnrecoverableError} fails it at once.
   */
  registerProcessor<T = unknown, R = unknown>(type: string, processor: Processor<T, R>, options: ProcessorOptions = {}): void {
    this.checkOpen();
    checkType(type, 'type');
    if (typeof processor !== 'function') throw new ValidationError('processor', 'must be a function');
    if (this.processors.has(type)) throw new ValidationError('type', `already has a processor (${type})`);
    const concurrency = configValue('QUEUE_CONCURRENCY', options.concurrency);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new ValidationError('concurrency', `must be a positive integer (got ${String(concurrency)})`);
    }
    if (options.backoff !== undefined && typeof options.backoff !== 'function') throw new ValidationError('backoff', 'must be a function');
    const prefetch = options.prefetch ?? 'auto';
    if (prefetch !== 'auto' && (!Number.isSafeInteger(prefetch) || prefetch < 0)) {
      throw new ValidationError('prefetch', `must be a non-negative integer or 'auto' (got ${String(prefetch)})`);
    }
    let breaker: CircuitBreaker | undefined;
    if (options.circuitBreaker !== undefined && options.circuitBreaker !== false) {
      const breakerOptions = options.circuitBreaker === true ? {} : options.circuitBreaker;
      breaker = new CircuitBreaker({ ...breakerOptions, name: `${this.name}:${type}`, clock: this.clock, logger: this.logger });
      breaker.on('stateChange', (change) => {
        if (change.to === 'open') {
          this.clock.setTimeout(() => {
            this.kick();
          }, breaker?.retryAfterMs() ?? 0);
        }
        this.kick();
      });
    }
    this.processors.set(type, {
      type,
      fn: processor,
      concurrency,
      prefetch,
      averageMs: undefined,
      buffer: [],
      active: new Set(),
      reserved: 0,
      backoff: options.backoff,
      breaker,
    });
    this.kick();
    if (this.loop === undefined) {
      this.loop = this.runLoop();
      this.scheduleLockRenewal();
      this.scheduleStalledCheck(0);
    }
  }

  // ---- worker ----

  private kick(): void {
    this.kicked = true;
    const waiter = this.kickWaiter;
    this.kickWaiter = undefined;
    waiter?.();
  }

  private waitKick(): Promise<void> {
    if (this.kicked) return Promise.resolve();
    return new Promise((resolve) => {
      this.kickWaiter = resolve;
    });
  }

  /** Reserves free slots per type for one fetch. */
  private reserve(): [string, number][] {
    const request: [string, number][] = [];
    for (const entry of this.processors.values()) {
      let free = entry.concurrency + prefetchOf(entry) - entry.active.size - entry.buffer.length - entry.reserved;
      if (free < 0 || this.stopping || entry.breaker?.state === 'open') free = 0;
      entry.reserved += free;
      request.push([entry.type, free]);
    }
    return request;
  }

  private unreserve(request: readonly (readonly [string, number])[]): void {
    for (const [type, count] of request) {
      const entry = this.processors.get(type);
      if (entry !== undefined) entry.reserved -= count;
    }
  }

  private fetchRequest(types: readonly (readonly [string, number])[]): FetchRequest {
    const now = this.clock.now();
    const request: FetchRequest = { types, token: this.token, lockUntil: now + this.lockDurationMs, now };
    if (this.rateLimit !== undefined) request.queueLimit = this.rateLimit;
    if (this.groupRateLimit !== undefined) request.groupLimit = this.groupRateLimit;
    return request;
  }

  private activeCount(): number {
    let count = 0;
    for (const entry of this.processors.values()) count += entry.active.size + entry.buffer.length;
    return count;
  }

  private async runLoop(): Promise<void> {
    let errorDelayMs = 0;
    while (!this.stopping) {
      this.kicked = false;
      const request = this.reserve();
      const wanted = request.reduce((sum, [, count]) => sum + count, 0);
      if (wanted === 0) {
        this.unreserve(request);
        await this.waitKick();
        continue;
      }
      const wakesBefore = this.wakes;
      let result: FetchResult;
      try {
        result = await this.backend.fetch(this.fetchRequest(request));
        errorDelayMs = 0;
      } catch (error) {
        this.unreserve(request);
        if (this.stopping) break;
        this.emitError(error, 'fetching jobs failed');
        errorDelayMs = Math.min(5_000, Math.max(100, errorDelayMs * 2));
        await Promise.race([this.delay(errorDelayMs), this.waitKick()]);
        continue;
      }
      this.unreserve(request);
      this.dispatch(result.jobs);
      if (this.stopping) continue;
      // Every type got what it asked for: more may wait, fetch again. Fewer: the script emptied
      // those lines (and marked any type it left jobs in), so wait for a wake-up instead of
      // paying for a fetch that finds nothing.
      if (result.jobs.length >= wanted && result.jobs.length > 0) continue;
      if (result.jobs.length === 0) this.checkDrained();
      const now = this.clock.now();
      let timeoutMs = this.blockTimeoutMs;
      if (result.nextDelayedAt !== undefined) timeoutMs = Math.min(timeoutMs, Math.max(0, result.nextDelayedAt - now));
      // A wake-up (marker popped) that landed while this fetch ran may be for a job the fetch
      // missed; its marker is gone, so fetch again instead of blocking.
      if (timeoutMs <= 0 || this.wakes !== wakesBefore) continue;
      const types = request.filter(([, count]) => count > 0).map(([type]) => type);
      if (this.blockInFlight === undefined) {
        this.blockTypesInFlight = types;
        this.blockUntil = now + timeoutMs;
      }
      this.blockInFlight ??= this.backend.waitForJobs(types, timeoutMs).then(
        () => {
          this.wakes++;
          this.blockInFlight = undefined;
        },
        (error: unknown) => {
          this.blockInFlight = undefined;
          if (!this.stopping) this.emitError(error, 'waiting for jobs failed');
        },
      );
      this.blockTypes = this.blockInFlight === undefined ? undefined : this.blockTypesInFlight;
      await Promise.race([this.blockInFlight, this.waitKick()]);
      this.blockTypes = undefined;
    }
  }

  private checkDrained(): void {
    if (!this.drained && this.activeCount() === 0 && this.acks.length === 0) {
      this.drained = true;
      this.events.emit('drained', {});
    }
  }

  /** True while the loop waits on a wake-up for every type with free slots in `request`. */
  private blockCovers(request: readonly (readonly [string, number])[]): boolean {
    const types = this.blockTypes;
    if (types === undefined) return false;
    for (const [type, count] of request) if (count > 0 && !types.includes(type)) return false;
    return true;
  }

  private dispatch(jobs: readonly FetchedJob[]): void {
    for (const fetched of jobs) {
      if (fetched.scheduleId !== '') void this.advanceSchedule(fetched.scheduleId, Number(fetched.id.slice(fetched.id.lastIndexOf(':') + 1)));
      const entry = this.processors.get(fetched.type);
      if (entry === undefined || this.stopping) {
        this.pushAck({ id: fetched.id, token: fetched.token, kind: 'h', value: '', runAt: 0, keep: '' }, () => undefined);
        continue;
      }
      this.drained = false;
      if (entry.active.size < entry.concurrency) void this.runJob(entry, fetched);
      else entry.buffer.push(fetched);
    }
  }

  /** Starts buffered jobs while slots are free. */
  private startBuffered(entry: ProcessorEntry): void {
    while (!this.stopping && entry.active.size < entry.concurrency) {
      const next = entry.buffer.shift();
      if (next === undefined) return;
      void this.runJob(entry, next);
    }
  }

  private async runJob(entry: ProcessorEntry, fetched: FetchedJob): Promise<void> {
    const record: ActiveRecord = { fetched, controller: undefined, abortReason: undefined, rejectAbort: undefined };
    entry.active.add(record);
    const startedAt = this.clock.monotonic();
    const startedAtEpoch = this.clock.now();
    let stored: StoredJobOptions;
    let data: unknown;
    let carrier: Record<string, string> = {};
    let timer: TimerHandle | undefined;
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    const permit = entry.breaker?.tryAcquire();
    try {
      stored = this.parseStoredOptions(fetched.opts);
      data = JSON.parse(fetched.data) as unknown;
      if (fetched.traceCarrier !== '') carrier = JSON.parse(fetched.traceCarrier) as Record<string, string>;
    } catch (error) {
      stored = { attempts: 1, keepCompleted: '', keepFailed: '' };
      outcome = { ok: false, error: new UnrecoverableError('stored job is not valid JSON', { cause: error }) };
      this.settle(entry, record, stored, outcome, 0, startedAtEpoch);
      return;
    }
    if (entry.breaker !== undefined && permit === undefined) {
      // Half-open with its probes taken: hand the job back untouched.
      entry.active.delete(record);
      this.pushAck({ id: fetched.id, token: fetched.token, kind: 'h', value: '', runAt: 0, keep: '' }, () => undefined);
      return;
    }
    const job = this.makeJob(fetched, stored, data, carrier, record);
    const aborted = new Promise<never>((_, reject) => {
      record.rejectAbort = reject;
    });
    aborted.catch(() => undefined);
    if (stored.timeoutMs !== undefined) {
      const limit = stored.timeoutMs;
      timer = this.clock.setTimeout(() => {
        abortRecord(record, new TimeoutError(`job ${fetched.id}`, limit));
      }, limit);
    }
    try {
      const run = (): Promise<unknown> => Promise.resolve().then(() => entry.fn(data as never, job as Job<never>));
      const work =
        this.telemetry === undefined
          ? run()
          : this.telemetry.consume(
              this.name,
              carrier,
              { 'messaging.system': 'redis', 'messaging.operation': 'process', 'messaging.message.id': fetched.id, 'job.type': fetched.type, 'job.attempt': fetched.attemptsMade + 1 },
              run,
            );
      work.catch(() => undefined);
      outcome = { ok: true, value: await Promise.race([work, aborted]) };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
    if (permit !== undefined) {
      if (outcome.ok || UnrecoverableError.isInstance(outcome.error) || isShutdown(outcome.error)) permit.success();
      else permit.failure(outcome.error);
    }
    this.settle(entry, record, stored, outcome, this.clock.monotonic() - startedAt, startedAtEpoch);
  }

  /** Jobs of a batch mostly share their options text; parse it once (the result is read-only). */
  private parseStoredOptions(text: string): StoredJobOptions {
    if (text !== this.lastOptsText || this.lastOpts === undefined) {
      this.lastOpts = JSON.parse(text) as StoredJobOptions;
      this.lastOptsText = text;
    }
    return this.lastOpts;
  }

  private lastOptsText = '';
  private lastOpts: StoredJobOptions | undefined;

  private settle(
    entry: ProcessorEntry,
    record: ActiveRecord,
    stored: StoredJobOptions,
    outcome: { ok: true; value: unknown } | { ok: false; error: unknown },
    durationMs: number,
    startedAt: number,
  ): void {
    const { fetched } = record;
    entry.active.delete(record);
    entry.averageMs = entry.averageMs === undefined ? durationMs : entry.averageMs * 0.9 + durationMs * 0.1;
    this.startBuffered(entry);
    const attempt = fetched.attemptsMade + 1;
    const base = { jobId: fetched.id, type: fetched.type, attempt };
    const waitMs = Math.max(0, startedAt - Math.max(fetched.createdAt, fetched.runAt));
    const report = (outcomeName: JobFinishedInfo['outcome']): void => {
      if (this.metrics === undefined) return;
      try {
        this.metrics.onJobFinished({ queue: this.name, type: fetched.type, outcome: outcomeName, durationMs, waitMs });
      } catch (error) {
        this.emitError(error, 'metrics hook threw');
      }
    };
    const lost = (ok: boolean): boolean => {
      if (!ok) this.emitError(new QueueError(`lock of job ${fetched.id} was lost; another worker may run it`, { details: { jobId: fetched.id } }), 'lock lost');
      return !ok;
    };
    if (outcome.ok) {
      let value: string;
      try {
        value = JSON.stringify(outcome.value) ?? 'null';
      } catch (error) {
        this.emitError(error, `result of job ${fetched.id} is not JSON; stored as null`);
        value = 'null';
      }
      this.pushAck({ id: fetched.id, token: fetched.token, kind: 'c', value, runAt: 0, keep: stored.keepCompleted }, (ok) => {
        if (lost(ok)) return;
        report('completed');
        this.events.emit('completed', { ...base, result: outcome.value, durationMs });
      });
      return;
    }
    if (isShutdown(outcome.error)) {
      this.pushAck({ id: fetched.id, token: fetched.token, kind: 'h', value: '', runAt: 0, keep: '' }, () => undefined);
      return;
    }
    const error = toErrorInfo(outcome.error);
    const willRetry = !UnrecoverableError.isInstance(outcome.error) && attempt < stored.attempts;
    if (willRetry) {
      let delayMs = 0;
      try {
        const strategy = entry.backoff ?? (stored.backoff === undefined ? undefined : createBackoff(stored.backoff));
        delayMs = Math.max(0, Math.round(strategy?.(attempt, outcome.error) ?? 0));
      } catch (cause) {
        this.emitError(cause, 'backoff strategy threw; retrying at once');
      }
      const runAt = delayMs > 0 ? this.clock.now() + delayMs : 0;
      this.pushAck({ id: fetched.id, token: fetched.token, kind: 'r', value: JSON.stringify(error), runAt, keep: '' }, (ok) => {
        if (lost(ok)) return;
        report('retrying');
        this.events.emit('failed', { ...base, error, willRetry: true });
        this.events.emit('retrying', { ...base, error, delayMs });
      });
      return;
    }
    this.pushAck({ id: fetched.id, token: fetched.token, kind: 'f', value: JSON.stringify(error), runAt: 0, keep: stored.keepFailed }, (ok) => {
      if (lost(ok)) return;
      report('dead');
      this.events.emit('failed', { ...base, error, willRetry: false });
      this.events.emit('dead', { ...base, error });
    });
  }

  private makeJob(fetched: FetchedJob, stored: StoredJobOptions, data: unknown, carrier: Record<string, string>, record: ActiveRecord): Job {
    const attempt = fetched.attemptsMade + 1;
    return {
      id: fetched.id,
      type: fetched.type,
      data,
      attempt,
      maxAttempts: stored.attempts,
      createdAt: fetched.createdAt,
      group: stored.group,
      traceCarrier: Object.freeze({ ...carrier }),
      get signal(): AbortSignal {
        if (record.controller === undefined) {
          record.controller = new AbortController();
          if (record.abortReason !== undefined) record.controller.abort(record.abortReason);
        }
        return record.controller.signal;
      },
      updateProgress: async (progress: number | object): Promise<void> => {
        if (typeof progress !== 'number' && (typeof progress !== 'object' || progress === null)) {
          throw new ValidationError('progress', 'must be a number or an object');
        }
        const text = serializeData(progress, 65_536);
        const ok = await this.backend.updateProgress(fetched.id, fetched.token, text);
        if (!ok) throw new QueueError(`lock of job ${fetched.id} was lost`, { details: { jobId: fetched.id } });
        this.events.emit('progress', { jobId: fetched.id, type: fetched.type, attempt, progress });
      },
      log: async (line: string): Promise<void> => {
        await this.backend.addLog(fetched.id, line, LOG_LINES);
      },
    };
  }

  private pushAck(ack: Ack, done: (ok: boolean) => void): void {
    this.acks.push({ ack, done });
    // Idle: send at once (next microtask, to gather a synchronous burst). Busy: a second lane
    // sends while the first waits on Redis; with both lanes out, the next to return picks these
    // up as its batch, so acknowledgements batch under load by themselves.
    if (this.flushScheduled || this.lanes >= ACK_LANES) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * Sends pending acknowledgements in batches, fetching the next jobs in the same round trip.
   * Up to {@link ACK_LANES} batches are in flight at once, so Redis works on one while this
   * process runs the jobs of the other. Resolves when no acknowledgement is pending or in flight.
   */
  private flush(): Promise<void> {
    // A second lane pays only for a real batch; a trickle waits for the running lane.
    if (this.acks.length > 0 && (this.lanes === 0 || (this.lanes < ACK_LANES && this.acks.length >= LANE_MIN_BATCH))) {
      if (this.flushing === undefined) {
        this.flushing = new Promise((resolve) => {
          this.flushDone = resolve;
        });
      }
      this.lanes++;
      void this.runLane();
    }
    return this.flushing ?? Promise.resolve();
  }

  /** One lane of {@link MessageQueue.flush}: sends batches until none is pending. */
  private async runLane(): Promise<void> {
    let errorDelayMs = 0;
    try {
      while (this.acks.length > 0) {
        const batch = this.acks.splice(0, ACK_BATCH);
        const request = this.reserve();
        const wanted = request.reduce((sum, [, count]) => sum + count, 0);
        let result: { acked: boolean[]; fetched: FetchResult | undefined };
        try {
          result = await this.backend.finish(
            batch.map((pending) => pending.ack),
            this.clock.now(),
            wanted > 0 ? this.fetchRequest(request) : undefined,
          );
          errorDelayMs = 0;
        } catch (error) {
          this.unreserve(request);
          this.acks.unshift(...batch);
          this.emitError(error, 'acknowledging jobs failed; will retry');
          if (this.closed) return;
          errorDelayMs = Math.min(5_000, Math.max(100, errorDelayMs * 2));
          await this.delay(errorDelayMs);
          continue;
        }
        this.unreserve(request);
        batch.forEach((pending, index) => {
          pending.done(result.acked[index] === true);
        });
        if (result.fetched !== undefined) {
          this.dispatch(result.fetched.jobs);
          if (result.fetched.jobs.length < wanted) {
            // The loop already waits on a wake-up for these types: a kick would only buy an
            // empty fetch.
            const next = result.fetched.nextDelayedAt;
            if (!this.blockCovers(request) || (next !== undefined && next < this.blockUntil)) this.kick();
            else if (result.fetched.jobs.length === 0) this.checkDrained();
          }
        }
      }
    } finally {
      // Synchronous with the last emptiness check: an ack pushed after this starts a new lane.
      this.lanes--;
      if (this.lanes === 0) {
        const done = this.flushDone;
        this.flushing = undefined;
        this.flushDone = undefined;
        done?.();
      }
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.activeCount() > 0 || this.acks.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private scheduleLockRenewal(): void {
    this.lockTimer = this.clock.setTimeout(() => {
      void this.renewLocks().finally(() => {
        if (!this.closed) this.scheduleLockRenewal();
      });
    }, this.lockDurationMs / 2);
  }

  private async renewLocks(): Promise<void> {
    const records = new Map<string, ActiveRecord>();
    for (const entry of this.processors.values()) for (const record of entry.active) records.set(record.fetched.id, record);
    const locks: [string, string][] = [...records.values()].map((record) => [record.fetched.id, record.fetched.token]);
    for (const entry of this.processors.values()) for (const job of entry.buffer) locks.push([job.id, job.token]);
    for (const pending of this.acks) locks.push([pending.ack.id, pending.ack.token]);
    if (locks.length === 0) return;
    try {
      const lost = await this.backend.extendLocks(locks, this.clock.now() + this.lockDurationMs);
      for (const id of lost) {
        const record = records.get(id);
        if (record === undefined) continue;
        abortRecord(record, new QueueError(`lock of job ${id} was lost`, { details: { jobId: id } }));
      }
    } catch (error) {
      this.emitError(error, 'renewing locks failed');
    }
  }

  private scheduleStalledCheck(delayMs: number): void {
    this.stalledTimer = this.clock.setTimeout(() => {
      void this.checkStalled().finally(() => {
        if (!this.closed) this.scheduleStalledCheck(this.stalledIntervalMs);
      });
    }, delayMs);
  }

  /**
   * Runs the stalled checker now (it also runs every `stalledIntervalMs` while processors are
   * registered): active jobs whose lock expired go back to waiting, or fail after
   * `maxStalledCount` stalls. Skipped when another process ran it this interval.
   */
  async checkStalled(): Promise<{ recovered: string[]; failed: string[] }> {
    try {
      const result = await this.backend.moveStalled(this.clock.now(), this.stalledIntervalMs, this.maxStalledCount);
      if (result.ran) await this.repairSchedules();
      if (result.recovered.length > 0 || result.failed.length > 0) {
        this.logger.warn({ queue: this.name, recovered: result.recovered.length, failed: result.failed.length }, 'stalled jobs moved');
        this.events.emit('stalled', { recovered: result.recovered, failed: result.failed });
        if (result.recovered.length > 0) this.kick();
      }
      return { recovered: result.recovered, failed: result.failed };
    } catch (error) {
      this.emitError(error, 'stalled check failed');
      return { recovered: [], failed: [] };
    }
  }

  // ---- repeatable jobs ----

  /**
   * Creates or updates a repeatable-job schedule: a cron expression (5 fields, or 6 with seconds;
   * `tz` for its time zone) or a fixed interval `every` ms, producing `template` jobs. Each tick
   * produces exactly one job, id `repeat:<id>:<tick>`, however many processes run workers: the
   * worker that starts a tick's job moves the schedule on in one atomic step, and the deterministic
   * id makes a repeated tick a no-op. Upserting the same repeat options again (e.g. at every
   * start-up) keeps the pending tick; new options re-plan it. State lives in the store, so
   * schedules survive restarts; ticks missed while no worker ran fire once, then the schedule
   * goes on from now.
   *
   * @example
   * ```ts
   * await queue.upsertSchedule('nightly-report', { cron: '0 2 * * *', tz: 'Europe/Paris' }, { type: 'report', data: { kind: 'daily' } });
   * await queue.upsertSchedule('heartbeat', { every: 30_000, limit: 100 }, { type: 'ping', data: {} });
   * ```
   */
  async upsertSchedule<T>(id: string, repeat: RepeatOptions, template: ScheduleTemplate<T>): Promise<ScheduleInfo<T>> {
    this.checkOpen();
    checkScheduleId(id);
    const spec = prepareRepeat(repeat);
    if (typeof template !== 'object' || template === null) throw new ValidationError('template', 'must be { type, data, options? }');
    const options = template.options ?? {};
    if (typeof options !== 'object' || options === null) throw new ValidationError('template.options', 'must be an object');
    for (const field of ['jobId', 'delayMs', 'runAt'] as const) {
      if (field in options) throw new ValidationError(`template.options.${field}`, 'is set by the schedule');
    }
    const now = this.clock.now();
    let job: NewJob;
    try {
      job = this.prepare(template.type, template.data, options, now);
    } catch (error) {
      if (ValidationError.isInstance(error)) throw new ValidationError(`template.${error.field}`, error.message.slice(error.field.length + 3), { cause: error });
      throw error;
    }
    const repeatText = JSON.stringify(spec);
    const firstTick = nextTick(spec, now - 1);
    const saved = await this.backend.upsertSchedule({ id, repeat: repeatText, template: job, limit: spec.limit ?? 0, firstTick }, now);
    this.kick();
    return { id, type: template.type, data: template.data, repeat: spec, nextRunAt: saved.next, count: saved.count, createdAt: now };
  }

  /**
   * A schedule by id, or `undefined`.
   *
   * @example
   * ```ts
   * const schedule = await queue.getSchedule('nightly-report');
   * ```
   */
  async getSchedule<T = unknown>(id: string): Promise<ScheduleInfo<T> | undefined> {
    checkScheduleId(id);
    const [stored] = await this.backend.listSchedules(id);
    return stored === undefined ? undefined : toScheduleInfo<T>(stored);
  }

  /**
   * Every schedule of this queue, oldest first.
   *
   * @example
   * ```ts
   * for (const schedule of await queue.listSchedules()) console.log(schedule.id, schedule.nextRunAt);
   * ```
   */
  async listSchedules(): Promise<ScheduleInfo[]> {
    return (await this.backend.listSchedules()).map((stored) => toScheduleInfo(stored));
  }

  /**
   * Deletes a schedule and its pending job (when not started yet). Returns `false` when unknown.
   *
   * @example
   * ```ts
   * await queue.removeSchedule('heartbeat');
   * ```
   */
  async removeSchedule(id: string): Promise<boolean> {
    checkScheduleId(id);
    return this.backend.removeSchedule(id);
  }

  /** Moves a schedule past `tick` (whose job just started); only one worker per tick wins. */
  private async advanceSchedule(id: string, tick: number): Promise<void> {
    try {
      const [stored] = await this.backend.listSchedules(id);
      if (stored?.next !== tick) return;
      const spec = JSON.parse(stored.repeat) as RepeatSpec;
      await this.backend.advanceSchedule(id, tick, nextTick(spec, Math.max(tick, this.clock.now())), this.clock.now());
    } catch (error) {
      // The stalled checker's repair pass moves the schedule on later.
      this.emitError(error, `advancing schedule ${id} failed`);
    }
  }

  /**
   * Safety net run with the stalled checker: a schedule whose pending tick is due but whose job
   * is no longer waiting (started by a worker that died before advancing it, or removed) moves on.
   */
  private async repairSchedules(): Promise<void> {
    const now = this.clock.now();
    for (const stored of await this.backend.listSchedules()) {
      if (stored.next === undefined || stored.next > now || stored.nextJobState === 'waiting' || stored.nextJobState === 'delayed') continue;
      const spec = JSON.parse(stored.repeat) as RepeatSpec;
      await this.backend.advanceSchedule(stored.id, stored.next, nextTick(spec, Math.max(stored.next, now)), now);
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.clock.setTimeout(resolve, ms);
    });
  }

  private emitError(error: unknown, message: string): void {
    const wrapped = error instanceof Error ? error : new QueueError(message, { cause: error });
    this.logger.warn({ err: wrapped, queue: this.name }, message);
    this.events.emit('error', wrapped);
  }

  private checkOpen(): void {
    if (this.stopping) throw new QueueError(`queue ${this.name} is closed`);
  }

  // ---- inspection and admin ----

  /** A job's stored state, or `undefined` when there is no such job. */
  async getJob<T = unknown>(id: string): Promise<JobInfo<T> | undefined> {
    const stored = await this.backend.getJob(id);
    return stored === undefined ? undefined : toJobInfo<T>(stored);
  }

  /** A job's log lines, oldest first. */
  getJobLogs(id: string): Promise<string[]> {
    return this.backend.getLogs(id);
  }

  /** Counts per state and type, throughput and failure rate, age of the oldest waiting job. */
  async getStats(): Promise<QueueStats> {
    const raw = await this.backend.stats();
    const now = this.clock.now();
    const types: QueueStats['types'] = {};
    let waiting = 0;
    let oldest = 0;
    const typeNames = new Set([...raw.types.map((entry) => entry.type), ...this.processors.keys()]);
    for (const type of typeNames) {
      const entry = raw.types.find((candidate) => candidate.type === type);
      const counts: JobCounts & { circuit?: CircuitSnapshot } = {
        waiting: entry?.waiting ?? 0,
        active: entry?.active ?? 0,
        delayed: raw.counts[`d:${type}`] ?? 0,
        completed: raw.counts[`c:${type}`] ?? 0,
        failed: raw.counts[`f:${type}`] ?? 0,
      };
      const breaker = this.processors.get(type)?.breaker;
      if (breaker !== undefined) counts.circuit = breaker.snapshot();
      types[type] = counts;
      waiting += counts.waiting;
      if (entry?.headCreatedAt !== undefined) oldest = Math.max(oldest, now - entry.headCreatedAt);
    }
    const minute = Math.floor(now / 60_000);
    const fraction = (now % 60_000) / 60_000;
    const window = (minutes: number): ThroughputWindow => {
      let completed = 0;
      let failed = 0;
      for (let m = minute - minutes; m <= minute; m++) {
        const weight = m === minute - minutes ? 1 - fraction : 1;
        completed += (raw.metrics[`c:${m}`] ?? 0) * weight;
        failed += (raw.metrics[`f:${m}`] ?? 0) * weight;
      }
      completed = Math.round(completed);
      failed = Math.round(failed);
      return {
        completed,
        failed,
        failureRate: completed + failed === 0 ? 0 : failed / (completed + failed),
        completedPerSecond: completed / (minutes * 60),
      };
    };
    return {
      name: this.name,
      paused: raw.paused,
      counts: { waiting, active: raw.active, delayed: raw.delayed, completed: raw.completed, failed: raw.failed },
      types,
      lastMinute: window(1),
      lastHour: window(60),
      oldestWaitingAgeMs: Math.max(0, oldest),
    };
  }

  /** Stops every worker of this queue (all processes) from taking new jobs; adds still work. */
  async pause(): Promise<void> {
    await this.backend.setPaused(true);
  }

  /** Lets workers take jobs again after {@link MessageQueue.pause}. */
  async resume(): Promise<void> {
    await this.backend.setPaused(false);
    this.kick();
  }

  /** Moves a failed (dead-letter) job back to waiting with fresh attempts. */
  async retryJob(id: string): Promise<void> {
    const moved = await this.backend.retryFailed([id]);
    if (moved === 0) throw new QueueError(`job ${id} is not in the failed (dead-letter) list`, { details: { jobId: id } });
  }

  /** Moves every failed job back to waiting; returns how many moved. */
  async retryAllFailed(): Promise<number> {
    let total = 0;
    for (;;) {
      const moved = await this.backend.retryFailed({ limit: 1000 });
      total += moved;
      if (moved < 1000) return total;
    }
  }

  /** The dead-letter list: jobs that failed for good, newest first. */
  async listDeadLetters(options: { offset?: number; limit?: number } = {}): Promise<JobInfo[]> {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ValidationError('offset', 'must be a non-negative integer');
    if (!Number.isSafeInteger(limit) || limit < 1) throw new ValidationError('limit', 'must be a positive integer');
    const jobs = await this.backend.listFailed(offset, offset + limit - 1);
    return jobs.map((job) => toJobInfo(job));
  }

  /** Re-queues dead letters with fresh attempts: the given ids, or all of them. Returns how many moved. */
  async redriveDeadLetters(ids?: readonly string[]): Promise<number> {
    if (ids === undefined) return this.retryAllFailed();
    return this.backend.retryFailed(ids);
  }

  /** Removes a job that is not active. Returns `false` when there is no such job. */
  async removeJob(id: string): Promise<boolean> {
    const result = await this.backend.removeJob(id);
    if (result === -1) throw new QueueError(`job ${id} is active and cannot be removed`, { details: { jobId: id } });
    return result === 1;
  }

  /** Removes completed or failed jobs that finished more than `olderThanMs` ago; returns their ids. */
  async clean(state: 'completed' | 'failed', olderThanMs: number, limit = 10_000): Promise<string[]> {
    if (state !== 'completed' && state !== 'failed') throw new ValidationError('state', 'must be "completed" or "failed"');
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new ValidationError('olderThanMs', 'must be a non-negative number');
    return this.backend.clean(state, this.clock.now() - olderThanMs, limit);
  }

  /** Deletes every job and key of this queue. Meant for tests and teardown. */
  async obliterate(): Promise<void> {
    await this.backend.obliterate();
  }

  /** Resolves once no job of this process is running or waiting to be acknowledged. */
  whenIdle(): Promise<void> {
    if (this.activeCount() === 0 && this.acks.length === 0 && this.flushing === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
    });
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `timeoutMs` (default `30_000`), then
   * aborts the rest and hands them back to waiting (the attempt does not count), flushes
   * acknowledgements and closes the connections it owns. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closeTimeoutMs = options.timeoutMs ?? this.closeTimeoutMs;
    return this.closeOnce();
  }

  private closeTimeoutMs = 30_000;

  private readonly closeOnce = once(async () => {
    this.stopping = true;
    for (const entry of this.processors.values()) {
      for (const job of entry.buffer.splice(0)) this.pushAck({ id: job.id, token: job.token, kind: 'h', value: '', runAt: 0, keep: '' }, () => undefined);
    }
    this.kick();
    this.backend.interruptWait();
    const deadline = this.clock.now() + this.closeTimeoutMs;
    if (this.activeCount() > 0 || this.acks.length > 0) {
      let timer: TimerHandle | undefined;
      await Promise.race([
        this.whenIdle(),
        new Promise<void>((resolve) => {
          timer = this.clock.setTimeout(resolve, Math.max(0, deadline - this.clock.now()));
        }),
      ]);
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
    for (const entry of this.processors.values()) {
      for (const record of entry.active) abortRecord(record, new AbortError('queue is shutting down'));
    }
    // Hand-backs are queued on abort; give their flush one bounded chance.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let timer: TimerHandle | undefined;
    await Promise.race([
      (async () => {
        while (this.acks.length > 0 || this.flushing !== undefined) await this.flush();
      })(),
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, Math.max(1_000, deadline - this.clock.now()));
      }),
    ]);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.closed = true;
    if (this.lockTimer !== undefined) this.clock.clearTimeout(this.lockTimer);
    if (this.stalledTimer !== undefined) this.clock.clearTimeout(this.stalledTimer);
    await this.loop;
    await this.backend.close();
    if (this.connection !== undefined) await closeRedisConnection(this.connection);
  });
}

/** Aborts a running attempt: its signal (when made) and its race with the processor. */
function abortRecord(record: ActiveRecord, reason: Error): void {
  if (record.abortReason !== undefined) return;
  record.abortReason = reason;
  record.controller?.abort(reason);
  record.rejectAbort?.(reason);
}

/** True when `object` has no own enumerable key (without allocating a key list). */
function isEmpty(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return false;
  return true;
}

function eventsMaxLen(option: MessageQueueOptions['globalEvents']): number {
  if (option === undefined || option === false) return 0;
  if (option === true) return 10_000;
  const maxLen = option.maxLen ?? 10_000;
  if (!Number.isSafeInteger(maxLen) || maxLen < 1) throw new ValidationError('globalEvents.maxLen', `must be a positive integer (got ${String(maxLen)})`);
  return maxLen;
}

function checkScheduleId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.trim() === '' || id.length > 200) throw new ValidationError('id', 'must be a non-empty string of at most 200 characters');
}

function toScheduleInfo<T>(stored: StoredSchedule): ScheduleInfo<T> {
  return {
    id: stored.id,
    type: stored.type,
    data: parseJson(stored.data) as T,
    repeat: JSON.parse(stored.repeat) as RepeatSpec,
    nextRunAt: stored.next,
    count: stored.count,
    createdAt: stored.createdAt,
  };
}

function prefetchOf(entry: ProcessorEntry): number {
  if (entry.prefetch !== 'auto') return entry.prefetch;
  if (entry.averageMs === undefined || entry.averageMs >= FAST_JOB_MS) return 0;
  return Math.min(100, Math.max(PREFETCH_FLOOR, entry.concurrency));
}

function checkRateLimit(field: string, limit: RateLimit | undefined): RateLimit | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit.limit) || limit.limit < 1) throw new ValidationError(`${field}.limit`, 'must be a positive integer');
  if (!Number.isSafeInteger(limit.windowMs) || limit.windowMs < 1) throw new ValidationError(`${field}.windowMs`, 'must be a positive integer');
  return { limit: limit.limit, windowMs: limit.windowMs };
}

function positive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ValidationError(field, `must be a positive number (got ${String(value)})`);
  return value;
}

function checkType(type: unknown, field: string): asserts type is string {
  if (typeof type !== 'string' || type.trim() === '' || type.length > 200) {
    throw new ValidationError(field, 'must be a non-empty string of at most 200 characters');
  }
}

function isShutdown(error: unknown): boolean {
  return AbortError.isInstance(error);
}

function toErrorInfo(error: unknown): JobErrorInfo {
  if (error instanceof Error) {
    const info: JobErrorInfo = { name: error.name, message: error.message };
    if (UxFlowError.isInstance(error)) info.code = error.code;
    if (error.stack !== undefined) info.stack = error.stack.split('\n').slice(0, 10).join('\n');
    return info;
  }
  return { name: 'Error', message: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error) };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toJobInfo<T>(stored: StoredJob): JobInfo<T> {
  const opts = parseJson(stored.opts) as Partial<StoredJobOptions> | undefined;
  return {
    id: stored.id,
    type: stored.type,
    data: parseJson(stored.data) as T,
    state: stored.state,
    priority: stored.priority,
    attemptsMade: stored.attemptsMade,
    maxAttempts: opts?.attempts ?? 1,
    stalledCount: stored.stalledCount,
    progress: parseJson(stored.progress),
    result: parseJson(stored.result),
    error: parseJson(stored.error) as JobErrorInfo | undefined,
    createdAt: stored.createdAt,
    runAt: stored.runAt > 0 ? stored.runAt : undefined,
    processedAt: stored.processedAt,
    finishedAt: stored.finishedAt,
    group: opts?.group,
  };
}
