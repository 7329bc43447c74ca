import { systemClock, type Clock } from '../core/clock.js';
import { ValidationError } from '../core/validation-error.js';
import { addCounter, counterFields, daysBetween, dayKey, emptyCounts } from './email-counters.js';
import type { EmailStateStore, EmailStats, IdempotencyClaim, SentRecord, StoredMessage, Suppression, SuppressionReason } from './email-state-store.js';
import type { EmailEvent, SendEmailResult } from './types.js';

/** Options of {@link MemoryEmailStore}. */
export interface MemoryEmailStoreOptions {
  /** Time source for every expiry. Default the system clock. */
  clock?: Clock;
  /** How long message metadata (template, tags, status) is kept for delivery events, in ms. Default 30 days. */
  messageTtlMs?: number;
  /**
   * Most idempotency keys, seen ids and messages kept (each); past it the oldest go first, as
   * with Redis `maxmemory`. Default `100_000`.
   */
  maxEntries?: number;
}

type StoredClaim = { state: 'pending'; messageId: string } | { state: 'sent'; result: SendEmailResult };

const DAY_MS = 86_400_000;
const STATS_DAYS = 400;
const SWEEP_EVERY = 1024;

/** A map whose entries expire at a clock time; bounded, oldest insertion evicted first. */
class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private writes = 0;

  constructor(
    private readonly clock: Clock,
    private readonly max: number,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key); // re-inserted last: eviction order follows the latest write
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Replaces the value and keeps the expiry; false when absent. */
  update(key: string, value: V): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined || this.get(key) === undefined) return false;
    entry.value = value;
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}

/**
 * The in-process {@link EmailStateStore}: the same answers as `RedisEmailStore`, with expiry by
 * the injected clock. For tests, development and single-instance services; nothing is shared
 * between processes and everything is lost on restart, so two instances could each send a
 * message with the same idempotency key.
 *
 * @example
 * ```ts
 * import { FakeClock, MemoryEmailStore } from '@ux-flow/common/testing';
 * const clock = new FakeClock();
 * const email = new EnhancedEmailService({ providers, defaultFrom: 'hello@example.com', store: new MemoryEmailStore({ clock }), clock });
 * ```
 */
export class MemoryEmailStore implements EmailStateStore {
  private readonly clock: Clock;
  private readonly messageTtlMs: number;
  private readonly idempotency: ExpiringMap<string>;
  private readonly seen: ExpiringMap<true>;
  private readonly messages: ExpiringMap<StoredMessage>;
  private readonly suppressed = new Map<string, Suppression>();
  private readonly stats = new Map<string, Map<string, number>>();

  constructor(options: MemoryEmailStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.messageTtlMs = positive('messageTtlMs', options.messageTtlMs ?? 30 * DAY_MS);
    const max = positive('maxEntries', options.maxEntries ?? 100_000);
    this.idempotency = new ExpiringMap(this.clock, max);
    this.seen = new ExpiringMap(this.clock, max);
    this.messages = new ExpiringMap(this.clock, max);
  }

  claimIdempotency(key: string, messageId: string, lockMs: number): Promise<IdempotencyClaim> {
    return Promise.resolve(this.claim(key, messageId, lockMs));
  }

  private claim(key: string, messageId: string, lockMs: number): IdempotencyClaim {
    const raw = this.idempotency.get(key);
    if (raw !== undefined) return JSON.parse(raw) as StoredClaim;
    this.idempotency.set(key, JSON.stringify({ state: 'pending', messageId } satisfies StoredClaim), lockMs);
    return { state: 'claimed' };
  }

  completeIdempotency(key: string, result: SendEmailResult, ttlMs: number): Promise<void> {
    this.idempotency.set(key, JSON.stringify({ state: 'sent', result } satisfies StoredClaim), ttlMs);
    return Promise.resolve();
  }

  releaseIdempotency(key: string): Promise<void> {
    this.idempotency.delete(key);
    return Promise.resolve();
  }

  claimIdempotencyMany(entries: readonly { key: string; messageId: string }[], lockMs: number): Promise<IdempotencyClaim[]> {
    return Promise.resolve(entries.map((entry) => this.claim(entry.key, entry.messageId, lockMs)));
  }

  async completeIdempotencyMany(entries: readonly { key: string; result: SendEmailResult }[], ttlMs: number): Promise<void> {
    for (const entry of entries) await this.completeIdempotency(entry.key, entry.result, ttlMs);
  }

  releaseIdempotencyMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.idempotency.delete(key);
    return Promise.resolve();
  }

  suppress(address: string, reason: SuppressionReason, at: number): Promise<void> {
    const key = address.toLowerCase();
    this.suppressed.delete(key);
    this.suppressed.set(key, { reason, at });
    return Promise.resolve();
  }

  unsuppress(address: string): Promise<boolean> {
    return Promise.resolve(this.suppressed.delete(address.toLowerCase()));
  }

  getSuppression(address: string): Promise<Suppression | undefined> {
    const entry = this.suppressed.get(address.toLowerCase());
    return Promise.resolve(entry === undefined ? undefined : { ...entry });
  }

  suppressedAmong(addresses: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const address of addresses) {
      const lowered = address.toLowerCase();
      if (this.suppressed.has(lowered)) out.add(lowered);
    }
    return Promise.resolve(out);
  }

  recordSent(info: SentRecord): Promise<void> {
    this.messages.set(info.messageId, { template: info.template, tags: [...info.tags], status: 'sent' }, this.messageTtlMs);
    this.count(info.at, counterFields('sent', info.template, info.tags));
    return Promise.resolve();
  }

  async recordSentMany(infos: readonly SentRecord[]): Promise<void> {
    for (const info of infos) await this.recordSent(info);
  }

  getMessage(messageId: string): Promise<StoredMessage | undefined> {
    const message = this.messages.get(messageId);
    return Promise.resolve(message === undefined ? undefined : { ...message, tags: [...message.tags] });
  }

  firstSeen(kind: string, id: string, ttlMs: number): Promise<boolean> {
    const key = `${kind}\u0000${id}`;
    if (this.seen.get(key) !== undefined) return Promise.resolve(false);
    this.seen.set(key, true, ttlMs);
    return Promise.resolve(true);
  }

  recordEvent(event: EmailEvent): Promise<void> {
    const message = event.messageId === undefined ? undefined : this.messages.get(event.messageId);
    if (event.messageId !== undefined && message !== undefined) this.messages.update(event.messageId, { ...message, status: event.type });
    this.count(event.timestamp, counterFields(event.type, message?.template, message?.tags ?? []));
    return Promise.resolve();
  }

  getStats(fromMs: number, toMs: number): Promise<EmailStats> {
    const stats: EmailStats = { total: emptyCounts(), byTemplate: {}, byTag: {}, byDay: {} };
    for (const day of daysBetween(fromMs, toMs)) {
      const counters = this.stats.get(day);
      if (counters !== undefined) for (const [field, count] of counters) addCounter(stats, day, field, count);
    }
    return Promise.resolve(stats);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  private count(at: number, fields: readonly string[]): void {
    const day = dayKey(at);
    let counters = this.stats.get(day);
    if (counters === undefined) {
      counters = new Map();
      this.stats.set(day, counters);
      // Counters are kept 400 days, as in Redis.
      const oldest = dayKey(this.clock.now() - STATS_DAYS * DAY_MS);
      for (const kept of this.stats.keys()) if (kept < oldest) this.stats.delete(kept);
    }
    for (const field of fields) counters.set(field, (counters.get(field) ?? 0) + 1);
  }
}

function positive(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ValidationError(field, `must be a positive integer (got ${String(value)})`);
  return value;
}
