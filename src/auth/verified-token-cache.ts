import { hash } from 'node:crypto';
import { type Clock, systemClock, ValidationError } from '../core/index.js';

/** Options of {@link VerifiedTokenCache}. */
export interface VerifiedTokenCacheOptions {
  /** Entries kept at most; the least recently used go first. Default `10_000`. */
  maxEntries?: number;
  /** Longest an entry lives, whatever the token's `exp`. Default `300_000` (5 min). */
  maxTtlMs?: number;
  /** Time source. Default the system clock. */
  clock?: Clock;
}

interface Entry<T> {
  value: T;
  expiresAtMs: number;
}

/**
 * A bounded LRU of verified tokens (the @fastify/jwt approach): the key is the SHA-256 of the
 * token (raw tokens are never kept), an entry never outlives the token's `exp` nor `maxTtlMs`,
 * and only successes are stored. Revocation and user status are checked by the caller on every
 * hit, so caching never extends a revoked token's life.
 *
 * @example
 * ```ts
 * const cache = new VerifiedTokenCache<Claims>({ maxEntries: 5_000 });
 * cache.set(token, claims, claims.exp * 1000);
 * cache.get(token); // claims until exp
 * ```
 */
export class VerifiedTokenCache<T> {
  readonly maxEntries: number;
  readonly maxTtlMs: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry<T>>();

  constructor(options: VerifiedTokenCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxTtlMs = options.maxTtlMs ?? 300_000;
    this.clock = options.clock ?? systemClock;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new ValidationError('cache.maxEntries', 'must be a positive integer');
    }
    if (!Number.isSafeInteger(this.maxTtlMs) || this.maxTtlMs < 1) {
      throw new ValidationError('cache.maxTtlMs', 'must be a positive integer');
    }
  }

  /** Entries currently held (expired ones included until touched or evicted). */
  get size(): number {
    return this.entries.size;
  }

  /** The cache key of a token: its SHA-256, base64url. */
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The value stored for `key` if it has not expired; refreshes its LRU position. */
  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until `expiresAtMs` (epoch ms; capped at now + `maxTtlMs`). */
  set(key: string, value: T, expiresAtMs: number): void {
    const now = this.clock.now();
    const until = Math.min(expiresAtMs, now + this.maxTtlMs);
    if (!(until > now)) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: until });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  /** Removes one entry. */
  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.entries.clear();
  }
}
