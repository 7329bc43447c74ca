import { describe, expect, it } from 'vitest';
import { createInMemoryMessageQueue, MemoryQueueBackend } from '../../../src/queue/index.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('in-memory queue on a FakeClock', () => {
  it('runs a delayed job exactly when its time comes', async () => {
    const clock = new FakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
    const queue = createInMemoryMessageQueue({ clock });
    const ran: number[] = [];
    queue.registerProcessor('later', () => {
      ran.push(clock.now());
    });
    const id = await queue.add('later', {}, { delayMs: 60_000 });
    await clock.advanceAsync(59_999);
    await settle();
    expect(ran).toEqual([]);
    expect((await queue.getJob(id))?.state).toBe('delayed');
    await clock.advanceAsync(1);
    await settle();
    expect(ran).toEqual([Date.parse('2026-01-01T00:01:00Z')]);
    await queue.close();
  });

  it('waits the backoff between attempts', async () => {
    const clock = new FakeClock({ now: 0 });
    const queue = createInMemoryMessageQueue({ clock });
    const attempts: number[] = [];
    queue.registerProcessor('flaky', () => {
      attempts.push(clock.now());
      if (attempts.length < 3) throw new Error('again');
    });
    const id = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'exponential', delayMs: 1_000, jitter: 'none' } });
    await settle();
    expect(attempts).toEqual([0]);
    expect(await queue.getJob(id)).toMatchObject({ state: 'delayed', runAt: 1_000, attemptsMade: 1 });
    await clock.advanceAsync(1_000);
    await settle();
    expect(attempts).toEqual([0, 1_000]);
    await clock.advanceAsync(1_999);
    await settle();
    expect(attempts).toHaveLength(2);
    await clock.advanceAsync(1);
    await settle();
    expect(attempts).toEqual([0, 1_000, 3_000]);
    expect((await queue.getJob(id))?.state).toBe('completed');
    await queue.close();
  });

  it('keeps a long job locked by renewing it while the processor runs', async () => {
    const clock = new FakeClock({ now: 0 });
    const backend = new MemoryQueueBackend({ clock });
    const worker = createInMemoryMessageQueue({ clock, backend, lockDurationMs: 1_000, stalledIntervalMs: 500 });
    const watcher = createInMemoryMessageQueue({ clock, backend, lockDurationMs: 1_000, stalledIntervalMs: 500 });
    let release!: () => void;
    worker.registerProcessor('long', () => new Promise<void>((resolve) => (release = resolve)));
    const id = await worker.add('long', {});
    await settle();
    // Ten lock durations pass: renewals keep it active, so the stalled checker finds nothing.
    await clock.advanceAsync(10_000);
    expect((await watcher.checkStalled()).recovered).toEqual([]);
    expect(await worker.getJob(id)).toMatchObject({ state: 'active', stalledCount: 0 });
    release();
    await worker.whenIdle();
    expect((await worker.getJob(id))?.state).toBe('completed');
    await worker.close();
    await watcher.close();
  });

  it('emits a throughput window that forgets minutes older than the window', async () => {
    const clock = new FakeClock({ now: 0 });
    const queue = createInMemoryMessageQueue({ clock });
    queue.registerProcessor('t', () => 'ok');
    await queue.addBulk([1, 2, 3].map((n) => ({ type: 't', data: n })));
    await settle();
    expect((await queue.getStats()).lastMinute.completed).toBe(3);
    await clock.advanceAsync(2 * 60_000);
    const stats = await queue.getStats();
    expect(stats.lastMinute.completed).toBe(0);
    expect(stats.lastHour.completed).toBe(3);
    await queue.close();
  });
});
