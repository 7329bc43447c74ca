/**
 * A worker in its own process, for fault tests. It starts a job, records the start in Redis,
 * prints `started <id>` and then hangs, so the parent can SIGKILL it mid-job.
 * Env: QUEUE_PREFIX, QUEUE_NAME, QUEUE_LOCK_MS, QUEUE_STALLED_MS.
 */
import { Redis } from 'ioredis';
import { MessageQueue } from '../../src/queue/index.js';

const prefix = process.env['QUEUE_PREFIX'] ?? 'test:queue:child';
const name = process.env['QUEUE_NAME'] ?? 'child';
const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
const queue = new MessageQueue({
  redis,
  prefix,
  name,
  lockDurationMs: Number(process.env['QUEUE_LOCK_MS'] ?? 1000),
  stalledIntervalMs: Number(process.env['QUEUE_STALLED_MS'] ?? 200),
});
queue.registerProcessor('crash', async (_data, job) => {
  await redis.incr(`${prefix}:starts:${job.id}`);
  process.stdout.write(`started ${job.id}\n`);
  await new Promise(() => undefined);
});
