import { describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/index.js';
import { rateLimiterConformance } from '../../helpers/rate-limiter-conformance.js';

rateLimiterConformance('in-memory', (options) => new MemoryRateLimiter(options));

describe('MemoryRateLimiter', () => {
  it('rejects malformed rules with the field path', () => {
    expect(() => new MemoryRateLimiter({ rules: [] })).toThrow(/"rules" must hold at least one rule/);
    expect(() => new MemoryRateLimiter({ rules: { limit: 0, windowMs: 1000 } })).toThrow(/"rules\[0\]\.limit"/);
    expect(() => new MemoryRateLimiter({ rules: [{ limit: 1, windowMs: 1000 }, { limit: 1, windowMs: 1.5 }] })).toThrow(
      /"rules\[1\]\.windowMs"/,
    );
    expect(() => new MemoryRateLimiter({ rules: { limit: 1, windowMs: 1000 }, maxKeys: 0 })).toThrow(/"maxKeys"/);
  });

  it('keeps at most maxKeys keys, dropping the least recently charged', async () => {
    const clock = new FakeClock({ now: 0 });
    const limiter = new MemoryRateLimiter({ rules: { limit: 1, windowMs: 60_000 }, clock, maxKeys: 2 });
    await limiter.consume('a');
    await limiter.consume('b');
    await limiter.consume('c'); // evicts a
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('c')).allowed).toBe(false);
  });
});
