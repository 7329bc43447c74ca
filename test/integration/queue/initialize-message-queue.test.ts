import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../../src/core/logger.js';
import { initializeMessageQueue } from '../../../src/queue/index.js';
import { nextEvent } from '../../helpers/queue-conformance.js';

describe('initializeMessageQueue', () => {
  it('works with the ioredis client and logger a service passes, and leaves the client open', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
    const lines: string[] = [];
    const logger = createConsoleLogger({ level: 'warn', write: (line) => lines.push(line) });
    const prefix = `test:queue:init:${randomUUID().slice(0, 8)}`;
    const queue = initializeMessageQueue(redis, logger, { prefix, name: 'service' });
    const done = nextEvent(queue, 'completed');
    queue.registerProcessor('email_send', async (jobData: { to: string }) => ({ sent: jobData.to }));
    const id = await queue.add('email_send', { to: 'a@example.com' });
    expect((await done).result).toEqual({ sent: 'a@example.com' });
    expect((await queue.getJob(id))?.state).toBe('completed');
    await queue.obliterate();
    await queue.close();
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await redis.quit();
  });
});
