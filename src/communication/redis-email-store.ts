import type { ChainableCommander } from 'ioredis';
import { Keyspace } from '../core/keyspace.js';
import type { RedisClient } from '../core/redis-connection.js';
import { ValidationError } from '../core/validation-error.js';
import { addCounter, counterFields, daysBetween, dayKey, emptyCounts } from './email-counters.js';
import type { EmailStateStore, EmailStats, IdempotencyClaim, SentRecord, StoredMessage, Suppression, SuppressionReason } from './email-state-store.js';
import { guardRedis } from './guard-redis.js';
import { RedisBatcher, type PipelineReply } from './redis-batcher.js';
import type { EmailEvent, EmailEventType, SendEmailResult } from './types.js';

const DAY_MS = 86_400_000;
const STATS_TTL_S = 400 * 86_400;

type StoredClaim = { state: 'pending'; messageId: string } | { state: 'sent'; result: SendEmailResult };

/** Options of {@link RedisEmailStore}. */
export interface RedisEmailStoreOptions {
  /** An ioredis client (single node or Cluster); the store never closes it. */
  redis: RedisClient;
  /** Key prefix. Default `'uxflow'`. */
  prefix?: string;
  /** How long message metadata (template, tags, status) is kept for webhook events, in ms. Default 30 days. */
  messageTtlMs?: number;
  /**
   * Longest wait for Redis per operation, in ms; then (or at once while the connection is down or
   * reconnecting) the operation fails with `EmailStateUnavailableError`. Default `3000`.
   */
  timeoutMs?: number;
}

/**
 * The {@link EmailStateStore} on Redis, shared by every process of a service: idempotency keys
 * (`SET NX PX`), the suppression list (one hash), message metadata, event de-duplication and daily
 * counters (hashes kept 400 days). All keys live under `prefix:{email}:…` (one Cluster hash tag).
 * Every operation is bounded by `timeoutMs`, so a send never hangs on a Redis that is away.
 *
 * @example
 * ```ts
 * const store = new RedisEmailStore({ redis });
 * await store.suppress('bounced@example.com', 'hard-bounce', Date.now());
 * await store.suppressedAmong(['bounced@example.com', 'ok@example.com']); // Set { 'bounced@example.com' }
 * ```
 */
export class RedisEmailStore implements EmailStateStore {
  /** The client the store writes to (the service reuses it for its caps). */
  readonly redis: RedisClient;
  private readonly keys: Keyspace;
  private readonly messageTtlMs: number;
  private readonly timeoutMs: number;
  /** Batches the per-send commands with the caps' (single-node clients). */
  private readonly batcher: RedisBatcher | undefined;
  /** The client for the per-send commands: through the batcher when there is one. */
  private readonly commands: RedisClient;
  /** Sent records waiting for their write; the write takes every record gathered until it goes out. */
  private pendingSent: SentRecord[] = [];
  private scheduledSent: Promise<void> | undefined;
  private readonly sentWrites = new Set<Promise<void>>();

