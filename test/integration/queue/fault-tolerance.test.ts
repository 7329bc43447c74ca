import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageQueue } from '../../../src/queue/index.js';
import { events, nextEvent } from '../../helpers/queue-conformance.js';
import { deleteKeys, killConnectionsNamed } from '../../helpers/redis.js';

const prefix = `test:queue:fault:${randomUUID().slice(0, 8)}`;
let admin: Redis;

beforeAll(() => {
  admin = new Redis({ host: '127.0.0.1', port: 6379 });
});

afterAll(async () => {
  await deleteKeys(admin, prefix);
  await admin.quit();
});

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}


describe('MessageQueue fault tolerance (real Redis)', () => {
  it('redelivers a job whose worker process was SIGKILLed mid-job, and completes it exactly once', async () => {
    const name = randomUUID().slice(0, 8);
    const producer = new MessageQueue({ redis: admin, prefix, name });
    const id = await producer.add('crash', { order: 7 });
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/queue-lua-loader.ts', './test/helpers/queue-worker-child.ts'], {
      env: { ...process.env, QUEUE_PREFIX: prefix, QUEUE_NAME: name, QUEUE_LOCK_MS: '1000', QUEUE_STALLED_MS: '200' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes(`started ${id}`)) resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`worker exited early (${String(code)})`));
      });
    });
    expect((await producer.getJob(id))?.state).toBe('active');
    child.kill('SIGKILL');
    await exited;

    const completions: string[] = [];
    const worker = new MessageQueue({ redis: admin, prefix, name, lockDurationMs: 1000, stalledIntervalMs: 200 });
    const stalled = nextEvent(worker, 'stalled');
    const done = nextEvent(worker, 'completed');
    worker.registerProcessor('crash', (data: { order: number }, job) => {
      completions.push(job.id);
      return data.order;
    });
    expect((await stalled).recovered).toEqual([id]);
    await done;
    await worker.whenIdle();
    expect(completions).toEqual([id]);
    expect(await admin.get(`${prefix}:starts:${id}`)).toBe('1');
    expect(await worker.getJob(id)).toMatchObject({ state: 'completed', result: 7, stalledCount: 1, attemptsMade: 1 });
    await worker.close();
    await producer.close();
  });

  it('resumes on its own after CLIENT KILL of its idle (blocked) connections', async () => {
    const name = randomUUID().slice(0, 8);
    const connectionName = `queue-fault-${name}`;
    const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null, connectionName });
    redis.on('error', () => undefined); // the test kills its connections on purpose
    const worker = new MessageQueue({ redis, prefix, name, blockTimeoutMs: 30_000 });
    const producer = new MessageQueue({ redis: admin, prefix, name });
    const drained = nextEvent(worker, 'drained');
    worker.registerProcessor('ping', (n: number) => n * 2);
    await drained;
    await until(async () => {
      const list = String(await admin.client('LIST'));
      return list.split('\n').some((line) => line.includes(`name=${connectionName} `) && line.includes('cmd=bzpopmin'));
    }, 'the blocking connection');
    expect(await killConnectionsNamed(admin, connectionName)).toBeGreaterThanOrEqual(2);
    const done = events(worker, 'completed', 20);
    await producer.addBulk(Array.from({ length: 20 }, (_, i) => ({ type: 'ping', data: i })));
    const results = (await done).map((event) => event.result as number).sort((a, b) => a - b);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    await worker.close();
    await producer.close();
    await redis.quit();
  });

  it('loses no job when its connections are killed repeatedly while processing', async () => {
    const name = randomUUID().slice(0, 8);
    const connectionName = `queue-fault-${name}`;
    const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null, connectionName });
    redis.on('error', () => undefined); // the test kills its connections on purpose
    const worker = new MessageQueue({ redis, prefix, name, lockDurationMs: 2000, stalledIntervalMs: 500 });
    worker.on('error', () => undefined);
    const producer = new MessageQueue({ redis: admin, prefix, name });
    const total = 400;
    const runs = new Map<number, number>();
    worker.registerProcessor('work', async (n: number) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 2));
      return n;
    }, { concurrency: 10 });
    await producer.addBulk(Array.from({ length: total }, (_, i) => ({ type: 'work', data: i })));
    for (let round = 0; round < 3; round++) {
      await until(async () => runs.size >= ((round + 1) * total) / 5, `progress before kill ${round}`);
      await killConnectionsNamed(admin, connectionName);
    }
    await until(async () => (await producer.getStats()).counts.completed === total, 'every job to complete', 45_000);
    const stats = await producer.getStats();
    expect(stats.counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: total, failed: 0 });
    expect(runs.size).toBe(total);
    await worker.close();
    await producer.close();
    await redis.quit();
  });
});
