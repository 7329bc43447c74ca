import { describe, expect, it } from 'vitest';
import type { RateLimiter, RateLimiterOptions } from '../../src/core/index.js';
import { FakeClock } from '../../src/testing/index.js';

/** Builds a limiter for one test; `cleanup` runs after it. */
export type LimiterFactory = (options: RateLimiterOptions & { clock: FakeClock }) => RateLimiter;

/**
 * One behaviour suite for every rate limiter driver: the Redis limiter on the real server and
 * the in-memory twin must give the same answers for the same calls and times.
 */
export function rateLimiterConformance(driver: string, create: LimiterFactory): void {
  const start = Date.UTC(2026, 0, 1); // aligned to every window used below

  describe(`${driver} rate limiter (conformance)`, () => {
    it('allows up to the limit in a window, then refuses without charging', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 3, windowMs: 1000 }, clock });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await limiter.consume('a'));
      expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false, false]);
      expect(answers.map((a) => a.remaining)).toEqual([2, 1, 0, 0, 0]);
      // At the next window the 3 still weigh 3; one unit fits once their weight is <= 2 (334 ms in).
      expect(answers[3]).toMatchObject({ limit: 3, retryAfterMs: 1334 });
      // Refusals charge nothing: once the window slides far enough, exactly one unit is free.
      expect((await limiter.peek('a')).remaining).toBe(0);
    });

    it('keys are independent', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 1, windowMs: 1000 }, clock });
      expect((await limiter.consume('a')).allowed).toBe(true);
      expect((await limiter.consume('b')).allowed).toBe(true);
      expect((await limiter.consume('a')).allowed).toBe(false);
    });

    it('weights the previous window by its overlap with the sliding window', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 10, windowMs: 1000 }, clock });
      for (let i = 0; i < 10; i++) await limiter.consume('k');
      clock.advance(1250); // 25% into the next window: the previous 10 count as 7.5
      const peek = await limiter.peek('k');
      expect(peek.remaining).toBe(2);
      expect((await limiter.consume('k', 2)).allowed).toBe(true);
      const refused = await limiter.consume('k');
      expect(refused.allowed).toBe(false);
      // The previous 10 must weigh <= 10 - 1 - 2 = 7, i.e. 300 ms into the window: 50 ms from now.
      expect(refused.retryAfterMs).toBe(50);
      clock.advance(refused.retryAfterMs);
      expect((await limiter.consume('k')).allowed).toBe(true);
    });

    it('retryAfterMs is exact: refused one ms before it, allowed at it', async () => {
      const clock = new FakeClock({ now: start + 400 });
      const limiter = create({ rules: { limit: 4, windowMs: 1000 }, clock });
      for (let i = 0; i < 4; i++) await limiter.consume('x');
      const refused = await limiter.consume('x');
      expect(refused.allowed).toBe(false);
      clock.advance(refused.retryAfterMs - 1);
      expect((await limiter.consume('x')).allowed).toBe(false);
      clock.advance(1);
      expect((await limiter.consume('x')).allowed).toBe(true);
    });

    it('charges every rule atomically and refuses if any rule is exhausted', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({
        rules: [
          { limit: 2, windowMs: 1000 },
          { limit: 3, windowMs: 10_000 },
        ],
        clock,
      });
      expect((await limiter.consume('u')).allowed).toBe(true);
      expect((await limiter.consume('u')).allowed).toBe(true);
      const perSecond = await limiter.consume('u');
      expect(perSecond.allowed).toBe(false);
      expect(perSecond.limit).toBe(2);
      clock.advance(2000);
      expect((await limiter.consume('u')).allowed).toBe(true); // third unit of the 10 s rule
      clock.advance(2000);
      const perTen = await limiter.consume('u');
      expect(perTen.allowed).toBe(false);
      expect(perTen.retryAfterMs).toBeGreaterThan(1000);
      // The refused call charged nothing, not even to the 1 s rule.
      expect((await limiter.peek('u')).remaining).toBe(0);
    });

    it('weighted cost takes several units at once', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 10, windowMs: 1000 }, clock });
      expect(await limiter.consume('c', 7)).toMatchObject({ allowed: true, remaining: 3 });
      expect(await limiter.consume('c', 4)).toMatchObject({ allowed: false, remaining: 3 });
      expect(await limiter.consume('c', 3)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('reset forgets a key', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 1, windowMs: 60_000 }, clock });
      await limiter.consume('r');
      expect((await limiter.consume('r')).allowed).toBe(false);
      await limiter.reset('r');
      expect((await limiter.consume('r')).allowed).toBe(true);
    });

    it('consumeOrThrow raises RateLimitError with retryAfterMs', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 1, windowMs: 1000 }, clock });
      await limiter.consumeOrThrow('t');
      await expect(limiter.consumeOrThrow('t')).rejects.toMatchObject({
        name: 'RateLimitError',
        code: 'ERR_RATE_LIMITED',
        key: 't',
        retryAfterMs: 2000,
        limit: 1,
      });
    });

    it('rejects bad keys and costs with a ValidationError naming the field', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: { limit: 5, windowMs: 1000 }, clock });
      await expect(limiter.consume('')).rejects.toMatchObject({ code: 'ERR_VALIDATION', field: 'key' });
      await expect(limiter.consume('k', 0)).rejects.toMatchObject({ field: 'cost' });
      await expect(limiter.consume('k', 1.5)).rejects.toMatchObject({ field: 'cost' });
      await expect(limiter.consume('k', 6)).rejects.toMatchObject({ field: 'cost' });
      await expect(limiter.consume('x'.repeat(513))).rejects.toMatchObject({ field: 'key' });
    });

    it('holds a long random sequence to every rule', async () => {
      const clock = new FakeClock({ now: start });
      const limiter = create({ rules: [{ limit: 20, windowMs: 1000 }, { limit: 50, windowMs: 5000 }], clock });
      let seed = 42;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const times: number[] = [];
      let granted = 0;
      for (let i = 0; i < 400; i++) {
        clock.advance(Math.floor(random() * 40));
        const result = await limiter.consume('seq');
        if (result.allowed) {
          granted++;
          times.push(clock.now());
        }
      }
      // Never more than the limit inside any aligned window of either rule.
      for (const windowMs of [1000, 5000]) {
        const limit = windowMs === 1000 ? 20 : 50;
        const perWindow = new Map<number, number>();
        for (const t of times) perWindow.set(Math.floor(t / windowMs), (perWindow.get(Math.floor(t / windowMs)) ?? 0) + 1);
        for (const count of perWindow.values()) expect(count).toBeLessThanOrEqual(limit);
      }
      // Demand far exceeds the 5 s rule in the first window, where nothing weighs from before:
      // exactly its limit is granted there, no fewer.
      expect(times.filter((t) => t < start + 5000)).toHaveLength(50);
      expect(granted).toBeLessThan(400);
    });
  });
}
