import { describe, expect, it, vi } from 'vitest';
import { AbortError, applyJitter, createBackoff, retry, RetryError, validateBackoff } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/index.js';

describe('createBackoff', () => {
  it('fixed backoff returns the same delay, jittered only when asked', () => {
    expect([1, 2, 9].map(createBackoff({ type: 'fixed', delayMs: 250 }))).toEqual([250, 250, 250]);
    const jittered = createBackoff({ type: 'fixed', delayMs: 200, jitter: 'equal' }, () => 0.5);
    expect(jittered(1)).toBe(150);
  });

  it('exponential backoff grows by the factor up to the cap', () => {
    const next = createBackoff({ type: 'exponential', delayMs: 100, factor: 3, maxDelayMs: 2000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 60].map((a) => next(a))).toEqual([100, 300, 900, 2000, 2000, 2000]);
  });

  it('exponential backoff uses full jitter by default: uniform in [0, ceiling]', () => {
    const samples = [0, 0.25, 0.999];
    let i = 0;
    const next = createBackoff({ type: 'exponential', delayMs: 1000 }, () => samples[i++] ?? 0);
    expect([next(1), next(1), next(1)]).toEqual([0, 250, 999]);
  });

  it('caps huge exponents instead of overflowing', () => {
    const next = createBackoff({ type: 'exponential', delayMs: 1000, factor: 10, jitter: 'none' });
    expect(next(5000)).toBe(300_000);
  });

  it('passes a custom strategy through', () => {
    const custom = (attempt: number) => attempt * 7;
    expect(createBackoff(custom)).toBe(custom);
  });

  it('applyJitter spreads as documented', () => {
    expect(applyJitter(1000, 'none', () => 0.3)).toBe(1000);
    expect(applyJitter(1000, 'full', () => 0.3)).toBe(300);
    expect(applyJitter(1000, 'equal', () => 0.3)).toBe(650);
  });

  it('rejects malformed descriptions naming the field', () => {
    expect(() => validateBackoff({ type: 'linear' } as never)).toThrow(/"backoff.type" must be "fixed" or "exponential"/);
    expect(() => validateBackoff({ type: 'fixed', delayMs: -1 })).toThrow(/"backoff.delayMs"/);
    expect(() => validateBackoff({ type: 'exponential', delayMs: 1, factor: 0.5 })).toThrow(/"backoff.factor"/);
    expect(() => validateBackoff({ type: 'exponential', delayMs: 1, maxDelayMs: Number.NaN })).toThrow(/"backoff.maxDelayMs"/);
    expect(() => validateBackoff({ type: 'fixed', delayMs: 1, jitter: 'some' as never }, 'opts.backoff')).toThrow(/"opts.backoff.jitter"/);
  });
});

describe('retry', () => {
  it('returns the first success and passes the attempt number', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    const pending = retry(
      ({ attempt }) => {
        seen.push(attempt);
        if (attempt < 3) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { clock, attempts: 5, backoff: { type: 'fixed', delayMs: 100 } },
    );
    await clock.advanceAsync(1000);
    await expect(pending).resolves.toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
    expect(clock.now()).toBe(1000);
  });

  it('waits the backoff between attempts, on the injected clock', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const pending = retry(
      () => {
        times.push(clock.now());
        throw new Error('always');
      },
      { clock, attempts: 4, backoff: { type: 'exponential', delayMs: 100, jitter: 'none' } },
    );
    const outcome = expect(pending).rejects.toBeInstanceOf(RetryError);
    await clock.advanceAsync(10_000);
    await outcome;
    expect(times).toEqual([0, 100, 300, 700]);
  });

  it('gives up with RetryError holding all errors when attempts run out', async () => {
    const clock = new FakeClock();
    const pending = retry(({ attempt }) => Promise.reject(new Error(`e${attempt}`)), { clock, attempts: 3, backoff: { type: 'fixed', delayMs: 1 } });
    const caught = pending.catch((error: unknown) => error);
    await clock.advanceAsync(10);
    const error = (await caught) as RetryError;
    expect(RetryError.isInstance(error)).toBe(true);
    expect(error.attempts).toBe(3);
    expect(error.errors.map((e) => (e as Error).message)).toEqual(['e1', 'e2', 'e3']);
  });

  it('rethrows a non-transient error at once, unwrapped', async () => {
    const fatal = new Error('bad request');
    const fn = vi.fn(() => Promise.reject(fatal));
    await expect(retry(fn, { attempts: 5, isTransient: (e) => e !== fatal })).rejects.toBe(fatal);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('honours retryAfterMs on an error when it is longer than the backoff', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const pending = retry(
      ({ attempt }) => {
        times.push(clock.now());
        if (attempt === 1) throw Object.assign(new Error('429'), { retryAfterMs: 5000 });
        return 'done';
      },
      { clock, backoff: { type: 'fixed', delayMs: 10 } },
    );
    await clock.advanceAsync(6000);
    await expect(pending).resolves.toBe('done');
    expect(times).toEqual([0, 5000]);
  });

  it('stops waiting when the signal aborts, with AbortError carrying the reason', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let calls = 0;
    const pending = retry(
      () => {
        calls++;
        throw new Error('flaky');
      },
      { clock, attempts: 10, backoff: { type: 'fixed', delayMs: 1000 }, signal: controller.signal },
    );
    const caught = pending.catch((error: unknown) => error);
    await clock.advanceAsync(1500);
    controller.abort(new Error('shutdown'));
    const error = (await caught) as AbortError;
    expect(AbortError.isInstance(error)).toBe(true);
    expect((error.cause as Error).message).toBe('shutdown');
    expect(calls).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not start when the signal is already aborted, and gives the attempt the signal', async () => {
    await expect(retry(() => 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    let received: AbortSignal | undefined;
    await retry(({ signal }) => {
      received = signal;
      return 1;
    });
    expect(received).toBeInstanceOf(AbortSignal);
  });

  it('a throwing onRetry hook does not change the outcome', async () => {
    const clock = new FakeClock();
    const pending = retry(
      ({ attempt }) => {
        if (attempt === 1) throw new Error('once');
        return 'ok';
      },
      {
        clock,
        backoff: { type: 'fixed', delayMs: 5 },
        onRetry: () => {
          throw new Error('hook bug');
        },
      },
    );
    await clock.advanceAsync(10);
    await expect(pending).resolves.toBe('ok');
  });

  it('rejects invalid attempts naming the option', async () => {
    await expect(retry(() => 1, { attempts: 0 })).rejects.toThrow(/"attempts" must be an integer >= 1/);
    await expect(retry(() => 1, { attempts: 1.5 })).rejects.toThrow(/"attempts"/);
  });
});
