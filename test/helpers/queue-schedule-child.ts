/**
 * A worker process for the schedule and global-event tests. It upserts the schedule itself (as
 * every instance of a service does at start-up), records each job it runs in Redis and prints
 * `ready` once consuming. Processors: `tick` (records the run), `ok` (progress, then returns
 * data * 2), `bad` (always throws).
 * Env: QUEUE_PREFIX, QUEUE_NAME, SCHEDULE_EVERY_MS, SCHEDULE_LIMIT, GLOBAL_EVENTS ('1' = on).
 */
import { Redis } from 'ioredis';
import { MessageQueue } from '../../src/queue/index.js';

const prefix = process.env['QUEUE_PREFIX'] ?? 'test:queue:schedule-child';
const name = process.env['QUEUE_NAME'] ?? 'schedule-child';
const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
const queue = new MessageQueue({ redis, prefix, name, globalEvents: process.env['GLOBAL_EVENTS'] === '1' });
queue.registerProcessor('tick', async (_data, job) => {
  await redis.hincrby(`${prefix}:runs:${name}`, job.id, 1);
  await redis.hset(`${prefix}:by:${name}`, job.id, String(process.pid));
}, { concurrency: 4 });
queue.registerProcessor('ok', async (data: number, job) => {
  await job.updateProgress(50);
  return data * 2;
});
queue.registerProcessor('bad', () => {
  throw new Error('always fails');
});
const every = Number(process.env['SCHEDULE_EVERY_MS'] ?? 0);
if (every > 0) {
  await queue.upsertSchedule('shared', { every, limit: Number(process.env['SCHEDULE_LIMIT'] ?? 10) }, { type: 'tick', data: { from: 'child' } });
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void queue.close({ timeoutMs: 1_000 }).finally(() => {
    void redis.quit().finally(() => process.exit(0));
  });
});
