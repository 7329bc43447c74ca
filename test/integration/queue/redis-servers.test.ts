import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MessageQueue } from '../../../src/queue/index.js';
import { startRedisCluster, startRedisServer } from '../../helpers/queue-redis-server.js';

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('MessageQueue on test-owned Redis servers', () => {
  it('loses no job across a crash and restart of Redis with AOF, and workers resume on their own', async () => {
    const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    try {
      const worker = new MessageQueue({ redis, name: 'aof', lockDurationMs: 2_000, stalledIntervalMs: 500 });
      worker.on('error', () => undefined);
      const total = 300;
      const runs = new Map<number, number>();
      await worker.addBulk(Array.from({ length: total }, (_, i) => ({ type: 'work', data: i })));
      worker.registerProcessor('work', async (n: number) => {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 3));
        return n;
      }, { concurrency: 10 });
      await until(async () => runs.size >= 60, 'some progress before the crash');
      await server.crash();
      await server.start();
      await until(async () => (await worker.getStats()).counts.completed === total, 'every job to complete after the restart');
      const stats = await worker.getStats();
      expect(stats.counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: total, failed: 0 });
      expect(runs.size).toBe(total);
      await worker.close();
    } finally {
      redis.disconnect();
      await server.destroy();
    }
  });

  it('spreads queues over a 3-master Redis Cluster and completes every job', async () => {
    const cluster = await startRedisCluster();
    const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { maxRetriesPerRequest: null } });
    client.on('error', () => undefined);
    try {
      const names = ['emails', 'reports', 'ai', 'billing', 'exports', 'webhooks'];
      const queues = names.map((name) => new MessageQueue({ redis: client, name }));
      const done = queues.map(
        (queue) =>
          new Promise<number>((resolve) => {
            let count = 0;
            queue.on('completed', () => {
              if (++count === 100) resolve(count);
            });
          }),
      );
      for (const queue of queues) {
        queue.registerProcessor('job', (n: number) => n + 1, { concurrency: 5 });
        await queue.addBulk(Array.from({ length: 100 }, (_, i) => ({ type: 'job', data: i })));
      }
      expect(await Promise.all(done)).toEqual(names.map(() => 100));
      // The queues' keys landed on more than one master.
      const owners = new Set<string>();
      for (const node of client.nodes('master')) {
        const keys = await node.keys('uxflow:{queue:*}:types');
        if (keys.length > 0) owners.add(`${node.options.port}`);
      }
      expect(owners.size).toBeGreaterThan(1);
      for (const queue of queues) {
        expect((await queue.getStats()).counts.completed).toBe(100);
        await queue.obliterate();
        await queue.close();
      }
    } finally {
      client.disconnect();
      await cluster.destroy();
    }
  });
});
