import { AbortError } from './abort-error.js';

/** A handle returned by {@link Clock.setTimeout}, accepted by {@link Clock.clearTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/**
 * The source of time for every block. Inject one to control time in tests: the package's
 * `FakeClock` (from `@ux-flow/common/testing`) moves only when told to.
 *
 * Timers made through a clock must not keep the process alive: the system clock `unref()`s them.
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
  /** Calls `callback` after `delayMs`; the timer does not keep the process alive. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
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
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle: TimerHandle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
});

/**
 * Resolves after `delayMs` on `clock`, or rejects with an {@link AbortError} (the signal's reason
 * as `cause`) when aborted first.
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
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): AbortError {
  return new AbortError('Sleep aborted', signal?.reason);
}
