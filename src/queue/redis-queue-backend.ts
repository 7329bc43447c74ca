import type { Redis } from 'ioredis';
import { defineScript, type ScriptCall } from '../core/define-script.js';
import type { Keyspace } from '../core/keyspace.js';
import type { RedisClient } from '../core/redis-connection.js';
import addJobsSource from './lua/add-jobs.lua';
import cleanJobsSource from './lua/clean-jobs.lua';
import extendLocksSource from './lua/extend-locks.lua';
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
  QueueBackend,
  RawStats,
  StalledResult,
  StoredJob,
} from './queue-backend.js';

const addJobs = defineScript('queue:add-jobs', addJobsSource, { numberOfKeys: 4 });
const moveToActive = defineScript('queue:move-to-active', moveToActiveSource, { numberOfKeys: 4 });
const moveToFinished = defineScript('queue:move-to-finished', moveToFinishedSource, { numberOfKeys: 6 });
const extendLocks = defineScript('queue:extend-locks', extendLocksSource, { numberOfKeys: 1 });
const moveStalled = defineScript('queue:move-stalled-to-wait', moveStalledSource, { numberOfKeys: 5 });
const retryFailed = defineScript('queue:retry-failed', retryFailedSource, { numberOfKeys: 2 });
const removeJob = defineScript('queue:remove-job', removeJobSource, { numberOfKeys: 5 });
const cleanJobs = defineScript('queue:clean-jobs', cleanJobsSource, { numberOfKeys: 2 });
const updateProgress = defineScript('queue:update-progress', updateProgressSource, { numberOfKeys: 1 });
const getStats = defineScript('queue:get-stats', getStatsSource, { numberOfKeys: 8 });

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

  /**
   * @param client - the command connection (not closed here; the queue owns it).
   * @param keys - the queue's keyspace.
   */
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keyspace,
  ) {
    this.base = `${keys.base}:`;
  }

  private key(...parts: string[]): string {
    return this.keys.key(...parts);
  }

  async addJobs(jobs: readonly NewJob[], now: number): Promise<{ id: string; existed: boolean }[]> {
    const out: { id: string; existed: boolean }[] = [];
    for (let start = 0; start < jobs.length; start += ADD_CHUNK) {
      const chunk = jobs.slice(start, start + ADD_CHUNK);
      const args: (string | number)[] = [this.base, now, chunk.length];
      for (const job of chunk) args.push(job.jobId, job.type, job.data, job.opts, job.priority, job.runAt, job.traceCarrier, job.group);
      const reply = await addJobs.run<Reply[]>(this.client, [this.key('id'), this.key('delayed'), this.key('types'), this.key('counts')], args);
      for (let i = 0; i < reply.length; i += 2) out.push({ id: String(reply[i]), existed: reply[i + 1] === 1 });
    }
    return out;
  }

  private fetchCall(request: FetchRequest): ScriptCall {
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
    return { script: moveToActive, keys: [this.key('delayed'), this.key('active'), this.key('meta'), this.key('counts')], args };
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    const call = this.fetchCall(request);
    return parseFetch(request, await moveToActive.run<FetchReply>(this.client, call.keys, call.args));
  }

  async finish(acks: readonly Ack[], now: number, fetch?: FetchRequest): Promise<{ acked: boolean[]; fetched: FetchResult | undefined }> {
    const args: (string | number)[] = [this.base, now, acks.length];
    for (const ack of acks) args.push(ack.id, ack.token, ack.kind, ack.value, ack.runAt, ack.keep);
    // Both commands are written at once on one connection: one round trip, in order, without
    // the cost of building an ioredis pipeline per call.
    const finished =
      acks.length === 0
        ? Promise.resolve([])
        : moveToFinished.run<number[]>(
            this.client,
            [this.key('active'), this.key('completed'), this.key('failed'), this.key('delayed'), this.key('counts'), this.key('metrics')],
            args,
          );
    const fetched = fetch === undefined ? undefined : this.fetch(fetch);
    const [acked, next] = await Promise.all([finished, fetched]);
    return { acked: acked.map((value) => value === 1), fetched: next };
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
      [this.base, now, Math.max(1, Math.floor(guardMs)), maxStalledCount, 1000],
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
    return (await updateProgress.run<number>(this.client, [this.key('job', id)], [token, progress])) === 1;
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
      };
    }),
    nextDelayedAt: next < 0 ? undefined : next,
    pending: pending === 1,
  };
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
