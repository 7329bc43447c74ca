import type { Redis } from 'ioredis';
import { Keyspace } from '../core/keyspace.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { closeRedisConnection, createRedisConnection, isRedisClient, type RedisConnection, type RedisConnectionInput } from '../core/redis-connection.js';
import { ValidationError } from '../core/validation-error.js';
import type { JobErrorInfo } from './job.js';
import { QueueError } from './queue-error.js';

/** What every global event carries. */
export interface GlobalJobEvent {
  /** The stream entry id (`<ms>-<seq>`); pass it as `lastEventId` to resume after it. */
  eventId: string;
  /** When Redis recorded the event (epoch ms, from the entry id). */
  timestamp: number;
  jobId: string;
  type: string;
}

/** The global events of a queue, written by every process when `globalEvents` is on. */
export interface GlobalQueueEventMap {
  /** A job was added and is waiting. */
  added: GlobalJobEvent;
  /** A job was added with a delay (or a schedule planned a tick); `runAt` is when it is due. */
  delayed: GlobalJobEvent & { runAt: number };
  completed: GlobalJobEvent & { attempt: number; result: unknown };
  /** An attempt failed; `willRetry` says whether another one follows. */
  failed: GlobalJobEvent & { attempt: number; error: JobErrorInfo; willRetry: boolean };
  /** The job runs again at `runAt` (0: at once). */
  retrying: GlobalJobEvent & { attempt: number; runAt: number };
  /** The job failed for good (all attempts used, unrecoverable, or stalled too often). */
  dead: GlobalJobEvent & { error: JobErrorInfo };
  progress: GlobalJobEvent & { progress: unknown };
  /** The stalled checker found the job's lock expired; `failed` when it stalled too often. */
  stalled: GlobalJobEvent & { failed: boolean };
  /** Reading the stream failed; the listener retries on its own. */
  error: Error;
}

/** A listener of global event `E`. */
export type GlobalQueueListener<E extends keyof GlobalQueueEventMap> = (event: GlobalQueueEventMap[E]) => void;

/** Options of {@link GlobalQueueEvents}. */
export interface GlobalQueueEventsOptions {
  /** The queue's name. Default `'default'`. */
  name?: string;
  /** The queue's key prefix. Default `'uxflow'`. */
  prefix?: string;
  /**
   * An ioredis client (duplicated: blocking reads need their own connection), a URL or connection
   * options. Default `REDIS_URL`.
   */
  redis?: RedisConnectionInput;
  /** Start after this stream entry id; `'$'` means events from now on. Default `'$'`. */
  lastEventId?: string;
  /** Longest single `XREAD BLOCK`, in ms. Default `5_000`. */
  blockTimeoutMs?: number;
  /** Entries read per call. Default `500`. */
  batchSize?: number;
  /** Default silent. */
  logger?: Logger;
}

type StreamReply = [string, [string, string[]][]][] | null;

/**
 * Listens to a queue's global events from any process (like BullMQ's `QueueEvents`): the queue's
 * transitions append them to a bounded Redis stream when the queue has `globalEvents` on, and
 * this reads the stream with `XREAD BLOCK` on its own connection. After a dropped connection or
 * a Redis restart it resumes from the last event it delivered, so no event still in the stream is
 * missed or repeated.
 *
 * @example
 * ```ts
 * const events = new GlobalQueueEvents({ redis: 'redis://127.0.0.1:6379', name: 'emails' });
 * events.on('completed', (event) => console.log(event.jobId, event.result));
 * events.on('dead', (event) => alert(event.jobId, event.error.message));
 * await events.waitUntilReady();
 * // ...
 * await events.close();
 * ```
 */
export class GlobalQueueEvents {
  /** The queue's name. */
  readonly name: string;
  private readonly streamKey: string;
  private readonly connection: RedisConnection;
  private readonly client: Redis;
  private readonly blockTimeoutMs: number;
  private readonly batchSize: number;
  private readonly logger: Logger;
  private readonly listeners = new Map<keyof GlobalQueueEventMap, Set<(event: never) => void>>();
  private lastId: string;
  private closed = false;
  private readonly ready: Promise<void>;
  private readonly loop: Promise<void>;

