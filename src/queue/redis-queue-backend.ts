import type { Redis } from 'ioredis';
import { defineScript } from '../core/define-script.js';
import type { Keyspace } from '../core/keyspace.js';
import type { RedisClient } from '../core/redis-connection.js';
import addJobsSource from './lua/add-jobs.lua';
import advanceScheduleSource from './lua/advance-schedule.lua';
import emitEventSource from './lua/includes/emit-event.lua';
import produceScheduledJobSource from './lua/includes/produce-scheduled-job.lua';
import removeScheduleSource from './lua/remove-schedule.lua';
import upsertScheduleSource from './lua/upsert-schedule.lua';
import cleanJobsSource from './lua/clean-jobs.lua';
import extendLocksSource from './lua/extend-locks.lua';
import finishAndFetchSource from './lua/finish-and-fetch.lua';
import getStatsSource from './lua/get-stats.lua';
import moveStalledSource from './lua/move-stalled-to-wait.lua';
import moveToActiveSource from './lua/move-to-active.lua';
import moveToFinishedSource from './lua/move-to-finished.lua';
import removeJobSource from './lua/remove-job.lua';
import retryFailedSource from './lua/retry-failed.lua';
import updateProgressSource from './lua/update-progress.lua';
import type {
  Ack,
  FetchedJob,
  FetchRequest,
  FetchResult,
  JobState,
  NewJob,
  NewSchedule,
  QueueBackend,
  RawStats,
  StalledResult,
  StoredJob,
  StoredSchedule,
} from './queue-backend.js';

// Scripts that may write global events start with the emit-event include.
const withEvents = (source: string): string => emitEventSource + source;
const withSchedules = (source: string): string => emitEventSource + produceScheduledJobSource + source;

const addJobs = defineScript('queue:add-jobs', withEvents(addJobsSource), { numberOfKeys: 4 });
const moveToActive = defineScript('queue:move-to-active', moveToActiveSource, { numberOfKeys: 4 });
const moveToFinished = defineScript('queue:move-to-finished', withEvents(moveToFinishedSource), { numberOfKeys: 6 });
// Both transitions as functions of (KEYS, ARGV) in one script, for the worker's steady state.
const asFunction = (name: string, source: string): string => `local function ${name}(KEYS, ARGV)\n${source}\nend\n`;
const finishAndFetch = defineScript(
  'queue:finish-and-fetch',
  emitEventSource + asFunction('finishJobs', moveToFinishedSource) + asFunction('fetchJobs', moveToActiveSource) + finishAndFetchSource,
  { numberOfKeys: 7 },
);
const extendLocks = defineScript('queue:extend-locks', extendLocksSource, { numberOfKeys: 1 });
const moveStalled = defineScript('queue:move-stalled-to-wait', withEvents(moveStalledSource), { numberOfKeys: 5 });
const retryFailed = defineScript('queue:retry-failed', retryFailedSource, { numberOfKeys: 2 });
const removeJob = defineScript('queue:remove-job', removeJobSource, { numberOfKeys: 5 });
const cleanJobs = defineScript('queue:clean-jobs', cleanJobsSource, { numberOfKeys: 2 });
const updateProgress = defineScript('queue:update-progress', withEvents(updateProgressSource), { numberOfKeys: 1 });
const getStats = defineScript('queue:get-stats', getStatsSource, { numberOfKeys: 8 });
const upsertSchedule = defineScript('queue:upsert-schedule', withSchedules(upsertScheduleSource), { numberOfKeys: 6 });
const advanceSchedule = defineScript('queue:advance-schedule', withSchedules(advanceScheduleSource), { numberOfKeys: 5 });
const removeSchedule = defineScript('queue:remove-schedule', withSchedules(removeScheduleSource), { numberOfKeys: 4 });

/** Jobs per script call when adding in bulk: bounds how long one script blocks Redis. */
const ADD_CHUNK = 1000;

type Reply = string | number | null | Reply[];

/**
 * The Redis driver of the queue: one Lua script per transition, every key under the queue's hash
 * tag. Commands go through `client`; idle waiting blocks on a second connection (one per queue,
 * made with `duplicate()`), woken by per-type marker keys.
 */
export class RedisQueueBackend implements QueueBackend {
  private readonly base: string;
  private blocking: RedisClient | undefined;
  private closed = false;
  private readonly eventsMaxLen: number;

