import { UxFlowError } from '../core/uxflow-error.js';

/**
 * The email service's state (idempotency keys, suppression list, caps, counters) could not be
 * read or written in time: Redis is down, reconnecting, or did not answer within `timeoutMs`.
 * Nothing was sent. The failure is transient, so `processSendEmail` rethrows it and the queue
 * retries the `email_send` job later.
 *
 * @example
 * ```ts
 * try {
 *   await email.send(message);
 * } catch (error) {
 *   if (EmailStateUnavailableError.isInstance(error)) res.status(503).set('retry-after', '5').end();
 *   else throw error;
 * }
 * ```
 */
export class EmailStateUnavailableError extends UxFlowError {
  /** The store or limiter operation that failed, e.g. `'claimIdempotency'`. */
  readonly operation: string;

  constructor(operation: string, reason: string, options: { cause?: unknown } = {}) {
    super('ERR_REDIS', `Email state unavailable (option "redis"): ${operation} failed: ${reason}`, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: { operation, reason },
    });
    this.operation = operation;
  }

  /** True for an {@link EmailStateUnavailableError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is EmailStateUnavailableError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_REDIS' && typeof (value as { operation?: unknown }).operation === 'string';
  }
}
