import { UxFlowError } from './uxflow-error.js';

/**
 * An operation did not finish within its time budget.
 *
 * @example
 * ```ts
 * throw new TimeoutError('health check "redis"', 500);
 * // TimeoutError: health check "redis" timed out after 500 ms
 * ```
 */
export class TimeoutError extends UxFlowError {
  /** The budget that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('ERR_TIMEOUT', `${operation} timed out after ${timeoutMs} ms`, {
      details: { operation, timeoutMs },
    });
    this.timeoutMs = timeoutMs;
  }

  /** True for a {@link TimeoutError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is TimeoutError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_TIMEOUT';
  }
}
