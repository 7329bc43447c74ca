import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlobalQueueEvents, type GlobalQueueEventMap, MessageQueue } from '../../../src/queue/index.js';
import { nextEvent } from '../../helpers/queue-conformance.js';
import { deleteKeys, killConnectionsNamed, testPrefix } from '../../helpers/redis.js';

const prefix = testPrefix('queue-schedules');
let admin: Redis;
const children: ChildProcessByStdio<null, Readable, null>[] = [];

beforeAll(() => {
  admin = new Redis({ host: '127.0.0.1', port: 6379 });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await deleteKeys(admin, prefix);
  await admin.quit();
});

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts a worker process and resolves once it is consuming. */
async function startChild(env: Record<string, string>): Promise<ChildProcessByStdio<null, Readable, null>> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/queue-lua-loader.ts', './test/helpers/queue-schedule-child.ts'], {
    env: { ...process.env, QUEUE_PREFIX: prefix, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`worker exited early (${String(code)})`));
    });
  });
  return child;
}

async function stopChild(child: ChildProcessByStdio<null, Readable, null>): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}


describe('repeatable jobs across processes (real Redis)', () => {
  it('fires a schedule exactly once per tick with workers in three processes racing for it', async () => {
    const name = randomUUID().slice(0, 8);
    const env = { QUEUE_NAME: name, SCHEDULE_EVERY_MS: '100', SCHEDULE_LIMIT: '20' };
    const workers = await Promise.all([startChild(env), startChild(env)]);
    // This process is the third worker, and upserts the same schedule too.
    const local = new MessageQueue({ redis: admin, prefix, name });
    local.registerProcessor('tick', async (_data, job) => {
      await admin.hincrby(`${prefix}:runs:${name}`, job.id, 1);
      await admin.hset(`${prefix}:by:${name}`, job.id, String(process.pid));
    }, { concurrency: 4 });
    await local.upsertSchedule('shared', { every: 100, limit: 20 }, { type: 'tick', data: { from: 'parent' } });
    await until(async () => (await admin.hlen(`${prefix}:runs:${name}`)) >= 20, '20 ticks', 20_000);
    // A duplicate would show up shortly after; give it the time of a few ticks.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const runs = await admin.hgetall(`${prefix}:runs:${name}`);
    expect(Object.keys(runs)).toHaveLength(20);
    expect(Object.values(runs).every((count) => count === '1')).toBe(true);
    const ticks = Object.keys(runs)
      .map((id) => Number(id.slice(id.lastIndexOf(':') + 1)))
      .sort((a, b) => a - b);
    // Ticks lie on the epoch-aligned 100 ms grid, each at most once. A tick missed because the
    // machine stalled for longer than an interval is coalesced into the next one (by design), so
    // gaps are multiples of 100 ms rather than exactly 100 ms.
    expect(ticks.every((tick) => tick % 100 === 0)).toBe(true);
    expect(ticks.slice(1).every((tick, index) => tick > (ticks[index] as number))).toBe(true);
    const schedule = await local.getSchedule('shared');
    expect(schedule).toMatchObject({ count: 20, nextRunAt: undefined });
    expect((await local.getStats()).counts).toMatchObject({ waiting: 0, delayed: 0, active: 0, completed: 20 });
    await Promise.all(workers.map(stopChild));
    await local.close();
  }, 40_000);

  it('keeps a schedule across restarts: the tick missed while no worker ran fires once, then it goes on', async () => {
    const name = randomUUID().slice(0, 8);
    const first = new MessageQueue({ redis: admin, prefix, name });
    const planned = await first.upsertSchedule('resume', { every: 200 }, { type: 'tick', data: null });
    await first.close();
    // Nobody runs while three ticks pass.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (planned.nextRunAt ?? 0) - Date.now()) + 600));
    const second = new MessageQueue({ redis: admin, prefix, name });
    const ran: string[] = [];
    const two = new Promise<void>((resolve) => {
      second.registerProcessor('tick', (_data, job) => {
        ran.push(job.id);
        if (ran.length === 2) resolve();
      });
    });
    await two;
    expect(ran[0]).toBe(`repeat:resume:${String(planned.nextRunAt)}`);
    const nextTick = Number(ran[1]?.slice(ran[1].lastIndexOf(':') + 1));
    expect(nextTick).toBeGreaterThan((planned.nextRunAt ?? 0) + 600);
    await second.removeSchedule('resume');
    await second.close();
  }, 20_000);
});

