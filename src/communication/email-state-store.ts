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

/** What {@link EmailStateStore.getStats} returns. */
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

/** A sent message, as recorded for later delivery events and the `sent` counters. */
export interface SentRecord {
  messageId: string;
  template: string | undefined;
  tags: readonly string[];
  /** Epoch ms of the send; picks the UTC day of the counters. */
  at: number;
}

/** What {@link EmailStateStore.getMessage} returns. */
export interface StoredMessage {
  template: string | undefined;
  tags: string[];
  /** `'sent'`, or the type of the latest delivery event. */
  status: string;
}

/**
 * Where the email service keeps its state: idempotency keys, the suppression list, message
 * metadata and delivery status, event de-duplication, and counters per template, tag and day.
 *
 * `RedisEmailStore` shares that state between every process on one Redis; `MemoryEmailStore`
 * keeps it in the process (tests, development, a single instance). Both pass the same
 * conformance suite. Expiry (`lockMs`, `ttlMs`) is measured by Redis for the Redis store and by
 * the injected clock for the memory store.
 *
 * @example
 * ```ts
 * const store: EmailStateStore = new MemoryEmailStore();
 * const email = new EnhancedEmailService({ providers, defaultFrom: 'hello@example.com', store });
 * ```
 */
export interface EmailStateStore {
  /**
   * Takes `key` for `messageId`, locked for `lockMs`, unless it was already used (`sent`, with
   * the first result) or another send holds it (`pending`). Atomic across the store's users.
   */
  claimIdempotency(key: string, messageId: string, lockMs: number): Promise<IdempotencyClaim>;
  /** Marks `key` as sent with its result, kept for `ttlMs`. */
  completeIdempotency(key: string, result: SendEmailResult, ttlMs: number): Promise<void>;
  /** Frees `key` after a failed send, so a retry may send. */
  releaseIdempotency(key: string): Promise<void>;
  /** {@link EmailStateStore.claimIdempotency} for many keys at once; claims in the order given. */
  claimIdempotencyMany(entries: readonly { key: string; messageId: string }[], lockMs: number): Promise<IdempotencyClaim[]>;
  /** {@link EmailStateStore.completeIdempotency} for many keys at once. */
  completeIdempotencyMany(entries: readonly { key: string; result: SendEmailResult }[], ttlMs: number): Promise<void>;
  /** {@link EmailStateStore.releaseIdempotency} for many keys at once. */
  releaseIdempotencyMany(keys: readonly string[]): Promise<void>;

  /** Adds an address to the suppression list (lower-cased), replacing an earlier entry. */
  suppress(address: string, reason: SuppressionReason, at: number): Promise<void>;
  /** Removes an address from the suppression list. Returns whether it was there. */
  unsuppress(address: string): Promise<boolean>;
  /** The suppression entry of an address (any case), if any. */
  getSuppression(address: string): Promise<Suppression | undefined>;
  /** Which of `addresses` are suppressed, lower-cased. */
  suppressedAmong(addresses: readonly string[]): Promise<Set<string>>;

  /**
   * Records a sent message: its metadata (kept for the store's message TTL, for later events)
   * and the `sent` counters of its day, template and tags. A store may gather the records of
   * one event-loop turn into one write; its reads always see them.
   */
  recordSent(info: SentRecord): Promise<void>;
  /** {@link EmailStateStore.recordSent} for many messages at once. */
  recordSentMany(infos: readonly SentRecord[]): Promise<void>;
  /** Message metadata, while still kept. */
  getMessage(messageId: string): Promise<StoredMessage | undefined>;
  /**
   * Marks `id` of `kind` as seen for `ttlMs`. `true` the first time, `false` for a duplicate
   * inside that time (webhook event ids, Mailgun tokens, opens and clicks).
   */
  firstSeen(kind: string, id: string, ttlMs: number): Promise<boolean>;
  /** Applies a delivery event: the message's status (when known) and the counters of its day, template and tags. */
  recordEvent(event: EmailEvent): Promise<void>;
  /** Counters per template, tag and day between two instants (inclusive UTC days, at most 400). */
  getStats(fromMs: number, toMs: number): Promise<EmailStats>;
  /** Waits until gathered writes are stored (their errors are reported to the writers). */
  flush(): Promise<void>;
}
