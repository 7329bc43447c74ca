/**
 * A short, runnable tour of `@ux-flow/common/core`, using the package exactly as an installed
 * user would (it imports the built package). Run with `npm run demo`.
 *
 * It uses Redis from REDIS_URL (default redis://127.0.0.1:6379) when it answers, and the
 * in-memory twins otherwise, saying which in one line.
 */
import { Redis } from 'ioredis';
import {
  CircuitBreaker,
  CircuitOpenError,
  createConsoleLogger,
  loadConfig,
  MemoryRateLimiter,
  type RateLimiter,
  RedisRateLimiter,
  retry,
  RetryError,
  ValidationError,
} from '@ux-flow/common/core';

const logger = createConsoleLogger({ level: 'warn', bindings: { example: 'core-tour' } });
const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function connectRedis(url: string): Promise<Redis | undefined> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch {
    client.disconnect();
    return undefined;
  }
}

async function main(): Promise<void> {
  say('@ux-flow/common: core tour\n');

  // 1. Configuration: explicit option > environment > default, malformed values named.
  const config = loadConfig();
  say(`1. Config: REDIS_URL=${new URL(config.REDIS_URL).host}, QUEUE_CONCURRENCY=${config.QUEUE_CONCURRENCY}, TRACE_SAMPLE_RATE=${config.TRACE_SAMPLE_RATE}`);
  try {
    loadConfig({ env: { QUEUE_CONCURRENCY: 'ten' } });
  } catch (error) {
    if (ValidationError.isInstance(error)) say(`   a typo in the deployment fails fast: ${error.message}`);
  }

  // 2. Retry with exponential backoff and full jitter; only transient errors are retried.
  let calls = 0;
  const value = await retry(
    () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('ECONNRESET'), { transient: true });
      return 'payload';
    },
    { attempts: 5, backoff: { type: 'exponential', delayMs: 20 }, isTransient: (e) => (e as { transient?: boolean }).transient === true },
  );
  say(`2. retry: got "${value}" after ${calls} calls`);
  try {
    await retry(() => Promise.reject(new Error('still down')), { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
  } catch (error) {
    if (RetryError.isInstance(error)) say(`   and gives up clearly: ${error.message}`);
  }

  // 3. A circuit breaker stops hammering a dependency that keeps failing.
  const breaker = new CircuitBreaker({ name: 'smtp', minimumThroughput: 4, failureRateThreshold: 0.5, openTimeoutMs: 30_000, logger });
  breaker.on('stateChange', ({ from, to, failureRate }) => say(`   circuit ${from} → ${to} at failure rate ${failureRate}`));
  say('3. circuit breaker: four failing calls to a dead SMTP server…');
  for (let i = 0; i < 4; i++) await breaker.execute(() => Promise.reject(new Error('ECONNREFUSED'))).catch(() => undefined);
  try {
    await breaker.execute(() => Promise.resolve('sent'));
  } catch (error) {
    if (CircuitOpenError.isInstance(error)) say(`   the fifth is refused without a call: retry in ${Math.round(error.retryAfterMs / 1000)} s`);
  }

  // 4. Rate limiting, shared across instances through one Lua script in Redis.
  const redis = await connectRedis(config.REDIS_URL);
  say(redis ? '4. rate limiter: using Redis' : '4. rate limiter: Redis not reachable, using the in-memory limiter');
  const rules = [
    { limit: 3, windowMs: 60_000 },
    { limit: 10, windowMs: 3_600_000 },
  ];
  const limiter: RateLimiter = redis
    ? new RedisRateLimiter({ redis, name: `core-tour-${process.pid}`, prefix: 'uxflow-example', rules })
    : new MemoryRateLimiter({ rules });
  const key = 'login-failures:203.0.113.7';
  for (let attempt = 1; attempt <= 4; attempt++) {
    const { allowed, remaining, retryAfterMs } = await limiter.consume(key);
    say(`   attempt ${attempt}: ${allowed ? `allowed (${remaining} left this minute)` : `refused, retry in ${Math.ceil(retryAfterMs / 1000)} s`}`);
  }
  await limiter.reset(key);
  await redis?.quit();
  say('\nDone. See docs/guides/core.md for more.');
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'core tour failed');
  process.exitCode = 1;
});
