import { type Clock, systemClock } from './clock.js';
import { defineScript, type RedisScript } from './define-script.js';
import slidingWindowSource from './lua/sliding-window-consume.lua';
import { RateLimitError } from './rate-limit-error.js';
import type { RedisClient } from './redis-connection.js';
import { ValidationError } from './validation-error.js';

/** One limit: at most `limit` units in any sliding window of `windowMs`. */
export interface RateLimitRule {
  /** Units allowed per window (a positive integer). */
  limit: number;
  /** Window length in ms (a positive integer). */
  windowMs: number;
}

/** The answer of a limiter for one key. */
export interface RateLimitResult {
  /** Whether the units were granted (and charged). */
  allowed: boolean;
  /** The tightest rule's limit. */
  limit: number;
  /** Units still available under the tightest rule after this call. */
  remaining: number;
  /**
   * When refused: ms until the request would be allowed. 0 when allowed. It can exceed the
   * rule's `windowMs` (by up to `windowMs × cost / limit`, after a window filled early): the
   * sliding-window estimate keeps counting the previous window's share as it decays.
   */
  retryAfterMs: number;
  /** ms until the longest rule's current fixed window ends (for `RateLimit-Reset`). */
  resetMs: number;
}

/**
 * A rate limiter: the Redis one in production, the in-memory one in tests and single-process
 * development. Both give the same answers for the same sequence of calls and times.
 */
export interface RateLimiter {
  /** The rules every key is held to. */
  readonly rules: readonly RateLimitRule[];
  /** Charges `cost` units (default 1) to `key` if every rule allows it; charges nothing otherwise. */
  consume(key: string, cost?: number): Promise<RateLimitResult>;
  /** Like `consume`, but throws {@link RateLimitError} when refused. */
  consumeOrThrow(key: string, cost?: number): Promise<RateLimitResult>;
  /** The state of `key` without charging it. */
  peek(key: string): Promise<RateLimitResult>;
  /** Forgets `key` (e.g. after a successful login). */
  reset(key: string): Promise<void>;
}

/** Options shared by both limiters. */
export interface RateLimiterOptions {
  /** One rule, or several checked together (e.g. 100/hour and 1,000/day). */
  rules: RateLimitRule | readonly RateLimitRule[];
  /** Time source. Default the system clock. */
  clock?: Clock;
}

/** Options of {@link RedisRateLimiter}. */
export interface RedisRateLimiterOptions extends RateLimiterOptions {
  /** An ioredis client (single node or Cluster); the limiter never closes it. */
  redis: RedisClient;
  /** Names this limiter's keys, e.g. `'auth-failures'`. */
  name: string;
  /** Key prefix. Default `'uxflow'`. */
  prefix?: string;
}

function normaliseRules(rules: RateLimitRule | readonly RateLimitRule[]): readonly RateLimitRule[] {
  const list: readonly RateLimitRule[] = Array.isArray(rules) ? rules : [rules as RateLimitRule];
  if (list.length === 0) throw new ValidationError('rules', 'must hold at least one rule');
  list.forEach((rule, index) => {
    for (const field of ['limit', 'windowMs'] as const) {
      const value = rule?.[field];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new ValidationError(`rules[${index}].${field}`, `must be a positive integer (got ${String(value)})`);
      }
    }
  });
  return Object.freeze(list.map((rule) => Object.freeze({ limit: rule.limit, windowMs: rule.windowMs })));
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new ValidationError('key', 'must be a non-empty string');
  if (key.length > 512) throw new ValidationError('key', 'must be at most 512 characters');
}

function checkCost(cost: number, smallest: number): void {
  if (!Number.isSafeInteger(cost) || cost < 1) throw new ValidationError('cost', `must be a positive integer (got ${cost})`);
  if (cost > smallest) throw new ValidationError('cost', `must not exceed the smallest limit, ${smallest} (got ${cost})`);
}

