import { afterEach, describe, expect, it } from 'vitest';
import { RedisUnavailableError } from '../../../src/core/redis-unavailable-error.js';
import { MessageQueue } from '../../../src/queue/message-queue.js';
import { freePort, startRedisServer, type RedisProcess } from '../../helpers/redis-servers.js';

let server: RedisProcess | undefined;
let queue: MessageQueue | undefined;
afterEach(async () => {
  await queue?.close({ timeoutMs: 1000 });
  await server?.stop();
  queue = undefined;
  server = undefined;
});

async function until(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('producers while Redis is down (test-owned redis-server)', () => {
  it('add and addBulk fail at once with ERR_REDIS, write nothing, and work again when Redis is back; a worker resumes on its own', async () => {
    const port = await freePort();
    queue = new MessageQueue({ redis: `redis://127.0.0.1:${port}`, name: 'down', prefix: 'uxflow-test-down' });
    const client = queue.redis!;
    await until(() => client.status === 'reconnecting', 'the client to start reconnecting');

    const single = await queue.add('job', { n: 1 }).catch((error: unknown) => error);
    expect(RedisUnavailableError.isInstance(single)).toBe(true);
    expect(single).toMatchObject({ code: 'ERR_REDIS', operation: 'add' });
    expect((single as Error).message).toContain('option "redis"');
    const bulk = await queue.addBulk([{ type: 'job', data: { n: 2 } }]).catch((error: unknown) => error);
    expect(bulk).toMatchObject({ code: 'ERR_REDIS', operation: 'addBulk' });

    const done: unknown[] = [];
    queue.registerProcessor('job', (data) => void done.push(data), { concurrency: 1 });
    server = await startRedisServer({ port });
    await until(() => client.status === 'ready', 'the client to reconnect');
    await queue.add('job', { n: 3 });
    await until(() => done.length === 1, 'the worker to process the job added after the reconnect');
    // The failed adds wrote nothing: only the job added after the reconnect ever existed.
    expect(done).toEqual([{ n: 3 }]);
    expect((await queue.getStats()).counts).toMatchObject({ waiting: 0, delayed: 0, completed: 1 });
  }, 60_000);
});
