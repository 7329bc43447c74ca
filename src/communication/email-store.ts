import { defineScript, runPipeline } from '../core/define-script.js';
import { Keyspace } from '../core/keyspace.js';
import type { RedisClient } from '../core/redis-connection.js';
import recordSentSource from './lua/record-sent.lua';
import type { EmailEvent, EmailEventType, SendEmailResult } from './types.js';

/** Why an address is on the suppression list. */
export type SuppressionReason = 'hard-bounce' | 'complaint' | 'unsubscribe' | 'manual';

/** A suppression entry. */
export interface Suppression {
  reason: SuppressionReason;
  /** Epoch ms. */
  at: number;
}

/** Counters of one group (a template, a tag, a day or everything). */
export type EmailCounts = Record<EmailEventType, number>;

/** What {@link EmailStore.getStats} returns. */
export interface EmailStats {
  total: EmailCounts;
  byTemplate: Record<string, EmailCounts>;
  byTag: Record<string, EmailCounts>;
  /** Keyed by UTC day, `YYYY-MM-DD`. */
  byDay: Record<string, EmailCounts>;
}

/** The outcome of claiming an idempotency key. */
export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'sent'; result: SendEmailResult }
  | { state: 'pending'; messageId: string };

const EVENTS: readonly EmailEventType[] = ['sent', 'delivered', 'bounced', 'opened', 'clicked', 'complained', 'unsubscribed'];
const DAY_MS = 86_400_000;
const STATS_TTL_S = 400 * 86_400;
const recordSentScript = defineScript('record-sent', recordSentSource, { numberOfKeys: 2 });

/** Options of {@link EmailStore}. */
export interface EmailStoreOptions {
  redis: RedisClient;
  /** Key prefix. Default `'uxflow'`. */
  prefix?: string;
  /** How long message metadata (template, tags, status) is kept for webhook events, in ms. Default 30 days. */
  messageTtlMs?: number;
}

/**
 * The email block's Redis state: idempotency keys, the suppression list, message metadata and
 * delivery status, event de-duplication, and daily counters per template and tag. All keys live
 * under `prefix:{email}:…` (one Cluster hash tag).
 *
 * @example
 * ```ts
 * const store = new EmailStore({ redis });
 * await store.suppress('bounced@example.com', 'hard-bounce');
 * await store.suppressedAmong(['bounced@example.com', 'ok@example.com']); // Set { 'bounced@example.com' }
 * ```
 */
export class EmailStore {
  private readonly redis: RedisClient;
  private readonly keys: Keyspace;
  private readonly messageTtlMs: number;
  private pendingSent: { messageId: string; template: string | undefined; tags: readonly string[]; at: number }[] = [];
  private scheduledSent: Promise<void> | undefined;

  constructor(options: EmailStoreOptions) {
    this.redis = options.redis;
    this.keys = new Keyspace(options.prefix ?? 'uxflow', 'email');
    this.messageTtlMs = options.messageTtlMs ?? 30 * DAY_MS;
  }

  /** Takes `key` for `messageId` unless it was already used (sent) or is in flight (pending). */
  async claimIdempotency(key: string, messageId: string, lockMs: number): Promise<IdempotencyClaim> {
    const redisKey = this.keys.key('idem', key);
    const taken = await this.redis.set(redisKey, JSON.stringify({ state: 'pending', messageId }), 'PX', lockMs, 'NX');
    if (taken === 'OK') return { state: 'claimed' };
    const raw = await this.redis.get(redisKey);
    if (raw === null) return this.claimIdempotency(key, messageId, lockMs);
    const stored = JSON.parse(raw) as { state: 'pending'; messageId: string } | { state: 'sent'; result: SendEmailResult };
    return stored;
  }