describe('global events across processes (real Redis)', () => {
  it('delivers added, progress, completed, failed, retrying and dead events written by another process', async () => {
    const name = randomUUID().slice(0, 8);
    const listener = new GlobalQueueEvents({ redis: admin, prefix, name, blockTimeoutMs: 200 });
    const seen: { event: string; payload: GlobalQueueEventMap[keyof GlobalQueueEventMap] }[] = [];
    for (const event of ['added', 'delayed', 'completed', 'failed', 'retrying', 'dead', 'progress', 'stalled'] as const) {
      listener.on(event, (payload) => seen.push({ event, payload }));
    }
    await listener.waitUntilReady();
    const worker = await startChild({ QUEUE_NAME: name, GLOBAL_EVENTS: '1' });
    const producer = new MessageQueue({ redis: admin, prefix, name, globalEvents: true });
    const okId = await producer.add('ok', 21);
    const badId = await producer.add('bad', null, { attempts: 2 });
    const laterId = await producer.add('ok', 1, { delayMs: 60_000 });
    await until(() => seen.some((entry) => entry.event === 'dead'), 'the dead event', 15_000);
    await until(() => seen.some((entry) => entry.event === 'completed'), 'the completed event', 15_000);
    const of = (id: string): string[] => seen.filter((entry) => 'jobId' in entry.payload && entry.payload.jobId === id).map((entry) => entry.event);
    expect(of(okId)).toEqual(['added', 'progress', 'completed']);
    expect(of(badId)).toEqual(['added', 'failed', 'retrying', 'failed', 'dead']);
    expect(of(laterId)).toEqual(['delayed']);
    const completed = seen.find((entry) => entry.event === 'completed')?.payload as GlobalQueueEventMap['completed'];
    expect(completed).toMatchObject({ jobId: okId, type: 'ok', attempt: 1, result: 42 });
    const dead = seen.find((entry) => entry.event === 'dead')?.payload as GlobalQueueEventMap['dead'];
    expect(dead).toMatchObject({ jobId: badId, type: 'bad', error: { message: 'always fails' } });
    const ids = seen.map((entry) => (entry.payload as GlobalQueueEventMap['added']).eventId);
    expect([...ids].sort((a, b) => compareIds(a, b))).toEqual(ids);
    await stopChild(worker);
    await producer.close();
    await listener.close();
  }, 30_000);

  it('resumes from the last event after its connection is killed, missing and repeating nothing', async () => {
    const name = randomUUID().slice(0, 8);
    const connectionName = `events-${name}`;
    const listener = new GlobalQueueEvents({ redis: { url: 'redis://127.0.0.1:6379', options: { connectionName } }, prefix, name, blockTimeoutMs: 5_000 });
    const added: string[] = [];
    const errors: Error[] = [];
    listener.on('added', (event) => added.push(event.jobId));
    listener.on('error', (error) => errors.push(error));
    await listener.waitUntilReady();
    const producer = new MessageQueue({ redis: admin, prefix, name, globalEvents: { maxLen: 1_000 } });
    const firstIds = await producer.addBulk(Array.from({ length: 50 }, (_, n) => ({ type: 'x', data: n })));
    await until(() => added.length === 50, 'the first 50 events');
    // The listener is now blocked in XREAD; kill its connection, and write while it is gone.
    expect(await killConnectionsNamed(admin, connectionName)).toBeGreaterThan(0);
    const secondIds = await producer.addBulk(Array.from({ length: 50 }, (_, n) => ({ type: 'x', data: n })));
    await until(() => added.length >= 100, 'the events written while disconnected');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(added).toEqual([...firstIds, ...secondIds]);
    await producer.close();
    await listener.close();
  }, 30_000);

  it('keeps the stream bounded, and writes no stream at all when global events are off', async () => {
    const name = randomUUID().slice(0, 8);
    const bounded = new MessageQueue({ redis: admin, prefix, name, globalEvents: { maxLen: 100 } });
    for (let round = 0; round < 10; round++) await bounded.addBulk(Array.from({ length: 100 }, (_, n) => ({ type: 'x', data: n })));
    const length = await admin.xlen(`${prefix}:{queue:${name}}:events`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(400);
    await bounded.close();
    const quiet = new MessageQueue({ redis: admin, prefix, name: `${name}-off` });
    const done = nextEvent(quiet, 'completed');
    quiet.registerProcessor('x', () => 1);
    await quiet.add('x', 1);
    await done;
    expect(await admin.exists(`${prefix}:{queue:${name}-off}:events`)).toBe(0);
    await quiet.close();
  });
});

function compareIds(a: string, b: string): number {
  const [ams, aseq] = a.split('-').map(Number) as [number, number];
  const [bms, bseq] = b.split('-').map(Number) as [number, number];
  return ams - bms || aseq - bseq;
}
