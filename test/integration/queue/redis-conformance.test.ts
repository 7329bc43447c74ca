import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { Keyspace } from '../../../src/core/keyspace.js';
import { MessageQueue, RedisQueueBackend } from '../../../src/queue/index.js';
import { describeQueueConformance } from '../../helpers/queue-conformance.js';
import { deleteKeys } from '../../helpers/redis.js';

const prefix = `test:queue:conformance:${randomUUID().slice(0, 8)}`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describeQueueConformance('Redis driver', () => {
  const name = randomUUID().slice(0, 8);
  const queues: MessageQueue[] = [];
  return {
    create: (options) => {
      const queue = new MessageQueue({ ...options, redis, prefix, name });
      queues.push(queue);
      return queue;
    },
    backend: () => new RedisQueueBackend(redis, new Keyspace(prefix, `queue:${name}`)),
    teardown: async () => {
      await Promise.all(queues.map((queue) => queue.close({ timeoutMs: 100 })));
    },
  };
});