  /**
   * @param client - the command connection (not closed here; the queue owns it).
   * @param keys - the queue's keyspace.
   * @param options.eventsMaxLen - when above 0, transitions append global events to the queue's
   *   stream, trimmed to about this many entries. Default `0` (off).
   */
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keyspace,
    options: { eventsMaxLen?: number } = {},
  ) {
    this.base = `${keys.base}:`;
    this.eventsMaxLen = options.eventsMaxLen ?? 0;
  }

  private key(...parts: string[]): string {
    return this.keys.key(...parts);
  }

  async addJobs(jobs: readonly NewJob[], now: number): Promise<{ id: string; existed: boolean }[]> {
    const out: { id: string; existed: boolean }[] = [];
    for (let start = 0; start < jobs.length; start += ADD_CHUNK) {
      const chunk = jobs.slice(start, start + ADD_CHUNK);
      // What jobs share (type and options, typically the same for a whole batch) is sent once
      // per distinct shape; each job then costs three short arguments on the wire.
      const shapeArgs: (string | number)[] = [];
      const shapeIndex = new Map<string, number>();
      const jobArgs: (string | number)[] = [];
      let last: NewJob | undefined;
      let index = 0;
      for (const job of chunk) {
        if (last === undefined || !sameShape(job, last)) {
          const shape = `${job.type}\u0000${job.opts}\u0000${job.priority}\u0000${job.runAt}\u0000${job.traceCarrier}\u0000${job.group}`;
          const known = shapeIndex.get(shape);
          if (known === undefined) {
            index = shapeIndex.size + 1;
            shapeIndex.set(shape, index);
            shapeArgs.push(job.type, job.opts, job.priority, job.runAt, job.traceCarrier, job.group);
          } else {
            index = known;
          }
          last = job;
        }
        jobArgs.push(job.jobId, index, job.data);
      }
      const args: (string | number)[] = [this.base, now, chunk.length, this.eventsMaxLen, shapeIndex.size, ...shapeArgs, ...jobArgs];
      const reply = await addJobs.run<Reply[]>(this.client, [this.key('id'), this.key('delayed'), this.key('types'), this.key('counts')], args);
      for (let i = 0; i < reply.length; i += 2) out.push({ id: String(reply[i]), existed: reply[i + 1] === 1 });
    }
    return out;
  }

  private fetchArgs(request: FetchRequest): (string | number)[] {
    const args: (string | number)[] = [
      this.base,
      request.now,
      request.lockUntil,
      request.token,
      request.queueLimit?.limit ?? 0,
      request.queueLimit?.windowMs ?? 1,
      request.groupLimit?.limit ?? 0,
      request.groupLimit?.windowMs ?? 1,
      request.types.length,
    ];
    for (const [type, count] of request.types) args.push(type, count);
    return args;
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    const reply = await moveToActive.run<FetchReply>(this.client, [this.key('delayed'), this.key('active'), this.key('meta'), this.key('counts')], this.fetchArgs(request));
    return parseFetch(request, reply);
  }

  async finish(acks: readonly Ack[], now: number, fetch?: FetchRequest): Promise<{ acked: boolean[]; fetched: FetchResult | undefined }> {
    if (acks.length === 0) return { acked: [], fetched: fetch === undefined ? undefined : await this.fetch(fetch) };
    const args: (string | number)[] = [this.base, now, acks.length, this.eventsMaxLen];
    for (const ack of acks) args.push(ack.id, ack.token, ack.kind, ack.value, ack.runAt, ack.keep);
    const finishKeys = [this.key('active'), this.key('completed'), this.key('failed'), this.key('delayed'), this.key('counts'), this.key('metrics')];
    if (fetch === undefined) {
      const acked = await moveToFinished.run<number[]>(this.client, finishKeys, args);
      return { acked: acked.map((value) => value === 1), fetched: undefined };
    }
    // Finish and fetch in one script call: one round trip and one socket write per batch.
    const [acked, fetched] = await finishAndFetch.run<[number[], FetchReply]>(
      this.client,
      [...finishKeys, this.key('meta')],
      [args.length, ...args, ...this.fetchArgs(fetch)],
    );
    return { acked: acked.map((value) => value === 1), fetched: parseFetch(fetch, fetched) };
  }

  async extendLocks(locks: readonly (readonly [string, string])[], lockUntil: number): Promise<string[]> {
    if (locks.length === 0) return [];
    const args: (string | number)[] = [this.base, lockUntil];
    for (const [id, token] of locks) args.push(id, token);
    return extendLocks.run<string[]>(this.client, [this.key('active')], args);
  }

  async moveStalled(now: number, guardMs: number, maxStalledCount: number): Promise<StalledResult> {
    const [ran, recovered, failed] = await moveStalled.run<[number, string[], string[]]>(
      this.client,
      [this.key('active'), this.key('stalled-check'), this.key('failed'), this.key('counts'), this.key('metrics')],
      [this.base, now, Math.max(1, Math.floor(guardMs)), maxStalledCount, 1000, this.eventsMaxLen],
    );
    return { ran: ran === 1, recovered, failed };
  }

  async waitForJobs(types: readonly string[], timeoutMs: number): Promise<void> {
    if (this.closed || types.length === 0) return;
    if (this.blocking === undefined) {
      this.blocking = this.client.duplicate();
      // Failures reach the worker as rejected commands; ioredis reconnects on its own.
      this.blocking.on('error', () => undefined);
    }
    const seconds = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    await (this.blocking as Redis).bzpopmin(...types.map((type) => this.key('marker', type)), seconds);
  }

  interruptWait(): void {
    this.closed = true;
    this.blocking?.disconnect();
  }

  async getJob(id: string): Promise<StoredJob | undefined> {
    const hash = await this.client.hgetall(this.key('job', id));
    return parseJob(id, hash);
  }

  async getLogs(id: string): Promise<string[]> {
    return this.client.lrange(this.key('job', id, 'logs'), 0, -1);
  }

  async addLog(id: string, line: string, maxLines: number): Promise<void> {
    const key = this.key('job', id, 'logs');
    await this.client.pipeline().rpush(key, line).ltrim(key, -maxLines, -1).exec();
  }

  async updateProgress(id: string, token: string, progress: string): Promise<boolean> {
    return (await updateProgress.run<number>(this.client, [this.key('job', id)], [token, progress, this.base, this.eventsMaxLen, id])) === 1;
  }

  async stats(): Promise<RawStats> {
    const reply = await getStats.run<[number, number, number, number, number, Reply[][], string[], string[]]>(
      this.client,
      ['active', 'delayed', 'completed', 'failed', 'types', 'counts', 'metrics', 'meta'].map((part) => this.key(part)),
      [this.base],
    );
    const [paused, active, delayed, completed, failed, types, counts, metrics] = reply;
    return {
      paused: paused === 1,
      active,
      delayed,
      completed,
      failed,
      types: types.map((row) => ({
        type: String(row[0]),
        waiting: Number(row[1]),
        headCreatedAt: Number(row[2]) < 0 ? undefined : Number(row[2]),
        active: Number(row[3]),
      })),
      counts: pairs(counts),
      metrics: pairs(metrics),
    };
  }

  async setPaused(paused: boolean): Promise<void> {
    if (paused) {
      await this.client.hset(this.key('meta'), 'paused', '1');
      return;
    }
    await this.client.hdel(this.key('meta'), 'paused');
    const types = await this.client.smembers(this.key('types'));
    if (types.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const type of types) pipeline.zadd(this.key('marker', type), 0, '0');
    await pipeline.exec();
  }

  async listFailed(start: number, end: number): Promise<StoredJob[]> {
    const ids = await this.client.zrevrange(this.key('failed'), start, end);
    if (ids.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hgetall(this.key('job', id));
    const replies = (await pipeline.exec()) ?? [];
    return ids.flatMap((id, index) => {
      const job = parseJob(id, (replies[index]?.[1] ?? {}) as Record<string, string>);
      return job === undefined ? [] : [job];
    });
  }

  async retryFailed(ids: readonly string[] | { limit: number }): Promise<number> {
    const args: (string | number)[] = Array.isArray(ids) ? [this.base, '', 0, ...(ids as string[])] : [this.base, '*', (ids as { limit: number }).limit];
    return retryFailed.run<number>(this.client, [this.key('failed'), this.key('counts')], args);
  }

  async removeJob(id: string): Promise<-1 | 0 | 1> {
    return removeJob.run<-1 | 0 | 1>(
      this.client,
      [this.key('job', id), this.key('delayed'), this.key('completed'), this.key('failed'), this.key('counts')],
      [this.base, id],
    );
  }

  async clean(state: 'completed' | 'failed', cutoff: number, limit: number): Promise<string[]> {
    return cleanJobs.run<string[]>(this.client, [this.key(state), this.key('counts')], [this.base, state === 'completed' ? 'c:' : 'f:', cutoff, limit]);
  }

  async upsertSchedule(schedule: NewSchedule, now: number): Promise<{ next: number | undefined; count: number }> {
    const { template } = schedule;
    const [next, count] = await upsertSchedule.run<[number, number]>(
      this.client,
      [this.key('schedule', schedule.id), this.key('schedules'), this.key('id'), this.key('delayed'), this.key('types'), this.key('counts')],
      [
        this.base,
        now,
        this.eventsMaxLen,
        schedule.id,
        schedule.repeat,
        template.type,
        template.data,
        template.opts,
        template.priority,
        template.group,
        schedule.limit,
        schedule.firstTick ?? -1,
      ],
    );
    return { next: next < 0 ? undefined : next, count };
  }

  async advanceSchedule(id: string, tick: number, following: number | undefined, now: number): Promise<boolean> {
    const won = await advanceSchedule.run<number>(
      this.client,
      [this.key('schedule', id), this.key('id'), this.key('delayed'), this.key('types'), this.key('counts')],
      [this.base, now, this.eventsMaxLen, id, tick, following ?? -1],
    );
    return won === 1;
  }

  async listSchedules(id?: string): Promise<StoredSchedule[]> {
    const ids = id === undefined ? await this.client.smembers(this.key('schedules')) : [id];
    if (ids.length === 0) return [];
    const hashes = await this.exec(ids.map((sid) => ['hgetall', this.key('schedule', sid)]));
    const schedules = ids.flatMap((sid, index) => {
      const hash = hashes[index] as Record<string, string> | undefined;
      if (hash?.['type'] === undefined) return [];
      const next = Number(hash['next'] ?? -1);
      const schedule: StoredSchedule = {
        id: sid,
        repeat: hash['repeat'] ?? '{}',
        type: hash['type'],
        data: hash['data'] ?? 'null',
        opts: hash['opts'] ?? '{}',
        priority: Number(hash['pri'] ?? 0),
        group: hash['grp'] ?? '',
        next: next < 0 ? undefined : next,
        count: Number(hash['cnt'] ?? 0),
        createdAt: Number(hash['ts'] ?? 0),
        nextJobState: undefined,
      };
      return [schedule];
    });
    const pending = schedules.filter((schedule) => schedule.next !== undefined);
    if (pending.length > 0) {
      const states = await this.exec(pending.map((schedule) => ['hget', this.key('job', `repeat:${schedule.id}:${String(schedule.next)}`), 'st']));
      pending.forEach((schedule, index) => {
        const state = states[index];
        schedule.nextJobState = typeof state === 'string' ? (state as JobState) : undefined;
      });
    }
    return schedules.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async removeSchedule(id: string): Promise<boolean> {
    const removed = await removeSchedule.run<number>(
      this.client,
      [this.key('schedule', id), this.key('schedules'), this.key('delayed'), this.key('counts')],
      [this.base, id],
    );
    return removed === 1;
  }

  /** Runs read commands in one pipeline (all keys share the queue's slot); throws the first error. */
  private async exec(commands: [string, ...string[]][]): Promise<unknown[]> {
    const replies = (await this.client.pipeline(commands).exec()) ?? [];
    return replies.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  }

  async obliterate(): Promise<void> {
    const nodes = 'nodes' in this.client && typeof this.client.nodes === 'function' ? this.client.nodes('master') : [this.client as Redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', this.keys.pattern(), 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) await node.unlink(...found);
      } while (cursor !== '0');
    }
  }

  close(): Promise<void> {
    this.interruptWait();
    this.blocking = undefined;
    return Promise.resolve();
  }
}

