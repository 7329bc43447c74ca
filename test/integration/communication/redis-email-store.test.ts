import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { EmailStateUnavailableError } from '../../../src/communication/email-state-unavailable-error.js';
import { RedisEmailStore } from '../../../src/communication/redis-email-store.js';
import { describeEmailStateStoreConformance } from '../../helpers/communication-store-conformance.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';
import { freePort } from '../../helpers/redis-servers.js';

const redis = connectShared();
const PREFIX = testPrefix('communication-store');

afterAll(async () => {
  await deleteKeys(redis, PREFIX);
  await redis.quit();
});

let run = 0;
describeEmailStateStoreConformance('redis', async (options) => {
  const prefix = `${PREFIX}:c${run++}`;
  const store = new RedisEmailStore({ redis, prefix, ...options });
  return {
    store,
    // Redis measures its own TTLs: real time has to pass.
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    cleanup: async () => {
      await store.flush();
      await deleteKeys(redis, prefix);
    },
  };
});

describe('RedisEmailStore', () => {
  it('keeps every key under the prefix and the {email} hash tag', async () => {
    const prefix = `${PREFIX}:tags`;
    const store = new RedisEmailStore({ redis, prefix });
    await store.claimIdempotency('k', 'm', 60_000);
    await store.suppress('a@example.com', 'manual', 1);
    await store.recordSent({ messageId: 'm', template: 't', tags: [], at: Date.now() });
    await store.firstSeen('event', 'e', 60_000);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThanOrEqual(5);
    for (const key of keys) expect(key.startsWith(`${prefix}:{email}:`)).toBe(true);
  });

  it('fails at once with EmailStateUnavailableError when nothing listens on the port', async () => {
    const port = await freePort();
    // The core default (maxRetriesPerRequest: null) would queue commands until Redis comes back.
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    const store = new RedisEmailStore({ redis: client, prefix: `${PREFIX}:down`, timeoutMs: 60_000 });
    try {
      await new Promise<void>((resolve) => client.once('reconnecting', () => resolve()));
      const error = await store.suppressedAmong(['a@example.com']).catch((caught: unknown) => caught);
      expect(EmailStateUnavailableError.isInstance(error)).toBe(true);
      expect((error as EmailStateUnavailableError).code).toBe('ERR_REDIS');
      expect((error as EmailStateUnavailableError).operation).toBe('suppressedAmong');
      expect((error as Error).message).toMatch(/reconnecting/);
    } finally {
      client.disconnect();
    }
  });

  it('gives up after timeoutMs on a server that accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null, enableReadyCheck: false });
    client.on('error', () => undefined);
    const store = new RedisEmailStore({ redis: client, prefix: `${PREFIX}:silent`, timeoutMs: 200 });
    try {
      const error = await store.claimIdempotency('k', 'm', 60_000).catch((caught: unknown) => caught);
      expect(EmailStateUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/did not answer within 200 ms/);
    } finally {
      client.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
