import { describe, expect, it } from 'vitest';
import { VerifiedTokenCache } from '../../../src/auth/index.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

describe('VerifiedTokenCache', () => {
  it('keys on a SHA-256 of the token, never the token itself', () => {
    const key = VerifiedTokenCache.keyOf('header.payload.signature');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain('payload');
    expect(VerifiedTokenCache.keyOf('header.payload.signaturf')).not.toBe(key);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const clock = new FakeClock({ now: 0 });
    const cache = new VerifiedTokenCache<number>({ maxEntries: 2, clock });
    cache.set('a', 1, 60_000);
    cache.set('b', 2, 60_000);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3, 60_000);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('never keeps an entry past its expiry nor past maxTtlMs', () => {
    const clock = new FakeClock({ now: 0 });
    const cache = new VerifiedTokenCache<string>({ maxTtlMs: 10_000, clock });
    cache.set('short', 'x', 5_000);
    cache.set('long', 'y', 3_600_000);
    cache.set('past', 'z', 0);
    expect(cache.get('past')).toBeUndefined();
    clock.advance(5_000);
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe('y');
    clock.advance(5_000);
    expect(cache.get('long')).toBeUndefined();
  });

  it('validates its options', () => {
    expect(() => new VerifiedTokenCache({ maxEntries: 0 })).toThrow(/"cache.maxEntries" must be a positive integer/);
  });
});
