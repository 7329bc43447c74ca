/**
 * One conformance suite for every queue driver: the Redis driver (real server) and the in-memory
 * driver must pass the same tests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/validation-error.js';
import {
  type FetchRequest,
  type FetchResult,
  MessageQueue,
  type MessageQueueOptions,
  type MessagingTelemetry,
  type QueueBackend,
  type QueueEventMap,
  UnrecoverableError,
} from '../../src/queue/index.js';

/** Options a conformance test may set. */
export type TestQueueOptions = Omit<MessageQueueOptions, 'redis' | 'backend' | 'name' | 'prefix'>;

/** One test's store: every queue it creates shares it (like processes sharing one Redis). */
export interface ConformanceStore {
  create(options?: TestQueueOptions): MessageQueue;
  backend(): QueueBackend;
  teardown(): Promise<void>;
}

/** Resolves with the next `event` payload matching `filter`. */
export function nextEvent<E extends keyof QueueEventMap>(
  queue: MessageQueue,
  event: E,
  filter: (payload: QueueEventMap[E]) => boolean = () => true,
): Promise<QueueEventMap[E]> {
  return new Promise((resolve) => {
    const listener = (payload: QueueEventMap[E]): void => {
      if (!filter(payload)) return;
      queue.off(event, listener);
      resolve(payload);
    };
    queue.on(event, listener);
  });
}

/** Resolves after `count` `event`s. */
export function events<E extends keyof QueueEventMap>(queue: MessageQueue, event: E, count: number): Promise<QueueEventMap[E][]> {
  return new Promise((resolve) => {
    const seen: QueueEventMap[E][] = [];
    const listener = (payload: QueueEventMap[E]): void => {
      seen.push(payload);
      if (seen.length === count) {
        queue.off(event, listener);
        resolve(seen);
      }
    };
    queue.on(event, listener);
  });
}

