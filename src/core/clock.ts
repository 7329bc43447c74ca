import { AbortError } from './abort-error.js';

/** A handle returned by {@link Clock.setTimeout}, accepted by {@link Clock.clearTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/**
 * The source of time for every block. Inject one to control time in tests: the package's
 * `FakeClock` (from `@ux-flow/common/testing`) moves only when told to.
 *
 * Background timers (intervals, lock renewals) must not keep the process alive, so the system
 * clock `unref()`s timers unless asked to keep the process alive, as {@link sleep} does: an
 * awaited wait has to hold the process open, or a script would exit in the middle of a retry.
 *
 * @example
 * ```ts
 * import { FakeClock } from '@ux-flow/common/testing';
 * const clock = new FakeClock();
 * const breaker = new CircuitBreaker({ name: 'smtp', clock });
 * clock.advance(30_000);
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (like `Date.now()`). */
  now(): number;
  /** A monotonic reading in milliseconds, for measuring durations. */
  monotonic(): number;
  /**
   * Calls `callback` after `delayMs`. The timer does not keep the process alive unless
   * `options.keepAlive` is `true`.
   */
  setTimeout(callback: () => void, delayMs: number, options?: { keepAlive?: boolean }): TimerHandle;
  /** Cancels a timer made by this clock. Unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `Date.now`, `performance.now` and `unref()`'d timers.
 *
 * @example
 * ```ts
 * const started = systemClock.monotonic();
 * await work();
 * const tookMs = systemClock.monotonic() - started;
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback: () => void, delayMs: number, options?: { keepAlive?: boolean }): TimerHandle => {
    const timer = setTimeout(callback, delayMs);
    if (options?.keepAlive !== true) timer.unref();
    return timer;
  },
  clearTimeout: (handle: TimerHandle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
});

/**
 * Resolves after `delayMs` on `clock`, or rejects with an {@link AbortError} (the signal's reason
 * as `cause`) when aborted first. The wait keeps the process alive, like any awaited timer.
 * The timer is cleared either way.
 *
 * @example
 * ```ts
 * await sleep(250, { signal: controller.signal });
 * ```
 */
export function sleep(delayMs: number, options: { clock?: Clock; signal?: AbortSignal } = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(abortReason(signal));
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      delayMs,
      { keepAlive: true },
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): AbortError {
  return new AbortError('Sleep aborted', signal?.reason);
}