  constructor(options: RedisEmailStoreOptions) {
    this.redis = options.redis;
    this.batcher = RedisBatcher.for(options.redis);
    this.commands = this.batcher?.client ?? options.redis;
    this.keys = new Keyspace(options.prefix ?? 'uxflow', 'email');
    this.messageTtlMs = positive('messageTtlMs', options.messageTtlMs ?? 30 * DAY_MS);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 3000);
  }

  private run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return guardRedis(this.redis, this.timeoutMs, operation, fn);
  }

  async claimIdempotency(key: string, messageId: string, lockMs: number): Promise<IdempotencyClaim> {
    return this.run('claimIdempotency', () => this.claimOne(key, messageId, lockMs));
  }

  private async claimOne(key: string, messageId: string, lockMs: number): Promise<IdempotencyClaim> {
    const redisKey = this.keys.key('idem', key);
    for (;;) {
      const taken = await this.commands.set(redisKey, JSON.stringify({ state: 'pending', messageId }), 'PX', lockMs, 'NX');
      if (taken === 'OK') return { state: 'claimed' };
      const raw = await this.commands.get(redisKey);
      // Expired between the two commands: try again.
      if (raw !== null) return JSON.parse(raw) as StoredClaim;
    }
  }

  async completeIdempotency(key: string, result: SendEmailResult, ttlMs: number): Promise<void> {
    await this.run('completeIdempotency', () => this.commands.set(this.keys.key('idem', key), JSON.stringify({ state: 'sent', result }), 'PX', ttlMs));
  }

  async releaseIdempotency(key: string): Promise<void> {
    await this.run('releaseIdempotency', () => this.commands.del(this.keys.key('idem', key)));
  }

  /** Claims every key in one round trip (two when some are taken), so a retried batch skips every recipient already sent. */
  async claimIdempotencyMany(entries: readonly { key: string; messageId: string }[], lockMs: number): Promise<IdempotencyClaim[]> {
    if (entries.length === 0) return [];
    return this.run('claimIdempotencyMany', async () => {
      const pipeline = this.redis.pipeline();
      for (const entry of entries) pipeline.set(this.keys.key('idem', entry.key), JSON.stringify({ state: 'pending', messageId: entry.messageId }), 'PX', lockMs, 'NX');
      const replies = (await pipeline.exec()) ?? [];
      const claims: (IdempotencyClaim | undefined)[] = entries.map((_, index) => {
        const [error, value] = replies[index] ?? [new Error('no reply from Redis'), undefined];
        if (error !== null) throw error;
        return value === 'OK' ? { state: 'claimed' } : undefined;
      });
      const taken = claims.flatMap((claim, index) => (claim === undefined ? [index] : []));
      if (taken.length > 0) {
        const values = await this.redis.mget(...taken.map((index) => this.keys.key('idem', (entries[index] as { key: string }).key)));
        await Promise.all(
          taken.map(async (index, position) => {
            const raw = values[position];
            const entry = entries[index] as { key: string; messageId: string };
            claims[index] = raw === null || raw === undefined ? await this.claimOne(entry.key, entry.messageId, lockMs) : (JSON.parse(raw) as StoredClaim);
          }),
        );
      }
      return claims as IdempotencyClaim[];
    });
  }

  async completeIdempotencyMany(entries: readonly { key: string; result: SendEmailResult }[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    await this.run('completeIdempotencyMany', async () => {
      const pipeline = this.redis.pipeline();
      for (const entry of entries) pipeline.set(this.keys.key('idem', entry.key), JSON.stringify({ state: 'sent', result: entry.result }), 'PX', ttlMs);
      await pipeline.exec();
    });
  }

  async releaseIdempotencyMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.run('releaseIdempotencyMany', () => this.redis.del(...keys.map((key) => this.keys.key('idem', key))));
  }

  async suppress(address: string, reason: SuppressionReason, at: number): Promise<void> {
    await this.run('suppress', () => this.redis.hset(this.keys.key('suppressed'), address.toLowerCase(), JSON.stringify({ reason, at } satisfies Suppression)));
  }

  async unsuppress(address: string): Promise<boolean> {
    return (await this.run('unsuppress', () => this.redis.hdel(this.keys.key('suppressed'), address.toLowerCase()))) === 1;
  }

  async getSuppression(address: string): Promise<Suppression | undefined> {
    const raw = await this.run('getSuppression', () => this.redis.hget(this.keys.key('suppressed'), address.toLowerCase()));
    return raw === null ? undefined : (JSON.parse(raw) as Suppression);
  }

  /** Which of `addresses` are suppressed, in one `HMGET`. */
  async suppressedAmong(addresses: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (addresses.length === 0) return out;
    const lowered = addresses.map((address) => address.toLowerCase());
    const values = await this.run('suppressedAmong', () => this.commands.hmget(this.keys.key('suppressed'), ...lowered));
    values.forEach((value, index) => {
      const address = lowered[index];
      if (value !== null && address !== undefined) out.add(address);
    });
    return out;
  }

  /**
   * Gathers records into one write: with a batcher, the write goes out with the next pipeline of
   * state commands and takes every record made until then; otherwise the records of one
   * event-loop turn. Reads of this store wait for it, so they always see it.
   */
  recordSent(info: SentRecord): Promise<void> {
    return this.run('recordSent', () => {
      this.pendingSent.push(info);
      if (this.scheduledSent !== undefined) return this.scheduledSent;
      const takeBatch = (): SentRecord[] => {
        const batch = this.pendingSent;
        this.pendingSent = [];
        this.scheduledSent = undefined;
        return batch;
      };
      const write =
        this.batcher === undefined
          ? new Promise<void>((resolve, reject) => {
              setImmediate(() => {
                this.recordSentMany(takeBatch()).then(resolve, reject);
              });
            })
          : this.batcher.pipeline((pipeline) => this.queueSent(pipeline, takeBatch())).then(throwFirstError);
      this.scheduledSent = write;
      this.sentWrites.add(write);
      const done = (): void => {
        this.sentWrites.delete(write);
      };
      write.then(done, done);
      return write;
    });
  }

  /** Writes the records in one pipeline. */
  async recordSentMany(infos: readonly SentRecord[]): Promise<void> {
    if (infos.length === 0) return;
    await this.run('recordSent', async () => {
      if (this.batcher !== undefined) {
        throwFirstError(await this.batcher.pipeline((pipeline) => this.queueSent(pipeline, infos)));
        return;
      }
      const pipeline = this.redis.pipeline();
      this.queueSent(pipeline, infos);
      throwFirstError((await pipeline.exec()) ?? []);
    });
  }

  /**
   * Queues sent records: each message's metadata (`HSET` + `PEXPIRE`), and the counters of the
   * whole batch summed per day and field (one `HINCRBY` each, one `EXPIRE` per day). Returns the
   * number of commands queued.
   */
  private queueSent(pipeline: ChainableCommander, infos: readonly SentRecord[]): number {
    let commands = 0;
    const days = new Map<string, Map<string, number>>();
    for (const info of infos) {
      const key = this.keys.key('msg', info.messageId);
      pipeline.hset(key, 'template', info.template ?? '', 'tags', info.tags.join(','), 'status', 'sent', 'at', info.at);
      pipeline.pexpire(key, this.messageTtlMs);
      commands += 2;
      const day = dayKey(info.at);
      let counts = days.get(day);
      if (counts === undefined) {
        counts = new Map();
        days.set(day, counts);
      }
      for (const field of counterFields('sent', info.template, info.tags)) counts.set(field, (counts.get(field) ?? 0) + 1);
    }
    for (const [day, counts] of days) {
      const key = this.keys.key('stats', day);
      for (const [field, count] of counts) pipeline.hincrby(key, field, count);
      pipeline.expire(key, STATS_TTL_S);
      commands += counts.size + 1;
    }
    return commands;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.sentWrites]);
  }

  async getMessage(messageId: string): Promise<StoredMessage | undefined> {
    await this.flush();
    const meta = await this.run('getMessage', () => this.redis.hgetall(this.keys.key('msg', messageId)));
    if (meta['status'] === undefined) return undefined;
    return {
      template: meta['template'] === '' ? undefined : meta['template'],
      tags: meta['tags'] === undefined || meta['tags'] === '' ? [] : meta['tags'].split(','),
      status: meta['status'],
    };
  }

  async firstSeen(kind: string, id: string, ttlMs: number): Promise<boolean> {
    return (await this.run('firstSeen', () => this.redis.set(this.keys.key('seen', kind, id), '1', 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async recordEvent(event: EmailEvent): Promise<void> {
    const meta = event.messageId === undefined ? undefined : await this.getMessage(event.messageId);
    await this.run('recordEvent', async () => {
      const pipeline = this.redis.pipeline();
      if (event.messageId !== undefined && meta !== undefined) pipeline.hset(this.keys.key('msg', event.messageId), 'status', event.type);
      this.queueCounters(pipeline, event.type, meta?.template, meta?.tags ?? [], event.timestamp);
      await pipeline.exec();
    });
  }

  async getStats(fromMs: number, toMs: number): Promise<EmailStats> {
    await this.flush();
    const stats: EmailStats = { total: emptyCounts(), byTemplate: {}, byTag: {}, byDay: {} };
    const days = daysBetween(fromMs, toMs);
    const replies = await this.run('getStats', async () => {
      const pipeline = this.redis.pipeline();
      for (const day of days) pipeline.hgetall(this.keys.key('stats', day));
      return (await pipeline.exec()) ?? [];
    });
    replies.forEach(([error, value], index) => {
      const day = days[index];
      if (error !== null || day === undefined || typeof value !== 'object' || value === null) return;
      for (const [field, raw] of Object.entries(value as Record<string, string>)) addCounter(stats, day, field, Number(raw));
    });
    return stats;
  }

  private queueCounters(pipeline: ReturnType<RedisClient['pipeline']>, event: EmailEventType, template: string | undefined, tags: readonly string[], at: number): void {
    const key = this.keys.key('stats', dayKey(at));
    for (const field of counterFields(event, template, tags)) pipeline.hincrby(key, field, 1);
    pipeline.expire(key, STATS_TTL_S);
  }
}

function throwFirstError(replies: readonly PipelineReply[]): void {
  for (const [error] of replies) if (error !== null) throw error;
}

function positive(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ValidationError(field, `must be a positive integer (got ${String(value)})`);
  return value;
}
