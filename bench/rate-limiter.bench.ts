/**
 * Rate limiter throughput: ours (sliding window, one Lua script) against rate-limiter-flexible
 * (the library users would otherwise pick), on the same Redis in one run, plus both in-memory
 * limiters. Run: `npm run bench -- rate-limiter`.
 *
 * Each case makes N consume() calls over 1,000 keys with 100 calls in flight and reports calls/s;
 * the table gives ours / theirs. Two rules: ours charges both atomically in one script; with
 * rate-limiter-flexible a user chains two limiters (two round trips, not atomic).
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { MemoryRateLimiter, RedisRateLimiter } from '@ux-flow/common/core';
import { deleteKeysByPrefix } from './redis-keys.js';

const N = Number(process.env['BENCH_N'] ?? 20_000);
const IN_FLIGHT = 100;
const KEYS = 1000;
const ROUNDS = 5;
const prefix = `bench:rl:${process.pid}`;

async function measure(consume: (key: string) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      await consume(`k${i % KEYS}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return N / ((performance.now() - started) / 1000);
}

/** Best of ROUNDS, alternating the contenders so drift hits both alike. */
async function compare(cases: [string, (key: string) => Promise<unknown>][]): Promise<number[]> {
  const best = cases.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, [, consume]] of cases.entries()) best[index] = Math.max(best[index] ?? 0, await measure(consume));
  }
  return best;
}

async function main(): Promise<void> {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const big = 1_000_000_000; // never refuse: we measure the cost of the check itself
  const rows: [string, number, number][] = [];
  try {
    const oursOne = new RedisRateLimiter({ redis, prefix, name: 'one', rules: { limit: big, windowMs: 60_000 } });
    const flexOne = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:flex1`, points: big, duration: 60 });
    const [a1, b1] = await compare([
      ['ours', (key) => oursOne.consume(key)],
      ['flexible', (key) => flexOne.consume(key)],
    ]);
    rows.push(['Redis, 1 rule', a1 ?? 0, b1 ?? 0]);

    const oursTwo = new RedisRateLimiter({
      redis,
      prefix,
      name: 'two',
      rules: [
        { limit: big, windowMs: 60_000 },
        { limit: big, windowMs: 3_600_000 },
      ],
    });
    const flexMinute = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:flexm`, points: big, duration: 60 });
    const flexHour = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:flexh`, points: big, duration: 3600 });
    const [a2, b2] = await compare([
      ['ours', (key) => oursTwo.consume(key)],
      ['flexible', async (key) => {
        await flexMinute.consume(key);
        await flexHour.consume(key);
      }],
    ]);
    rows.push(['Redis, 2 rules', a2 ?? 0, b2 ?? 0]);

    const oursMemory = new MemoryRateLimiter({ rules: { limit: big, windowMs: 60_000 } });
    const flexMemory = new RateLimiterMemory({ points: big, duration: 60 });
    const [a3, b3] = await compare([
      ['ours', (key) => oursMemory.consume(key)],
      ['flexible', (key) => flexMemory.consume(key)],
    ]);
    rows.push(['in-memory, 1 rule', a3 ?? 0, b3 ?? 0]);
  } finally {
    await deleteKeysByPrefix(redis, prefix);
    await redis.quit();
  }

  console.log(`Rate limiter: ${N} consume() calls, ${IN_FLIGHT} in flight, ${KEYS} keys, best of ${ROUNDS} (calls/s)`);
  console.log('| case | ours | rate-limiter-flexible | ours / flexible |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, ours, theirs] of rows) {
    console.log(`| ${name} | ${Math.round(ours).toLocaleString('en-US')} | ${Math.round(theirs).toLocaleString('en-US')} | ${(ours / theirs).toFixed(2)}× |`);
  }
}

await main();
