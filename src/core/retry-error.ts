import { UxFlowError } from './uxflow-error.js';

/**
 * {@link retry} gave up: every attempt failed with a transient error. The last error is the
 * `cause`; `errors` holds all of them in order.
 *
 * @example
 * ```ts
 * try { await retry(callApi, { attempts: 3 }); }
 * catch (e) { if (RetryError.isInstance(e)) log.warn({ attempts: e.attempts }, 'gave up'); }
 * ```
 */
export class RetryError extends UxFlowError {
  /** How many attempts were made. */
  readonly attempts: number;
  /** The error of each attempt, oldest first. */
  readonly errors: readonly unknown[];

  constructor(attempts: number, errors: readonly unknown[]) {
    const last = errors.at(-1);
    const reason = last instanceof Error ? last.message : String(last);
    super('ERR_RETRIES_EXHAUSTED', `Gave up after ${attempts} attempts: ${reason}`, {
      cause: last,
      details: { attempts },
    });
    this.attempts = attempts;
    this.errors = errors;
  }

  /** True for a {@link RetryError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is RetryError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_RETRIES_EXHAUSTED';
  }
}