type FetchReply = [Reply[][], number, number];

function parseFetch(request: FetchRequest, reply: FetchReply): FetchResult {
  const [jobs, next, pending] = reply;
  return {
    jobs: jobs.map((row): FetchedJob => {
      const starts = Number(row[5]);
      return {
        id: String(row[0]),
        type: String(row[1]),
        data: String(row[2]),
        opts: String(row[3]),
        createdAt: Number(row[4]),
        starts,
        attemptsMade: Number(row[6]),
        stalledCount: Number(row[7]),
        traceCarrier: String(row[8] ?? ''),
        runAt: Number(row[9]),
        priority: Number(row[10]),
        token: `${request.token}:${starts}`,
        scheduleId: String(row[11] ?? ''),
      };
    }),
    nextDelayedAt: next < 0 ? undefined : next,
    pending: pending === 1,
  };
}

/** True when two jobs share everything but id and data (a run of a batch sends it once). */
function sameShape(a: NewJob, b: NewJob): boolean {
  return a.type === b.type && a.opts === b.opts && a.priority === b.priority && a.runAt === b.runAt && a.traceCarrier === b.traceCarrier && a.group === b.group;
}

function pairs(flat: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = Number(flat[i + 1]);
  return out;
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

function parseJob(id: string, hash: Record<string, string>): StoredJob | undefined {
  if (hash['type'] === undefined) return undefined;
  return {
    id,
    type: hash['type'],
    data: hash['data'] ?? 'null',
    opts: hash['opts'] ?? '{}',
    state: (hash['st'] ?? 'waiting') as JobState,
    createdAt: Number(hash['ts']),
    priority: Number(hash['pri'] ?? 0),
    runAt: Number(hash['run'] ?? 0),
    starts: Number(hash['ats'] ?? 0),
    attemptsMade: Number(hash['atm'] ?? 0),
    stalledCount: Number(hash['stc'] ?? 0),
    processedAt: optionalNumber(hash['pro']),
    finishedAt: optionalNumber(hash['fin']),
    result: hash['res'],
    error: hash['err'],
    progress: hash['prog'],
    traceCarrier: hash['tc'] ?? '',
  };
}