/** The backend with every fetch reply held back `ms` (a slow network), everything else as is. */
function withFetchLatency(backend: QueueBackend, ms: number): QueueBackend {
  return new Proxy(backend, {
    get(target, property, receiver): unknown {
      if (property === 'fetch') {
        return async (request: FetchRequest): Promise<FetchResult> => {
          const result = await target.fetch(request);
          await new Promise((resolve) => setTimeout(resolve, ms));
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Registers the suite; `open` makes a fresh store per test. */
export function describeQueueConformance(driver: string, open: () => ConformanceStore): void {
  describe(`MessageQueue conformance (${driver})`, () => {
    let store: ConformanceStore;
    const closeAfter: MessageQueue[] = [];
    beforeEach(() => {
      store = open();
    });
    afterEach(async () => {
      await Promise.all(closeAfter.splice(0).map((queue) => queue.close({ timeoutMs: 100 })));
      await store.teardown();
    });

    it('adds a job and reports it waiting with its data and default attempts', async () => {
      const queue = store.create();
      const id = await queue.add('email_send', { to: 'a@example.com' });
      const job = await queue.getJob(id);
      expect(job).toMatchObject({ id, type: 'email_send', data: { to: 'a@example.com' }, state: 'waiting', attemptsMade: 0, maxAttempts: 3, priority: 5 });
    });

    it('processes a job, stores its result and emits completed', async () => {
      const queue = store.create();
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('sum', (data: { a: number; b: number }) => ({ total: data.a + data.b }), { concurrency: 2 });
      const id = await queue.add('sum', { a: 2, b: 3 });
      const event = await done;
      expect(event).toMatchObject({ jobId: id, type: 'sum', attempt: 1, result: { total: 5 } });
      const job = await queue.getJob(id);
      expect(job).toMatchObject({ state: 'completed', result: { total: 5 }, attemptsMade: 1 });
      expect(job?.finishedAt).toBeGreaterThanOrEqual(job?.processedAt ?? Infinity);
    });

    it('treats a duplicate jobId as a no-op returning the existing id', async () => {
      const queue = store.create();
      const first = await queue.add('t', { n: 1 }, { jobId: 'order-42' });
      const second = await queue.add('t', { n: 2 }, { jobId: 'order-42' });
      const bulk = await queue.addBulk([{ type: 't', data: { n: 3 }, options: { jobId: 'order-42' } }]);
      expect([first, second, bulk[0]]).toEqual(['order-42', 'order-42', 'order-42']);
      expect((await queue.getJob('order-42'))?.data).toEqual({ n: 1 });
      expect((await queue.getStats()).counts.waiting).toBe(1);
    });

    it('runs higher priorities first and keeps FIFO within a priority', async () => {
      const queue = store.create();
      await queue.pause();
      const order: string[] = [];
      await queue.add('p', 'low', { priority: 'low' });
      await queue.add('p', 'normal-1');
      await queue.add('p', 'high', { priority: 'high' });
      await queue.add('p', 'normal-2', { priority: 'normal' });
      await queue.add('p', 'zero', { priority: 0 });
      const all = events(queue, 'completed', 5);
      queue.registerProcessor('p', (data: string) => {
        order.push(data);
      }, { concurrency: 1 });
      await queue.resume();
      await all;
      expect(order).toEqual(['zero', 'high', 'normal-1', 'normal-2', 'low']);
    });

    it('holds a delayed job until it is due', async () => {
      const queue = store.create({ blockTimeoutMs: 1000 });
      const added = Date.now();
      const id = await queue.add('later', null, { delayMs: 300 });
      expect((await queue.getJob(id))?.state).toBe('delayed');
      expect((await queue.getStats()).types['later']?.delayed).toBe(1);
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('later', () => 'ok');
      await done;
      const job = await queue.getJob(id);
      expect(job?.processedAt).toBeGreaterThanOrEqual(added + 300);
      expect((await queue.getStats()).types['later']?.delayed).toBe(0);
    });

    it('retries a failing job with backoff and completes it on a later attempt', async () => {
      const queue = store.create();
      let calls = 0;
      const retrying = events(queue, 'retrying', 2);
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('flaky', () => {
        calls++;
        if (calls < 3) throw new Error(`boom ${calls}`);
        return calls;
      });
      const id = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delayMs: 50 } });
      const retries = await retrying;
      expect(retries.map((event) => [event.attempt, event.delayMs, event.error.message])).toEqual([
        [1, 50, 'boom 1'],
        [2, 50, 'boom 2'],
      ]);
      expect((await done).attempt).toBe(3);
      expect(await queue.getJob(id)).toMatchObject({ state: 'completed', attemptsMade: 3, result: 3 });
    });

    it('moves a job that used all attempts to the dead-letter list, and redrives it', async () => {
      const queue = store.create();
      let fail = true;
      const dead = nextEvent(queue, 'dead');
      queue.registerProcessor('bad', () => {
        if (fail) throw new Error('smtp down');
        return 'sent';
      });
      const id = await queue.add('bad', { n: 1 }, { attempts: 2 });
      expect(await dead).toMatchObject({ jobId: id, attempt: 2, error: { message: 'smtp down' } });
      const letters = await queue.listDeadLetters();
      expect(letters.map((job) => [job.id, job.state, job.attemptsMade, job.error?.message])).toEqual([[id, 'failed', 2, 'smtp down']]);
      expect((await queue.getStats()).types['bad']?.failed).toBe(1);
      fail = false;
      const done = nextEvent(queue, 'completed');
      await queue.retryJob(id);
      await done;
      expect(await queue.getJob(id)).toMatchObject({ state: 'completed', result: 'sent', attemptsMade: 1 });
      expect(await queue.listDeadLetters()).toEqual([]);
      await expect(queue.retryJob(id)).rejects.toMatchObject({ code: 'ERR_QUEUE' });
    });

    it('fails at once on UnrecoverableError', async () => {
      const queue = store.create();
      let calls = 0;
      const dead = nextEvent(queue, 'dead');
      queue.registerProcessor('u', () => {
        calls++;
        throw new UnrecoverableError('no recipient');
      });
      const id = await queue.add('u', {}, { attempts: 5 });
      expect((await dead).error).toMatchObject({ name: 'UnrecoverableError', code: 'ERR_JOB_UNRECOVERABLE' });
      expect(calls).toBe(1);
      expect((await queue.getJob(id))?.attemptsMade).toBe(1);
    });

    it('aborts job.signal on timeout and fails the attempt', async () => {
      const queue = store.create();
      let reason: unknown;
      const dead = nextEvent(queue, 'dead');
      queue.registerProcessor('slow', (_data, job) => new Promise((resolve) => {
        job.signal.addEventListener('abort', () => {
          reason = job.signal.reason;
          resolve('late');
        });
      }));
      const id = await queue.add('slow', {}, { timeoutMs: 100, attempts: 1 });
      expect((await dead).error).toMatchObject({ code: 'ERR_TIMEOUT' });
      expect(reason).toMatchObject({ code: 'ERR_TIMEOUT' });
      expect((await queue.getJob(id))?.state).toBe('failed');
    });

    it('stores progress and log lines written by the processor', async () => {
      const queue = store.create();
      const progress = events(queue, 'progress', 2);
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('p', async (_data, job) => {
        await job.updateProgress(40);
        await job.log('step one');
        await job.updateProgress({ step: 2 });
        await job.log('step two');
      });
      const id = await queue.add('p', {});
      await done;
      expect((await progress).map((event) => event.progress)).toEqual([40, { step: 2 }]);
      expect((await queue.getJob(id))?.progress).toEqual({ step: 2 });
      expect(await queue.getJobLogs(id)).toEqual(['step one', 'step two']);
    });

    it('applies removeOnComplete: remove at once, or keep the newest N', async () => {
      const queue = store.create();
      const all = events(queue, 'completed', 4);
      queue.registerProcessor('r', () => 'ok', { concurrency: 1 });
      const gone = await queue.add('r', {}, { removeOnComplete: true });
      const kept = await queue.addBulk([1, 2, 3].map((n) => ({ type: 'r', data: n, options: { removeOnComplete: 2 } })));
      await all;
      expect(await queue.getJob(gone)).toBeUndefined();
      expect(await queue.getJob(kept[0]!)).toBeUndefined();
      expect((await queue.getJob(kept[1]!))?.state).toBe('completed');
      expect((await queue.getJob(kept[2]!))?.state).toBe('completed');
      expect((await queue.getStats()).counts.completed).toBe(2);
    });

    it('rejects bad input with a ValidationError and writes nothing', async () => {
      const queue = store.create({ jobTypes: ['known'], maxPayloadBytes: 1024 });
      const circular: Record<string, unknown> = {};
      circular['self'] = circular;
      const bad: [unknown, object, string][] = [
        [{ f: () => 1 }, {}, 'data.f'],
        [{ n: 10n }, {}, 'data.n'],
        [{ x: Number.NaN }, {}, 'data.x'],
        [circular, {}, 'data.self'],
        [undefined, {}, 'data'],
        [new Map(), {}, 'data'],
        ['x'.repeat(2000), {}, 'data'],
        [{}, { priority: -1 }, 'priority'],
        [{}, { priority: 'urgent' }, 'priority'],
        [{}, { attempts: 0 }, 'attempts'],
        [{}, { delayMs: -5 }, 'delayMs'],
        [{}, { timeoutMs: 1.5 }, 'timeoutMs'],
        [{}, { backoff: { type: 'linear', delayMs: 1 } }, 'backoff.type'],
        [{}, { removeOnComplete: -1 }, 'removeOnComplete'],
        [{}, { jobId: '' }, 'jobId'],
      ];
      for (const [data, options, field] of bad) {
        const error: unknown = await queue.add('known', data, options).catch((caught: unknown) => caught);
        expect(ValidationError.isInstance(error), field).toBe(true);
        expect((error as ValidationError).field).toBe(field);
      }
      await expect(queue.add('unknown', {})).rejects.toMatchObject({ code: 'ERR_VALIDATION', field: 'type' });
      await expect(
        queue.addBulk([
          { type: 'known', data: 1 },
          { type: 'known', data: () => 1 },
        ]),
      ).rejects.toMatchObject({ field: 'jobs[1].data' });
      const stats = await queue.getStats();
      expect(stats.counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
    });

    it('reports counts per state and per type, throughput, failure rate and oldest waiting age', async () => {
      const queue = store.create();
      await queue.addBulk([
        { type: 'a', data: 1 },
        { type: 'a', data: 2 },
        { type: 'b', data: 3, options: { delayMs: 60_000 } },
        { type: 'c', data: 4 },
        { type: 'c', data: 5 },
        { type: 'd', data: 6 },
      ]);
      const finished = events(queue, 'completed', 2);
      const dead = events(queue, 'dead', 1);
      queue.registerProcessor('c', () => 'ok');
      queue.registerProcessor('d', () => {
        throw new Error('no');
      });
      await Promise.all([finished, dead]);
      const stats = await queue.getStats();
      expect(stats.counts).toEqual({ waiting: 2, active: 0, delayed: 1, completed: 2, failed: 1 });
      expect(stats.types['a']).toMatchObject({ waiting: 2, active: 0, delayed: 0, completed: 0, failed: 0 });
      expect(stats.types['b']).toMatchObject({ waiting: 0, delayed: 1 });
      expect(stats.types['c']).toMatchObject({ waiting: 0, completed: 2 });
      expect(stats.types['d']).toMatchObject({ failed: 1 });
      expect(stats.lastMinute.completed).toBe(2);
      expect(stats.lastMinute.failed).toBe(3);
      expect(stats.lastMinute.failureRate).toBeCloseTo(3 / 5);
      expect(stats.lastHour.completed).toBe(2);
      expect(stats.oldestWaitingAgeMs).toBeGreaterThanOrEqual(0);
      expect(stats.oldestWaitingAgeMs).toBeLessThan(60_000);
      expect(stats.paused).toBe(false);
    });

    it('does not process while paused and resumes on resume()', async () => {
      const queue = store.create({ blockTimeoutMs: 200 });
      await queue.pause();
      let calls = 0;
      const id = await queue.add('t', {});
      const idle = nextEvent(queue, 'drained');
      queue.registerProcessor('t', () => {
        calls++;
      });
      await idle;
      expect(calls).toBe(0);
      expect((await queue.getStats()).paused).toBe(true);
      const done = nextEvent(queue, 'completed');
      await queue.resume();
      expect((await done).jobId).toBe(id);
    });

    it('removes a waiting job, refuses an active one, and cleans old finished jobs', async () => {
      const queue = store.create();
      const waiting = await queue.add('x', {});
      expect(await queue.removeJob(waiting)).toBe(true);
      expect(await queue.removeJob(waiting)).toBe(false);
      expect(await queue.getJob(waiting)).toBeUndefined();
      const release = deferred();
      const started = deferred();
      queue.registerProcessor('y', async () => {
        started.resolve();
        await release.promise;
      });
      const active = await queue.add('y', {});
      await started.promise;
      await expect(queue.removeJob(active)).rejects.toMatchObject({ code: 'ERR_QUEUE' });
      const done = nextEvent(queue, 'completed');
      release.resolve();
      await done;
      expect(await queue.clean('completed', 60_000)).toEqual([]);
      expect(await queue.clean('completed', 0)).toEqual([active]);
      expect(await queue.getJob(active)).toBeUndefined();
      expect((await queue.getStats()).types['y']?.completed).toBe(0);
    });

    it('retries every failed job with retryAllFailed', async () => {
      const queue = store.create();
      let fail = true;
      const dead = events(queue, 'dead', 3);
      queue.registerProcessor('f', () => {
        if (fail) throw new Error('down');
      });
      await queue.addBulk([1, 2, 3].map((n) => ({ type: 'f', data: n, options: { attempts: 1 } })));
      await dead;
      fail = false;
      const done = events(queue, 'completed', 3);
      expect(await queue.retryAllFailed()).toBe(3);
      await done;
      expect((await queue.getStats()).counts).toMatchObject({ failed: 0, completed: 3 });
    });

    it('never runs more than `concurrency` jobs of a type at once', async () => {
      const queue = store.create();
      let running = 0;
      let peak = 0;
      const done = events(queue, 'completed', 30);
      queue.registerProcessor('c', async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
      }, { concurrency: 4 });
      await queue.addBulk(Array.from({ length: 30 }, (_, i) => ({ type: 'c', data: i })));
      await done;
      expect(peak).toBe(4);
    });

    it('keeps to `concurrency` while prefetching fast jobs, and processes them in order', async () => {
      const queue = store.create();
      let running = 0;
      let peak = 0;
      const order: number[] = [];
      const done = events(queue, 'completed', 200);
      queue.registerProcessor('fast', async (n: number) => {
        running++;
        peak = Math.max(peak, running);
        order.push(n);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      }, { concurrency: 2 });
      await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ type: 'fast', data: i })));
      await done;
      expect(peak).toBe(2);
      expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });

    it('processes each job exactly once with two workers on one store', async () => {
      const one = store.create();
      const two = store.create();
      const seen = new Map<number, number>();
      const processor = (data: number): void => {
        seen.set(data, (seen.get(data) ?? 0) + 1);
      };
      one.registerProcessor('w', processor, { concurrency: 5 });
      two.registerProcessor('w', processor, { concurrency: 5 });
      const total = 500;
      const all = Promise.all([events(one, 'completed', 1), events(two, 'completed', 1)]);
      await one.addBulk(Array.from({ length: total }, (_, i) => ({ type: 'w', data: i })));
      await all;
      while (seen.size < total) await new Promise((resolve) => setTimeout(resolve, 10));
      await Promise.all([one.whenIdle(), two.whenIdle()]);
      expect([...seen.values()].every((count) => count === 1)).toBe(true);
      expect(seen.size).toBe(total);
    });

    it('moves a job whose worker died back to waiting and runs it again', async () => {
      const queue = store.create({ stalledIntervalMs: 50, lockDurationMs: 1000 });
      const id = await queue.add('s', { n: 1 });
      // A worker takes the job and dies: its lock expires without renewal.
      const taken = await store.backend().fetch({ types: [['s', 1]], token: 'dead-worker', lockUntil: Date.now() - 1, now: Date.now() });
      expect(taken.jobs.map((job) => job.id)).toEqual([id]);
      const stalled = nextEvent(queue, 'stalled');
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('s', () => 'again');
      expect((await stalled).recovered).toEqual([id]);
      await done;
      expect(await queue.getJob(id)).toMatchObject({ state: 'completed', stalledCount: 1, attemptsMade: 1 });
      // The dead worker's late acknowledgement is refused.
      const late = await store.backend().finish([{ id, token: taken.jobs[0]!.token, kind: 'c', value: '"late"', runAt: 0, keep: '' }], Date.now());
      expect(late.acked).toEqual([false]);
    });

    it('fails a job that stalls more than maxStalledCount times with a clear reason', async () => {
      const queue = store.create({ stalledIntervalMs: 1, maxStalledCount: 1 });
      const id = await queue.add('s2', {});
      const backend = store.backend();
      for (let round = 0; round < 2; round++) {
        const taken = await backend.fetch({ types: [['s2', 1]], token: `dead-${round}`, lockUntil: Date.now() - 1, now: Date.now() });
        expect(taken.jobs).toHaveLength(1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await queue.checkStalled();
      }
      const job = await queue.getJob(id);
      expect(job).toMatchObject({ state: 'failed', stalledCount: 2 });
      expect(job?.error?.message).toBe('job stalled more than maxStalledCount (1) times');
      expect((await queue.listDeadLetters()).map((dead) => dead.id)).toEqual([id]);
    });

    it('hands an unfinished job back to waiting when close() times out', async () => {
      const queue = store.create();
      const started = deferred();
      let aborted = false;
      queue.registerProcessor('long', (_data, job) => {
        started.resolve();
        return new Promise((resolve) => {
          job.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('stopped');
          });
        });
      });
      const id = await queue.add('long', {});
      await started.promise;
      await queue.close({ timeoutMs: 50 });
      expect(aborted).toBe(true);
      const observer = store.create();
      expect(await observer.getJob(id)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
      await expect(queue.add('long', {})).rejects.toMatchObject({ code: 'ERR_QUEUE' });
    });

    it('lets running jobs finish during a graceful close', async () => {
      const queue = store.create();
      const started = deferred();
      queue.registerProcessor('g', async () => {
        started.resolve();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 'finished';
      });
      const id = await queue.add('g', {});
      await started.promise;
      await queue.close({ timeoutMs: 5_000 });
      const observer = store.create();
      expect(await observer.getJob(id)).toMatchObject({ state: 'completed', result: 'finished' });
    });

    it('routes a throwing listener to the error event and keeps processing', async () => {
      const queue = store.create();
      queue.on('completed', () => {
        throw new Error('listener bug');
      });
      const errors = nextEvent(queue, 'error');
      const done = events(queue, 'completed', 2);
      queue.registerProcessor('l', () => 'ok');
      await queue.addBulk([{ type: 'l', data: 1 }, { type: 'l', data: 2 }]);
      expect((await errors).message).toBe('listener bug');
      expect(await done).toHaveLength(2);
    });

    it('stops pulling a type while its circuit is open', async () => {
      const queue = store.create();
      let calls = 0;
      const opened = events(queue, 'retrying', 3);
      queue.registerProcessor('smtp', () => {
        calls++;
        throw new Error('connection refused');
      }, { concurrency: 1, circuitBreaker: { minimumThroughput: 3, failureRateThreshold: 0.5, openTimeoutMs: 60_000 } });
      await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ type: 'smtp', data: i, options: { attempts: 10 } })));
      await opened;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls).toBe(3);
      const stats = await queue.getStats();
      expect(stats.types['smtp']?.circuit?.state).toBe('open');
      expect(stats.types['smtp']?.waiting).toBe(6);
    });

    it('carries trace context from add to the processor through MessagingTelemetry', async () => {
      const seen: { op: string; carrier: Record<string, string>; attributes?: Record<string, string | number | boolean> }[] = [];
      const telemetry: MessagingTelemetry = {
        async produce(_queue, carrier, fn) {
          carrier['traceparent'] = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
          seen.push({ op: 'produce', carrier: { ...carrier } });
          return fn();
        },
        async consume(_queue, carrier, attributes, fn) {
          seen.push({ op: 'consume', carrier: { ...carrier }, attributes });
          return fn();
        },
      };
      const queue = store.create({ telemetry });
      let inJob: Readonly<Record<string, string>> | undefined;
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('traced', (_data, job) => {
        inJob = job.traceCarrier;
      });
      const id = await queue.add('traced', {});
      await done;
      expect(inJob?.['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      expect(seen.map((entry) => entry.op)).toEqual(['produce', 'consume']);
      expect(seen[1]?.attributes).toMatchObject({ 'messaging.message.id': id, 'job.type': 'traced', 'job.attempt': 1 });
    });

    it('reports each finished attempt to the metrics hook', async () => {
      const outcomes: string[] = [];
      const queue = store.create({ metrics: { onJobFinished: (info) => outcomes.push(`${info.type}:${info.outcome}`) } });
      const dead = nextEvent(queue, 'dead');
      const done = nextEvent(queue, 'completed');
      queue.registerProcessor('m', (data: boolean) => {
        if (!data) throw new Error('no');
      }, { concurrency: 1 });
      await queue.add('m', true);
      await done;
      await queue.add('m', false, { attempts: 2 });
      await dead;
      expect(outcomes).toEqual(['m:completed', 'm:retrying', 'm:dead']);
    });

    it('starts at most groupRateLimit jobs per window for each group, without holding back other groups', async () => {
      const queue = store.create({ groupRateLimit: { limit: 2, windowMs: 400 } });
      const done = events(queue, 'completed', 8);
      queue.registerProcessor('g', (_data: number, job) => job.group ?? 'none', { concurrency: 10 });
      const ids = await queue.addBulk([
        ...[1, 2, 3, 4, 5].map((n) => ({ type: 'g', data: n, options: { group: 'tenant-a' } })),
        ...[6, 7].map((n) => ({ type: 'g', data: n, options: { group: 'tenant-b' } })),
        { type: 'g', data: 8 },
      ]);
      await done;
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      const perWindow = new Map<string, number>();
      for (const job of jobs) {
        const key = `${job?.group ?? 'none'}@${Math.floor((job?.processedAt ?? 0) / 400)}`;
        perWindow.set(key, (perWindow.get(key) ?? 0) + 1);
      }
      expect(Math.max(...[...perWindow].filter(([key]) => !key.startsWith('none')).map(([, count]) => count))).toBe(2);
      const windowsOfA = new Set([...perWindow.keys()].filter((key) => key.startsWith('tenant-a@')));
      expect(windowsOfA.size).toBeGreaterThanOrEqual(3);
      const firstStart = Math.min(...jobs.map((job) => job?.processedAt ?? Infinity));
      for (const job of jobs.filter((candidate) => candidate?.group !== 'tenant-a')) {
        expect((job?.processedAt ?? Infinity) - firstStart).toBeLessThan(400);
      }
      expect(jobs.every((job) => job?.state === 'completed')).toBe(true);
    });

    it('starts at most rateLimit jobs per window across the queue', async () => {
      const queue = store.create({ rateLimit: { limit: 3, windowMs: 300 } });
      const done = events(queue, 'completed', 7);
      queue.registerProcessor('r', () => 'ok', { concurrency: 10 });
      const ids = await queue.addBulk(Array.from({ length: 7 }, (_, n) => ({ type: 'r', data: n })));
      await done;
      const starts = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.processedAt ?? 0));
      const perWindow = new Map<number, number>();
      for (const at of starts) perWindow.set(Math.floor(at / 300), (perWindow.get(Math.floor(at / 300)) ?? 0) + 1);
      expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(3);
      expect(perWindow.size).toBeGreaterThanOrEqual(3);
    });

    it('fires an interval schedule once per tick across three workers, up to its limit', async () => {
      const workers = [store.create(), store.create(), store.create()];
      const runs: string[] = [];
      const done = deferred();
      for (const worker of workers) {
        worker.registerProcessor('tick', (_data: { n: number }, job) => {
          runs.push(job.id);
          if (runs.length === 5) done.resolve();
        }, { concurrency: 3 });
      }
      const info = await workers[0]?.upsertSchedule('every-100', { every: 100, limit: 5 }, { type: 'tick', data: { n: 1 } });
      expect(info?.nextRunAt).toBeGreaterThanOrEqual(Date.now() - 100);
      await done.promise;
      // Give any would-be duplicate a chance to show up before counting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(new Set(runs).size).toBe(5);
      expect(runs).toHaveLength(5);
      const ticks = runs.map((id) => Number(id.slice(id.lastIndexOf(':') + 1))).sort((a, b) => a - b);
      expect(runs.every((id) => id.startsWith('repeat:every-100:'))).toBe(true);
      expect(ticks.every((tick) => tick % 100 === 0)).toBe(true);
      // Strictly increasing on the grid; a tick missed while the machine stalled longer than an
      // interval is coalesced into the next (by design), so gaps are multiples of 100 ms.
      expect(ticks.slice(1).every((tick, index) => tick > (ticks[index] as number))).toBe(true);
      const schedule = await workers[1]?.getSchedule('every-100');
      expect(schedule).toMatchObject({ id: 'every-100', type: 'tick', data: { n: 1 }, count: 5, nextRunAt: undefined, repeat: { every: 100, limit: 5 } });
      const job = await workers[2]?.getJob(runs[0] as string);
      expect(job).toMatchObject({ type: 'tick', data: { n: 1 }, state: 'completed' });
    });

    it('fires a cron schedule with a seconds field on whole seconds', async () => {
      const queue = store.create();
      const done = events(queue, 'completed', 2);
      queue.registerProcessor('cron', () => 'ran');
      await queue.upsertSchedule('each-second', { cron: '* * * * * *', limit: 2 }, { type: 'cron', data: null });
      const finished = await done;
      const ticks = finished.map((event) => Number(event.jobId.slice(event.jobId.lastIndexOf(':') + 1))).sort((a, b) => a - b);
      expect(ticks.every((tick) => tick % 1000 === 0)).toBe(true);
      expect((ticks[1] as number) - (ticks[0] as number)).toBe(1000);
      const job = await queue.getJob(finished[0]?.jobId as string);
      expect(job?.processedAt).toBeGreaterThanOrEqual(ticks[0] as number);
    });

    it('plans a 5-field cron schedule in its time zone and stops at endDate', async () => {
      const queue = store.create();
      const now = Date.now();
      const info = await queue.upsertSchedule('weekday-9', { cron: '0 9 * * 1-5', tz: 'America/New_York' }, { type: 'report', data: {} });
      const next = new Date(info.nextRunAt ?? 0);
      const local = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', minute: 'numeric', weekday: 'short', hour12: false }).format(next);
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
      expect(info.nextRunAt).toBeGreaterThan(now);
      expect((await queue.getJob(`repeat:weekday-9:${String(info.nextRunAt)}`))?.state).toBe('delayed');
      const ended = await queue.upsertSchedule('ended', { every: 1000, startDate: now - 10_000, endDate: now - 5_000 }, { type: 'report', data: {} });
      expect(ended.nextRunAt).toBeUndefined();
      expect(ended.count).toBe(0);
    });

    it('keeps the pending tick when the same schedule is upserted again, and re-plans on new options', async () => {
      const queue = store.create();
      const first = await queue.upsertSchedule('s', { every: 60_000 }, { type: 'x', data: 1 });
      const again = await queue.upsertSchedule('s', { every: 60_000 }, { type: 'x', data: 2 });
      expect(again.nextRunAt).toBe(first.nextRunAt);
      expect(again.count).toBe(1);
      expect((await queue.getStats()).counts.delayed).toBe(1);
      // Anchored off the minute grid, so the re-planned tick differs from the first whatever the
      // time of day (epoch-aligned minute and hour ticks coincide in an hour's last minute).
      const changed = await queue.upsertSchedule('s', { every: 3_600_000, startDate: Date.now() + 600_007 }, { type: 'x', data: 3 });
      expect(changed.nextRunAt).not.toBe(first.nextRunAt);
      expect(changed.count).toBe(1);
      expect(await queue.getJob(`repeat:s:${String(first.nextRunAt)}`)).toBeUndefined();
      expect((await queue.getJob(`repeat:s:${String(changed.nextRunAt)}`))?.data).toBe(3);
      await queue.upsertSchedule('t', { cron: '*/5 * * * *' }, { type: 'y', data: null });
      expect((await queue.listSchedules()).map((schedule) => schedule.id)).toEqual(['s', 't']);
      expect(await queue.removeSchedule('s')).toBe(true);
      expect(await queue.removeSchedule('s')).toBe(false);
      expect(await queue.getJob(`repeat:s:${String(changed.nextRunAt)}`)).toBeUndefined();
      expect(await queue.getSchedule('s')).toBeUndefined();
      expect((await queue.listSchedules()).map((schedule) => schedule.id)).toEqual(['t']);
    });

    it('moves a schedule on when its due job is gone (repair with the stalled checker)', async () => {
      const queue = store.create({ stalledIntervalMs: 1 });
      const info = await queue.upsertSchedule('r', { every: 50 }, { type: 'nobody', data: null });
      const pending = `repeat:r:${String(info.nextRunAt)}`;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, (info.nextRunAt ?? 0) - Date.now()) + 20));
      expect(await queue.removeJob(pending)).toBe(true);
      await queue.checkStalled();
      const moved = await queue.getSchedule('r');
      expect(moved?.nextRunAt).toBeGreaterThan(info.nextRunAt ?? Infinity);
      expect((await queue.getJob(`repeat:r:${String(moved?.nextRunAt)}`))?.type).toBe('nobody');
    });

    it('rejects bad schedules with a ValidationError naming the field', async () => {
      const queue = store.create();
      const template = { type: 't', data: 1 };
      await expect(queue.upsertSchedule('a', { cron: '* * * * *', every: 10 }, template)).rejects.toThrow(/exactly one/);
      await expect(queue.upsertSchedule('a', {}, template)).rejects.toThrow(ValidationError);
      await expect(queue.upsertSchedule('a', { cron: '61 * * * *' }, template)).rejects.toThrow(/repeat\.cron/);
      await expect(queue.upsertSchedule('a', { cron: '* * * * *', tz: 'Mars/Olympus' }, template)).rejects.toThrow(/repeat\.tz/);
      await expect(queue.upsertSchedule('a', { every: 0 }, template)).rejects.toThrow(/repeat\.every/);
      await expect(queue.upsertSchedule('a', { every: 10, limit: 0 }, template)).rejects.toThrow(/repeat\.limit/);
      await expect(queue.upsertSchedule('a', { every: 10, startDate: 10, endDate: 5 }, template)).rejects.toThrow(/repeat\.endDate/);
      await expect(queue.upsertSchedule('a', { every: 10 }, { type: 't', data: 1, options: { jobId: 'x' } as never })).rejects.toThrow(/template\.options\.jobId/);
      await expect(queue.upsertSchedule('a', { every: 10 }, { type: 't', data: () => 1 })).rejects.toThrow(/template\.data/);
      await expect(queue.upsertSchedule('', { every: 10 }, template)).rejects.toThrow(/"?id"?/);
      expect(await queue.listSchedules()).toEqual([]);
    });

    it('never loses a wake-up that lands while a worker is fetching', async () => {
      // The race: a worker with a job running and a free slot waits for jobs; the running job ends,
      // its ack kicks a fetch while that wait is still pending;
      // a job added right after the fetch ran wakes that pending wait, whose reply can arrive before
      // the (empty) fetch reply. The worker must fetch again rather than block anew, or the job
      // waits for the 60 s block timeout and the bounded wait below fails. Replies to fetches are
      // held back a few ms (as on a slow network) to make that window wide. Liveness, not timing.
      const workers = Array.from({ length: 2 }, () => {
        const queue = new MessageQueue({ backend: withFetchLatency(store.backend(), 4), name: 'conformance', blockTimeoutMs: 60_000 });
        closeAfter.push(queue);
        return queue;
      });
      let completed = 0;
      for (const worker of workers) {
        worker.on('completed', () => {
          completed++;
        });
        worker.registerProcessor('burst', () => new Promise((resolve) => setTimeout(resolve, 2)), { concurrency: 2, prefetch: 0 });
      }
      const producer = store.create();
      let added = 0;
      for (let round = 0; round < 60; round++) {
        if (round % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
        const size = 1 + ((round * 7) % 6);
        for (let n = 0; n < size; n++) {
          await producer.add('burst', n);
          added++;
          await new Promise((resolve) => setTimeout(resolve, (n + round) % 4));
        }
        const deadline = Date.now() + 5_000;
        while (completed < added) {
          if (Date.now() > deadline) throw new Error(`round ${round}: ${added - completed} of ${added} jobs still not done after 5 s`);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      expect(completed).toBe(added);
    }, 60_000);

    it('refuses a second processor for one type and bad processor options', async () => {
      const queue = store.create();
      queue.registerProcessor('once', () => undefined);
      expect(() => {
        queue.registerProcessor('once', () => undefined);
      }).toThrow(ValidationError);
      expect(() => {
        queue.registerProcessor('other', () => undefined, { concurrency: 0 });
      }).toThrow(/concurrency/);
    });
  });
}
