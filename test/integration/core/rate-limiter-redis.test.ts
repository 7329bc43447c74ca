import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryRateLimiter, RedisRateLimiter } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/index.js';
import { rateLimiterConformance } from '../../helpers/rate-limiter-conformance.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('core-rate-limiter');
let limiterCount = 0;

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

rateLimiterConformance('Redis', (options) => new RedisRateLimiter({ ...options, redis, prefix, name: `l${++limiterCount}` }));

describe('RedisRateLimiter on the real server', () => {
  it('gives the same answers as the in-memory twin for the same random sequence', async () => {
    const rules = [
      { limit: 7, windowMs: 500 },
      { limit: 30, windowMs: 4000 },
    ];
    const redisClock = new FakeClock({ now: 1_700_000_000_123 });
    const memoryClock = new FakeClock({ now: 1_700_000_000_123 });
    const viaRedis = new RedisRateLimiter({ redis, prefix, name: 'twin', rules, clock: redisClock });
    const inMemory = new MemoryRateLimiter({ rules, clock: memoryClock });
    let seed = 7;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647);
    for (let i = 0; i < 300; i++) {
      const step = Math.floor(random() * 60);
      const cost = 1 + Math.floor(random() * 3);
      redisClock.advance(step);
      memoryClock.advance(step);
      const [a, b] = [await viaRedis.consume('k', cost), await inMemory.consume('k', cost)];
      expect(a, `call ${i}`).toEqual(b);
    }
  });

  it('grants exactly the limit to many clients racing on one key', async () => {
    const clients = Array.from({ length: 4 }, () => new Redis(redis.options));
    try {
      const limiters = clients.map(
        (client) => new RedisRateLimiter({ redis: client, prefix, name: 'race', rules: { limit: 137, windowMs: 60_000 } }),
      );
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (limiters[i % limiters.length] as RedisRateLimiter).consume('hot')));
      expect(results.filter((r) => r.allowed)).toHaveLength(137);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });

  it('stores one small hash per rule, hash-tagged on the key, expiring after two windows', async () => {
    const limiter = new RedisRateLimiter({
      redis,
      prefix,
      name: 'layout',
      rules: [
        { limit: 5, windowMs: 60_000 },
        { limit: 50, windowMs: 3_600_000 },
      ],
    });
    await limiter.consume('203.0.113.9');
    const keys = [`${prefix}:rl:layout:{203.0.113.9}:60000`, `${prefix}:rl:layout:{203.0.113.9}:3600000`];
    const slots = await Promise.all(keys.map((key) => redis.call('CLUSTER', 'KEYSLOT', key).catch(() => null)));
    if (slots[0] !== null) expect(slots[0]).toBe(slots[1]);
    const ttl = await Promise.all(keys.map((key) => redis.pttl(key)));
    expect(ttl[0]).toBeGreaterThan(60_000);
    expect(ttl[0]).toBeLessThanOrEqual(120_000);
    expect(ttl[1]).toBeGreaterThan(3_600_000);
    expect(await redis.hgetall(keys[0] as string)).toMatchObject({ c: '1', p: '0' });
    await limiter.reset('203.0.113.9');
    expect(await redis.exists(...keys)).toBe(0);
  });

  it('rejects bad construction naming the option', () => {
    expect(() => new RedisRateLimiter({ redis, name: 'a{b}', rules: { limit: 1, windowMs: 1 } })).toThrow(/"name"/);
    expect(() => new RedisRateLimiter({ redis, name: 'ok', prefix: '', rules: { limit: 1, windowMs: 1 } })).toThrow(/"prefix"/);
    expect(() => new RedisRateLimiter({ redis: undefined as never, name: 'ok', rules: { limit: 1, windowMs: 1 } })).toThrow(/"redis"/);
  });

  it('surfaces Redis being down as a rejected call, not a silent allow', async () => {
    const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const limiter = new RedisRateLimiter({ redis: dead, name: 'down', rules: { limit: 1, windowMs: 1000 } });
    await expect(limiter.consume('k')).rejects.toThrow();
    dead.disconnect();
  });
});
