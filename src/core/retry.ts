import { AbortError } from './abort-error.js';
import { type BackoffOptions, type BackoffStrategy, createBackoff } from './backoff.js';
import { type Clock, sleep, systemClock } from './clock.js';
import { RetryError } from './retry-error.js';
import { ValidationError } from './validation-error.js';

/** What {@link retry} passes to each attempt. */
export interface AttemptContext {
  /** 1 for the first call, 2 for the first retry, … */
  attempt: number;
  /** Aborted when the caller's signal aborts; pass it on to `fetch` and friends. */
  signal: AbortSignal;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Total attempts, the first included. Default `3`. */
  attempts?: number;
  /** Delay between attempts. Default exponential from 100 ms, full jitter, capped at 30 s. */
  backoff?: BackoffOptions | BackoffStrategy;
  /**
   * Decides whether an error is transient (worth another attempt). Anything else is rethrown at
   * once, unwrapped. Default: every error except an {@link AbortError}.
   */
  isTransient?: (error: unknown, attempt: number) => boolean;
  /**
   * The minimum wait the error itself asks for (e.g. HTTP `Retry-After`), in ms. Default: the
   * error's numeric `retryAfterMs` property when it has one.
   */
  retryAfterMs?: (error: unknown) => number | undefined;
  /** Cancels waiting and further attempts; the pending call gets the signal too. */
  signal?: AbortSignal;
  /** Called before each wait. A throwing hook is ignored. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Time source for the waits. Default the system clock. */
  clock?: Clock;
}

const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delayMs: 100, maxDelayMs: 30_000, jitter: 'full' };

function defaultRetryAfter(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Calls `fn` until it succeeds, retrying transient errors with backoff.
 *
 * - A non-transient error is rethrown at once, as it is.
 * - When attempts run out, rejects with {@link RetryError} (`cause` = the last error).
 * - When `signal` aborts, rejects with {@link AbortError} without another attempt.
 *
 * @example
 * ```ts
 * const body = await retry(
 *   async ({ signal }) => (await fetch(url, { signal })).json(),
 *   { attempts: 5, isTransient: (e) => isNetworkError(e), signal: AbortSignal.timeout(10_000) },
 * );
 * ```
 */
export async function retry<T>(fn: (context: AttemptContext) => Promise<T> | T, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new ValidationError('attempts', `must be an integer >= 1 (got ${attempts})`);
  }
  const backoff = createBackoff(options.backoff ?? DEFAULT_BACKOFF);
  const isTransient = options.isTransient ?? ((error: unknown) => !AbortError.isInstance(error));
  const retryAfter = options.retryAfterMs ?? defaultRetryAfter;
  const clock = options.clock ?? systemClock;
  const signal = options.signal ?? new AbortController().signal;
  const errors: unknown[] = [];

  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new AbortError('Retry aborted', signal.reason);
    try {
      return await fn({ attempt, signal });
    } catch (error) {
      if (signal.aborted) throw new AbortError('Retry aborted', signal.reason);
      if (!isTransient(error, attempt)) throw error;
      errors.push(error);
      if (attempt >= attempts) throw new RetryError(attempt, errors);
      const delayMs = Math.max(backoff(attempt, error), retryAfter(error) ?? 0);
      try {
        options.onRetry?.({ attempt, delayMs, error });
      } catch {
        // A broken hook must not change the outcome of the call.
      }
      try {
        await sleep(delayMs, { clock, signal });
      } catch {
        throw new AbortError('Retry aborted', signal.reason);
      }
    }
  }
}