abstract class BaseRateLimiter implements RateLimiter {
  readonly rules: readonly RateLimitRule[];
  protected readonly clock: Clock;
  /** The smallest limit: the most a single call may cost, and the `limit` reported. */
  protected readonly tightest: number;

  constructor(options: RateLimiterOptions) {
    this.rules = normaliseRules(options.rules);
    this.clock = options.clock ?? systemClock;
    this.tightest = Math.min(...this.rules.map((rule) => rule.limit));
  }

  consume(key: string, cost = 1): Promise<RateLimitResult> {
    // Not `async`: the hot path hands back evaluate()'s promise without extra microtask hops.
    try {
      checkKey(key);
      checkCost(cost, this.tightest);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.evaluate(key, cost);
  }

  async consumeOrThrow(key: string, cost = 1): Promise<RateLimitResult> {
    const result = await this.consume(key, cost);
    if (!result.allowed) throw new RateLimitError(key, result);
    return result;
  }

  peek(key: string): Promise<RateLimitResult> {
    try {
      checkKey(key);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.evaluate(key, 0);
  }

  abstract reset(key: string): Promise<void>;
  protected abstract evaluate(key: string, cost: number): Promise<RateLimitResult>;
}

/**
 * A sliding-window rate limiter in Redis: one Lua script checks and charges every rule
 * atomically, so any number of service instances share the limits exactly.
 *
 * The window is a sliding-window counter (two fixed windows, the previous one weighted by how
 * much of it still overlaps): O(1) memory per key whatever the limit, never more than `limit`
 * in any aligned window, smooth across window edges. Keys expire on their own after two windows.
 *
 * @example
 * ```ts
 * const limiter = new RedisRateLimiter({
 *   redis, name: 'email-domain',
 *   rules: [{ limit: 500, windowMs: 3_600_000 }, { limit: 5_000, windowMs: 86_400_000 }],
 * });
 * const { allowed, retryAfterMs } = await limiter.consume('gmail.com');
 * ```
 */
export class RedisRateLimiter extends BaseRateLimiter {
  private readonly redis: RedisClient;
  private readonly base: string;
  private readonly script: RedisScript;
  /** windowMs and limit of each rule, as the script's trailing arguments. */
  private readonly ruleArgs: readonly number[];

  constructor(options: RedisRateLimiterOptions) {
    super(options);
    if (options.redis === undefined || options.redis === null) throw new ValidationError('redis', 'must be an ioredis client');
    for (const field of ['name', 'prefix'] as const) {
      const value = options[field] ?? 'uxflow';
      if (typeof value !== 'string' || value === '' || /[{}]/.test(value)) {
        throw new ValidationError(field, 'must be a non-empty string without { or }');
      }
    }
    this.redis = options.redis;
    this.base = `${options.prefix ?? 'uxflow'}:rl:${options.name}`;
    this.script = defineScript('sliding-window-consume', slidingWindowSource, { numberOfKeys: this.rules.length });
    this.ruleArgs = this.rules.flatMap((rule) => [rule.windowMs, rule.limit]);
  }

  // The user's key is the hash tag: one key's rules share a slot, different keys spread over shards.
  private ruleKeys(key: string): string[] {
    return this.rules.map((rule) => `${this.base}:{${key}}:${rule.windowMs}`);
  }

  protected async evaluate(key: string, cost: number): Promise<RateLimitResult> {
    const args = [this.clock.now(), cost, ...this.ruleArgs];
    const reply = await this.script.run<[number, number, number, number]>(this.redis, this.ruleKeys(key), args);
    return toResult(reply, this.tightest);
  }

  /** Forgets `key` under every rule (e.g. after a successful login). */
  async reset(key: string): Promise<void> {
    checkKey(key);
    await this.redis.del(...this.ruleKeys(key));
  }
}

function toResult(reply: readonly [number, number, number, number], limit: number): RateLimitResult {
  const [allowed, remaining, retryAfterMs, resetMs] = reply;
  return { allowed: allowed === 1, limit, remaining, retryAfterMs: Math.max(0, retryAfterMs), resetMs };
}

/** Options of {@link MemoryRateLimiter}. */
export interface MemoryRateLimiterOptions extends RateLimiterOptions {
  /** Keys kept at most; the least recently used go first. Default `100_000`. */
  maxKeys?: number;
}

interface WindowState {
  index: number;
  current: number;
  previous: number;
}

/**
 * The in-memory twin of {@link RedisRateLimiter}: the same algorithm and answers, for tests and
 * single-process development. State is per process and bounded by `maxKeys`.
 *
 * @example
 * ```ts
 * const limiter = new MemoryRateLimiter({ rules: { limit: 5, windowMs: 60_000 }, clock: fakeClock });
 * ```
 */
export class MemoryRateLimiter extends BaseRateLimiter {
  private readonly maxKeys: number;
  private readonly state = new Map<string, WindowState[]>();

  constructor(options: MemoryRateLimiterOptions) {
    super(options);
    this.maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(this.maxKeys) || this.maxKeys < 1) throw new ValidationError('maxKeys', 'must be a positive integer');
  }

  protected evaluate(key: string, cost: number): Promise<RateLimitResult> {
    const now = this.clock.now();
    const stored = this.state.get(key);
    const { rules } = this;
    let allowed = true;
    let remaining = Number.POSITIVE_INFINITY;
    let retryAfterMs = 0;
    let resetMs = 0;
    // First pass: read every rule; nothing changes unless all of them allow the cost.
    const indexes: number[] = [];
    const currents: number[] = [];
    const previouses: number[] = [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as RateLimitRule;
      const window = rule.windowMs;
      const index = Math.floor(now / window);
      const saved = stored?.[i];
      let current = 0;
      let previous = 0;
      if (saved !== undefined && saved.index === index) {
        current = saved.current;
        previous = saved.previous;
      } else if (saved !== undefined && saved.index === index - 1) {
        previous = saved.current;
      }
      const elapsed = now - index * window;
      // Scaled by the window length: exact integer arithmetic, as in the Lua script.
      const used = previous * (window - elapsed) + current * window;
      const capacity = rule.limit * window;
      remaining = Math.min(remaining, Math.floor((capacity - used) / window));
      if (cost > 0 && used + cost * window > capacity) {
        allowed = false;
        const wait =
          current + cost > rule.limit
            ? window - elapsed + (window - Math.floor(((rule.limit - cost) * window) / current))
            : window - Math.floor(((rule.limit - cost - current) * window) / previous) - elapsed;
        retryAfterMs = Math.max(retryAfterMs, wait);
      }
      resetMs = Math.max(resetMs, (index + 1) * window - now);
      indexes.push(index);
      currents.push(current);
      previouses.push(previous);
    }
    if (allowed && cost > 0) {
      const next: WindowState[] = stored ?? [];
      for (let i = 0; i < rules.length; i++) {
        next[i] = { index: indexes[i] as number, current: (currents[i] as number) + cost, previous: previouses[i] as number };
      }
      remaining -= cost;
      if (stored === undefined) {
        this.state.set(key, next);
        if (this.state.size > this.maxKeys) {
          const oldest = this.state.keys().next();
          if (oldest.done !== true) this.state.delete(oldest.value);
        }
      } else {
        // Re-insert: Map order is the least-recently-charged order used for eviction.
        this.state.delete(key);
        this.state.set(key, next);
      }
    }
    return Promise.resolve({ allowed, limit: this.tightest, remaining: Math.max(0, remaining), retryAfterMs, resetMs });
  }

  /** Forgets `key` under every rule. */
  reset(key: string): Promise<void> {
    checkKey(key);
    this.state.delete(key);
    return Promise.resolve();
  }
}