  constructor(options: GlobalQueueEventsOptions = {}) {
    this.name = options.name ?? 'default';
    if (typeof this.name !== 'string' || this.name === '' || /[{}]/.test(this.name)) {
      throw new ValidationError('name', 'must be a non-empty string without { or }');
    }
    this.streamKey = new Keyspace(options.prefix ?? 'uxflow', `queue:${this.name}`).key('events');
    this.lastId = options.lastEventId ?? '$';
    if (typeof this.lastId !== 'string' || !/^(\$|\d+(-\d+)?)$/.test(this.lastId)) {
      throw new ValidationError('lastEventId', `must be '$' or a stream id like '1700000000000-0' (got ${this.lastId})`);
    }
    this.blockTimeoutMs = options.blockTimeoutMs ?? 5_000;
    if (!Number.isSafeInteger(this.blockTimeoutMs) || this.blockTimeoutMs < 1) throw new ValidationError('blockTimeoutMs', 'must be a positive integer');
    this.batchSize = options.batchSize ?? 500;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) throw new ValidationError('batchSize', 'must be a positive integer');
    this.logger = options.logger ?? createSilentLogger();
    const input = options.redis;
    if (input !== undefined && isRedisClient(input)) {
      // A blocking read would stall every other command of a shared client.
      this.connection = { client: input.duplicate(), owned: true };
    } else {
      this.connection = createRedisConnection(input);
    }
    this.client = this.connection.client as Redis;
    this.client.on('error', (error: unknown) => {
      this.logger.debug({ err: error, queue: this.name }, 'global events connection error');
    });
    this.ready = this.resolveStart();
    this.ready.catch(() => undefined);
    this.loop = this.run();
  }

  /** Resolves once the listener has fixed its start point: events written after this are seen. */
  waitUntilReady(): Promise<void> {
    return this.ready;
  }

  /** The id of the last event delivered (or the start point); resume from it with `lastEventId`. */
  get lastEventId(): string {
    return this.lastId;
  }

  /** Subscribes to a global event. */
  on<E extends keyof GlobalQueueEventMap>(event: E, listener: GlobalQueueListener<E>): this {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  /** Unsubscribes a listener. */
  off<E extends keyof GlobalQueueEventMap>(event: E, listener: GlobalQueueListener<E>): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  /** Stops reading and closes the listener's connection. Idempotent. */
  close(): Promise<void> {
    return this.closeOnce();
  }

  private readonly closeOnce = once(async () => {
    this.closed = true;
    // Ends a pending XREAD BLOCK at once.
    this.client.disconnect();
    await this.loop;
    await closeRedisConnection(this.connection);
  });

  /** `'$'` is turned into the stream's current last id once, so a reconnect never skips events. */
  private async resolveStart(): Promise<void> {
    for (let delayMs = 50; ; delayMs = Math.min(2_000, delayMs * 2)) {
      if (this.lastId !== '$' || this.closed) return;
      try {
        const last = (await this.client.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as [string, string[]][];
        this.lastId = last[0]?.[0] ?? '0-0';
        return;
      } catch (error) {
        if (this.closed) return;
        this.emit('error', error instanceof Error ? error : new QueueError('reading the events stream failed', { cause: error }));
        await sleep(delayMs);
      }
    }
  }

  private async run(): Promise<void> {
    await this.ready.catch(() => undefined);
    let delayMs = 0;
    while (!this.closed) {
      let reply: StreamReply;
      try {
        reply = (await this.client.xread('COUNT', this.batchSize, 'BLOCK', this.blockTimeoutMs, 'STREAMS', this.streamKey, this.lastId));
        delayMs = 0;
      } catch (error) {
        if (this.closed) return;
        this.emit('error', error instanceof Error ? error : new QueueError('reading the events stream failed', { cause: error }));
        delayMs = Math.min(2_000, Math.max(50, delayMs * 2));
        await sleep(delayMs);
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.lastId = id;
          this.deliver(id, fields);
        }
      }
    }
  }

  private deliver(id: string, fields: readonly string[]): void {
    const entry: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i] as string] = fields[i + 1] ?? '';
    const name = entry['event'];
    const base: GlobalJobEvent = { eventId: id, timestamp: Number(id.slice(0, id.indexOf('-'))), jobId: entry['jobId'] ?? '', type: entry['type'] ?? '' };
    switch (name) {
      case 'added':
        this.emit('added', base);
        break;
      case 'delayed':
        this.emit('delayed', { ...base, runAt: Number(entry['runAt']) });
        break;
      case 'completed':
        this.emit('completed', { ...base, attempt: Number(entry['attempt']), result: parse(entry['result']) });
        break;
      case 'failed':
        this.emit('failed', { ...base, attempt: Number(entry['attempt']), error: parse(entry['error']) as JobErrorInfo, willRetry: entry['willRetry'] === '1' });
        break;
      case 'retrying':
        this.emit('retrying', { ...base, attempt: Number(entry['attempt']), runAt: Number(entry['runAt']) });
        break;
      case 'dead':
        this.emit('dead', { ...base, error: parse(entry['error']) as JobErrorInfo });
        break;
      case 'progress':
        this.emit('progress', { ...base, progress: parse(entry['progress']) });
        break;
      case 'stalled':
        this.emit('stalled', { ...base, failed: entry['failed'] === '1' });
        break;
      default:
        // An event name from a newer version: skip it.
        break;
    }
  }

  private emit<E extends keyof GlobalQueueEventMap>(event: E, payload: GlobalQueueEventMap[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) {
      if (event === 'error') this.logger.warn({ err: payload, queue: this.name }, 'global events error');
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as GlobalQueueListener<E>)(payload);
      } catch (error) {
        if (event === 'error') this.logger.error({ err: error }, 'global events error listener threw');
        else this.emit('error', error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}

function parse(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}
