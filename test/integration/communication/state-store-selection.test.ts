import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmailStateUnavailableError } from '../../../src/communication/email-state-unavailable-error.js';
import { EnhancedEmailService } from '../../../src/communication/enhanced-email-service.js';
import { initializeEnhancedEmailService } from '../../../src/communication/initialize-enhanced-email-service.js';
import { MemoryEmailStore } from '../../../src/communication/memory-email-store.js';
import { DevProvider } from '../../../src/communication/providers/dev-provider.js';
import { SmtpProvider } from '../../../src/communication/providers/smtp-provider.js';
import { RedisEmailStore } from '../../../src/communication/redis-email-store.js';
import { createInMemoryMessageQueue } from '../../../src/queue/create-in-memory-message-queue.js';
import { MessageQueue } from '../../../src/queue/message-queue.js';
import type { QueueEventMap } from '../../../src/queue/queue-events.js';
import { startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, REDIS_URL, testPrefix } from '../../helpers/redis.js';
import { startRedisServer } from '../../helpers/redis-servers.js';

const redis = connectShared();
const prefix = testPrefix('communication-selection');
const dir = mkdtempSync(join(tmpdir(), 'uxflow-email-selection-'));
const base = { providers: [new DevProvider({ outputDir: dir })], defaultFrom: 'hello@flow.example', prefix } as const;

beforeAll(async () => {
  await redis.ping();
});

function redisStore(email: EnhancedEmailService): RedisEmailStore {
  const { store } = email;
  if (!(store instanceof RedisEmailStore)) throw new Error(`expected a RedisEmailStore, got ${store.constructor.name}`);
  return store;
}

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('which store the service picks', () => {
  it('store wins over redis', async () => {
    const store = new MemoryEmailStore();
    const email = new EnhancedEmailService({ ...base, store, redis, env: {} });
    expect(email.store).toBe(store);
    await email.close();
    expect(redis.status).toBe('ready');
  });

  it('redis gives a Redis store on that client, left open by close()', async () => {
    const email = new EnhancedEmailService({ ...base, redis, env: {} });
    expect(email.store).toBeInstanceOf(RedisEmailStore);
    expect(redisStore(email).redis).toBe(redis);
    await email.suppress('a@flow.example');
    expect(await redis.hexists(`${prefix}:{email}:suppressed`, 'a@flow.example')).toBe(1);
    await email.close();
    expect(redis.status).toBe('ready');
  });

  it("reuses the Redis-backed queue's client", async () => {
    const queue = new MessageQueue({ redis, prefix, name: 'email-reuse' });
    expect(queue.redis).toBe(redis);
    expect(createInMemoryMessageQueue().redis).toBeUndefined();
    const email = initializeEnhancedEmailService({ ...base, env: {} }, undefined, queue);
    expect(email.store).toBeInstanceOf(RedisEmailStore);
    expect(redisStore(email).redis).toBe(redis);
    await email.close();
    await queue.close();
    expect(redis.status).toBe('ready');
  });

  it('falls back to REDIS_URL, and closes the client it created', async () => {
    const email = new EnhancedEmailService({ ...base, env: { REDIS_URL } });
    expect(email.store).toBeInstanceOf(RedisEmailStore);
    const own = redisStore(email).redis;
    expect(own).not.toBe(redis);
    await email.suppress('b@flow.example');
    expect(await redis.hexists(`${prefix}:{email}:suppressed`, 'b@flow.example')).toBe(1);
    await email.close();
    await expect.poll(() => own.status).toBe('end');
  });

  it('uses memory when the queue has no Redis and REDIS_URL is unset', async () => {
    const email = initializeEnhancedEmailService({ ...base, env: {} }, undefined, createInMemoryMessageQueue());
    expect(email.store).toBeInstanceOf(MemoryEmailStore);
    await email.close();
  });
});

