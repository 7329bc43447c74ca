import { UxFlowError } from './uxflow-error.js';

/**
 * A rate limit was reached. `retryAfterMs` says when the next unit will be allowed; services map
 * it to `429` with `Retry-After`, queues to a delayed job.
 *
 * @example
 * ```ts
 * const result = await limiter.consume(`email:${domain}`);
 * if (!result.allowed) throw new RateLimitError(`email:${domain}`, result);
 * ```
 */
export class RateLimitError extends UxFlowError {
  /** The limited key (never contains secrets: callers build it). */
  readonly key: string;
  /** Milliseconds until a unit is available again. */
  readonly retryAfterMs: number;
  /** The limit that applies to the key. */
  readonly limit: number;

  constructor(key: string, info: { retryAfterMs: number; limit: number }) {
    super('ERR_RATE_LIMITED', `Rate limit for "${key}" reached; retry in ${info.retryAfterMs} ms`, {
      details: { key, retryAfterMs: info.retryAfterMs, limit: info.limit },
    });
    this.key = key;
    this.retryAfterMs = info.retryAfterMs;
    this.limit = info.limit;
  }

  /** True for a {@link RateLimitError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is RateLimitError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_RATE_LIMITED';
  }
}
