import type { Clock, TimerHandle } from '../core/clock.js';

interface PendingTimer {
  id: number;
  at: number;
  callback: () => void;
}

/**
 * A {@link Clock} that only moves when told to. Timers fire in due order during
 * {@link FakeClock.advance}; {@link FakeClock.advanceAsync} also lets promises settle between
 * timers, for code that awaits a sleep and then sets the next one (retry loops).
 *
 * @example
 * ```ts
 * const clock = new FakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
 * const pending = retry(flaky, { clock, attempts: 3 });
 * await clock.advanceAsync(10_000); // all backoff waits elapse instantly
 * await pending;
 * ```
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly startedAt: number;
  private sequence = 0;
  private timers: PendingTimer[] = [];

  /** @param options.now - the starting epoch ms. Default `0`. */
  constructor(options: { now?: number } = {}) {
    this.current = options.now ?? 0;
    this.startedAt = this.current;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current - this.startedAt;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = ++this.sequence;
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    this.timers.push({ id, at: this.current + delay, callback });
    return { id } as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as unknown as { id?: number }).id;
    this.timers = this.timers.filter((timer) => timer.id !== id);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order (synchronously). */
  advance(ms: number): void {
    this.moveTo(this.current + checkMs(ms));
  }

  /** Sets the time, firing timers due on the way. Time never moves backwards. */
  set(epochMs: number): void {
    if (epochMs < this.current) throw new RangeError('FakeClock cannot move backwards');
    this.moveTo(epochMs);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting pending promise callbacks
   * run after each one, so timers that async code sets while this runs also fire when due.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + checkMs(ms);
    await flushMicrotasks();
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.fire(next);
      await flushMicrotasks();
    }
    this.current = target;
  }

  private moveTo(target: number): void {
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.fire(next);
    }
    this.current = target;
  }

  private nextDue(target: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers) {
      if (timer.at <= target && (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id))) {
        best = timer;
      }
    }
    return best;
  }

  private fire(timer: PendingTimer): void {
    this.timers = this.timers.filter((candidate) => candidate !== timer);
    this.current = Math.max(this.current, timer.at);
    timer.callback();
  }
}

function checkMs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance needs a non-negative number of ms (got ${ms})`);
  return ms;
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