  /** Marks `key` as sent with its result, kept for `ttlMs`. */
  async completeIdempotency(key: string, result: SendEmailResult, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.key('idem', key), JSON.stringify({ state: 'sent', result }), 'PX', ttlMs);
  }

  /** Frees `key` after a failed send, so a retry may send. */
  async releaseIdempotency(key: string): Promise<void> {
    await this.redis.del(this.keys.key('idem', key));
  }

  /**
   * {@link claimIdempotency} for many keys in one round trip (two when some are taken), so a
   * retried batch skips every recipient already sent.
   */
  async claimIdempotencyMany(entries: readonly { key: string; messageId: string }[], lockMs: number): Promise<IdempotencyClaim[]> {
    if (entries.length === 0) return [];
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
          // Expired between the two round trips: try once more on its own.
          claims[index] = raw === null || raw === undefined ? await this.claimIdempotency(entry.key, entry.messageId, lockMs) : (JSON.parse(raw) as IdempotencyClaim);
        }),
      );
    }
    return claims as IdempotencyClaim[];
  }

  /** {@link completeIdempotency} for many keys in one round trip. */
  async completeIdempotencyMany(entries: readonly { key: string; result: SendEmailResult }[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const entry of entries) pipeline.set(this.keys.key('idem', entry.key), JSON.stringify({ state: 'sent', result: entry.result }), 'PX', ttlMs);
    await pipeline.exec();
  }

  /** {@link releaseIdempotency} for many keys in one command. */
  async releaseIdempotencyMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.map((key) => this.keys.key('idem', key)));
  }

  /** Adds an address to the suppression list (lower-cased). */
  async suppress(address: string, reason: SuppressionReason, at: number): Promise<void> {
    await this.redis.hset(this.keys.key('suppressed'), address.toLowerCase(), JSON.stringify({ reason, at } satisfies Suppression));
  }

  /** Removes an address from the suppression list. Returns whether it was there. */
  async unsuppress(address: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.key('suppressed'), address.toLowerCase())) === 1;
  }

  /** The suppression entry of an address, if any. */
  async getSuppression(address: string): Promise<Suppression | undefined> {
    const raw = await this.redis.hget(this.keys.key('suppressed'), address.toLowerCase());
    return raw === null ? undefined : (JSON.parse(raw) as Suppression);
  }

  /** Which of `addresses` are suppressed (lower-cased), in one round trip. */
  async suppressedAmong(addresses: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (addresses.length === 0) return out;
    const lowered = addresses.map((address) => address.toLowerCase());
    const values = await this.redis.hmget(this.keys.key('suppressed'), ...lowered);
    values.forEach((value, index) => {
      const address = lowered[index];
      if (value !== null && address !== undefined) out.add(address);
    });
    return out;
  }

  /** Records a sent message: its metadata for later events, and the `sent` counters. */
  async recordSent(info: { messageId: string; template: string | undefined; tags: readonly string[]; at: number }): Promise<void> {
    await recordSentScript.run(this.redis, this.recordSentKeys(info), this.recordSentArgs(info));
  }

  /** {@link recordSent} for many messages in one round trip. */
  async recordSentMany(infos: readonly { messageId: string; template: string | undefined; tags: readonly string[]; at: number }[]): Promise<void> {
    const results = await runPipeline(
      this.redis,
      infos.map((info) => ({ script: recordSentScript, keys: this.recordSentKeys(info), args: this.recordSentArgs(info) })),
    );
    const failed = results.find((result): result is Error => result instanceof Error);
    if (failed !== undefined) throw failed;
  }

  private recordSentKeys(info: { messageId: string; at: number }): string[] {
    return [this.keys.key('msg', info.messageId), this.keys.key('stats', dayKey(info.at))];
  }

  private recordSentArgs(info: { template: string | undefined; tags: readonly string[]; at: number }): (string | number)[] {
    const args: (string | number)[] = [info.template ?? '', info.tags.join(','), info.at, this.messageTtlMs, STATS_TTL_S, 'all:sent'];
    if (info.template !== undefined) args.push(`template:${info.template}:sent`);
    for (const tag of info.tags) args.push(`tag:${tag}:sent`);
    return args;
  }

  /**
   * {@link recordSent}, gathered with the other sends that finish in the same event-loop turn
   * and written in one pipeline. Reads of this store wait for it, so they always see it.
   */
  recordSentSoon(info: { messageId: string; template: string | undefined; tags: readonly string[]; at: number }): Promise<void> {
    this.pendingSent.push(info);
    this.scheduledSent ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const batch = this.pendingSent;
        this.pendingSent = [];
        this.scheduledSent = undefined;
        this.recordSentMany(batch).then(resolve, reject);
      });
    });
    return this.scheduledSent;
  }

  /** Waits for sends gathered by {@link recordSentSoon} to be written (errors are the senders' to report). */
  async flush(): Promise<void> {
    await this.scheduledSent?.catch(() => undefined);
  }

  /** Message metadata, when still kept. */
  async getMessage(messageId: string): Promise<{ template: string | undefined; tags: string[]; status: string } | undefined> {
    await this.flush();
    const meta = await this.redis.hgetall(this.keys.key('msg', messageId));
    if (meta['status'] === undefined) return undefined;
    return {
      template: meta['template'] === '' ? undefined : meta['template'],
      tags: meta['tags'] === undefined || meta['tags'] === '' ? [] : meta['tags'].split(','),
      status: meta['status'],
    };
  }

  /**
   * Marks `id` as seen for `ttlMs`. Returns `true` the first time, `false` for a duplicate
   * (webhook event ids, Mailgun tokens).
   */
  async firstSeen(kind: string, id: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.key('seen', kind, id), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Applies a delivery event: the message's status and the counters of its template and tags. */
  async recordEvent(event: EmailEvent): Promise<void> {
    const meta = event.messageId === undefined ? undefined : await this.getMessage(event.messageId);
    const pipeline = this.redis.pipeline();
    if (event.messageId !== undefined && meta !== undefined) {
      pipeline.hset(this.keys.key('msg', event.messageId), 'status', event.type);
    }
    this.queueCounters(pipeline, event.type, meta?.template, meta?.tags ?? [], event.timestamp);
    await pipeline.exec();
  }

  /** Counters per template, tag and day between two instants (inclusive days, UTC). */
  async getStats(fromMs: number, toMs: number): Promise<EmailStats> {
    await this.flush();
    const stats: EmailStats = { total: emptyCounts(), byTemplate: {}, byTag: {}, byDay: {} };
    const days: string[] = [];
    for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor(toMs / DAY_MS) && days.length < 400; day++) {
      days.push(dayKey(day * DAY_MS));
    }
    const pipeline = this.redis.pipeline();
    for (const day of days) pipeline.hgetall(this.keys.key('stats', day));
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, value], index) => {
      const day = days[index];
      if (error !== null || day === undefined || typeof value !== 'object' || value === null) return;
      for (const [field, raw] of Object.entries(value as Record<string, string>)) {
        const count = Number(raw);
        const cut = field.lastIndexOf(':');
        const event = field.slice(cut + 1) as EmailEventType;
        if (!EVENTS.includes(event)) continue;
        const group = field.slice(0, cut);
        if (group === 'all') {
          stats.total[event] += count;
          (stats.byDay[day] ??= emptyCounts())[event] += count;
        } else if (group.startsWith('template:')) {
          (stats.byTemplate[group.slice(9)] ??= emptyCounts())[event] += count;
        } else if (group.startsWith('tag:')) {
          (stats.byTag[group.slice(4)] ??= emptyCounts())[event] += count;
        }
      }
    });
    return stats;
  }

  private queueCounters(
    pipeline: ReturnType<RedisClient['pipeline']>,
    event: EmailEventType,
    template: string | undefined,
    tags: readonly string[],
    at: number,
  ): void {
    const key = this.keys.key('stats', dayKey(at));
    pipeline.hincrby(key, `all:${event}`, 1);
    if (template !== undefined) pipeline.hincrby(key, `template:${template}:${event}`, 1);
    for (const tag of tags) pipeline.hincrby(key, `tag:${tag}:${event}`, 1);
    pipeline.expire(key, STATS_TTL_S);
  }
}

function emptyCounts(): EmailCounts {
  return { sent: 0, delivered: 0, bounced: 0, opened: 0, clicked: 0, complained: 0, unsubscribed: 0 };
}

let cachedDay = { index: Number.NaN, key: '' };

function dayKey(ms: number): string {
  const index = Math.floor(ms / DAY_MS);
  if (index !== cachedDay.index) cachedDay = { index, key: new Date(index * DAY_MS).toISOString().slice(0, 10) };
  return cachedDay.key;
}