describe('Redis configured but unreachable', () => {
  let peer: SmtpPeer;
  beforeAll(async () => {
    peer = await startSmtpPeer();
  });
  afterAll(async () => {
    await peer.close();
  });

  it('fails a send at once with EmailStateUnavailableError and sends nothing (connection the service created)', async () => {
    const server = await startRedisServer();
    const email = new EnhancedEmailService({
      providers: [new SmtpProvider({ host: '127.0.0.1', port: peer.port, ignoreTLS: true })],
      defaultFrom: 'hello@flow.example',
      redis: `redis://127.0.0.1:${server.port}`,
      // Far above the test timeout: the failure must come from the connection state, not the timer.
      redisTimeoutMs: 60_000,
    });
    email.on('error', () => undefined);
    try {
      await email.suppress('warm@flow.example'); // connected
      const own = redisStore(email).redis;
      const reconnecting = new Promise((resolve) => own.once('reconnecting', resolve));
      await server.stop();
      await reconnecting;
      const before = peer.received.length;
      const error = await email.send({ to: 'ada@flow.example', subject: 'Hi', text: 'x', idempotencyKey: 'down-1' }).catch((caught: unknown) => caught);
      expect(EmailStateUnavailableError.isInstance(error)).toBe(true);
      expect((error as EmailStateUnavailableError).code).toBe('ERR_REDIS');
      expect((error as Error).message).toMatch(/claimIdempotency/);
      const noKey = await email.send({ to: 'ada@flow.example', subject: 'Hi', text: 'x' }).catch((caught: unknown) => caught);
      expect(EmailStateUnavailableError.isInstance(noKey)).toBe(true);
      expect(peer.received.length).toBe(before);
    } finally {
      await email.close();
      await server.stop();
    }
  }, 15_000);

  it('fails fast with a client the caller passed in (maxRetriesPerRequest: null)', async () => {
    const server = await startRedisServer();
    const client = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    const email = new EnhancedEmailService({ ...base, redis: client, redisTimeoutMs: 60_000 });
    try {
      await client.ping();
      const reconnecting = new Promise((resolve) => client.once('reconnecting', resolve));
      await server.stop();
      await reconnecting;
      const error = await email.send({ to: 'ada@flow.example', subject: 'Hi', text: 'x' }).catch((caught: unknown) => caught);
      expect(EmailStateUnavailableError.isInstance(error)).toBe(true);
    } finally {
      await email.close();
      client.disconnect();
    }
  }, 15_000);

  it('retries a queued email_send job while Redis is away and sends it once when Redis is back', async () => {
    const server = await startRedisServer();
    const port = server.port;
    const queue = createInMemoryMessageQueue({ defaultJobOptions: { backoff: { type: 'fixed', delayMs: 250 } } });
    const email = initializeEnhancedEmailService(
      {
        providers: [new SmtpProvider({ host: '127.0.0.1', port: peer.port, ignoreTLS: true })],
        defaultFrom: 'hello@flow.example',
        redis: `redis://127.0.0.1:${port}`,
        jobAttempts: 40,
      },
      undefined,
      queue,
    );
    email.on('error', () => undefined);
    const failed: QueueEventMap['failed'][] = [];
    const completed: QueueEventMap['completed'][] = [];
    queue.on('failed', (event) => failed.push(event));
    queue.on('completed', (event) => completed.push(event));
    let restarted: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      await email.suppress('warm@flow.example');
      await server.stop();
      const before = peer.received.length;
      queue.registerProcessor('email_send', async (jobData) => email.processSendEmail(jobData));
      await email.queueEmail({ to: 'queued@flow.example', subject: 'Queued', text: 'while Redis was away' });
      await expect.poll(() => failed.length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
      expect(failed[0]?.willRetry).toBe(true);
      expect(failed[0]?.error.message).toMatch(/Email state unavailable/);
      expect(completed).toHaveLength(0);
      expect(peer.received.length).toBe(before);

      restarted = await startRedisServer({ port });
      await expect.poll(() => completed.length, { timeout: 10_000 }).toBe(1);
      expect((completed[0]?.result as { status?: string }).status).toBe('sent');
      await peer.waitFor(before + 1);
      expect(peer.received.slice(before).map((message) => message.parsed.subject)).toEqual(['Queued']);
    } finally {
      await queue.close();
      await email.close();
      await restarted?.stop();
    }
  }, 20_000);
});
