import type { RedisClient } from './redis-connection.js';
import { UxFlowError } from './uxflow-error.js';

/** ioredis states in which a command would wait in the offline queue for a reconnect instead of running. */
const DOWN_STATES: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/**
 * True when `client` is disconnected or reconnecting, so a command sent now would wait for the
 * connection to come back (or forever) instead of running. A client still making its first
 * connection (`connecting`, `wait`) is not down: its commands run once it is ready.
 *
 * @example
 * ```ts
 * if (isRedisDown(redis)) throw new RedisUnavailableError('enqueue', `the connection is ${redis.status}`);
 * ```
 */
export function isRedisDown(client: RedisClient): boolean {
  return DOWN_STATES.has(client.status);
}

/**
 * Redis could not be reached for an operation that must not wait for it (a producer's `add`):
 * the connection is down or reconnecting. Nothing was written, so retrying is safe.
 * `operation` names the call; the message names the `redis` option that configures the connection.
 *
 * @example
 * ```ts
 * try {
 *   await queue.add('email_send', data);
 * } catch (error) {
 *   if (RedisUnavailableError.isInstance(error)) res.status(503).set('retry-after', '5').end();
 *   else throw error;
 * }
 * ```
 */
export class RedisUnavailableError extends UxFlowError {
  /** The call that failed, e.g. `'add'`. */
  readonly operation: string;

  /**
   * @param operation - the call that failed.
   * @param reason - why, e.g. `the connection is reconnecting`.
   */
  constructor(operation: string, reason: string, options: { cause?: unknown } = {}) {
    super('ERR_REDIS', `Redis unavailable (option "redis"): ${operation} failed: ${reason}; nothing was written`, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: { operation, reason },
    });
    this.operation = operation;
  }

  /** True for an {@link RedisUnavailableError} (or another `ERR_REDIS` error) from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is RedisUnavailableError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_REDIS';
  }
}
