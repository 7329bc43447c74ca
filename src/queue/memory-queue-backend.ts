import { type Clock, systemClock, type TimerHandle } from '../core/clock.js';
import type {
  Ack,
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
import { scheduledJobId } from './queue-backend.js';

interface MemoryJob extends StoredJob {
  group: string;
  scheduleId: string;
  seq: number;
  token: string;
  logs: string[];
}

const PRIORITY_SCALE = 1_000_000_000_000;

/**
 * The in-memory driver: the same transitions as the Redis driver, in one process, for
 * development and users' unit tests. State lives as long as the object; share one instance
 * between queues to model several processes over one store.
 *
 * @example
 * ```ts
 * import { MessageQueue, MemoryQueueBackend } from '@ux-flow/common/queue';
 * const queue = new MessageQueue({ backend: new MemoryQueueBackend() });
 * ```
 */
export class MemoryQueueBackend implements QueueBackend {
  private readonly jobs = new Map<string, MemoryJob>();
  private readonly waiting = new Map<string, MemoryJob[]>();
  private readonly delayed = new Map<string, number>();
  private readonly active = new Map<string, number>();
  private readonly completed = new Map<string, number>();
  private readonly failed = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private readonly metrics = new Map<string, number>();
  private readonly types = new Set<string>();
  private readonly markers = new Set<string>();
  /** Fixed-window start counters: key → count (keys carry their window index). */
  private readonly windows = new Map<string, number>();
  private readonly schedules = new Map<string, Omit<StoredSchedule, 'nextJobState'> & { limit: number }>();
  private readonly waiters = new Set<{ types: readonly string[]; wake: () => void }>();
  private paused = false;
  private sequence = 0;
  private stalledGuardUntil = 0;
  private readonly clock: Clock;

  /** @param options.clock - time source for wait timeouts. Default the system clock. */
  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  addJobs(jobs: readonly NewJob[], now: number): Promise<{ id: string; existed: boolean }[]> {
    return Promise.resolve(jobs.map((input) => this.addOne(input, now, '')));
  }

  private addOne(input: NewJob, now: number, scheduleId: string): { id: string; existed: boolean } {
    if (input.jobId !== '' && this.jobs.has(input.jobId)) return { id: input.jobId, existed: true };
    const seq = ++this.sequence;
    const id = input.jobId === '' ? String(seq) : input.jobId;
    const delayed = input.runAt > now;
    const job: MemoryJob = {
      id,
      type: input.type,
      data: input.data,
      opts: input.opts,
      state: delayed ? 'delayed' : 'waiting',
      createdAt: now,
      priority: input.priority,
      runAt: input.runAt,
      starts: 0,
      attemptsMade: 0,
      stalledCount: 0,
      processedAt: undefined,
      finishedAt: undefined,
      result: undefined,
      error: undefined,
      progress: undefined,
      traceCarrier: input.traceCarrier,
      group: input.group,
      scheduleId,
      seq,
      token: '',
      logs: [],
    };
    this.jobs.set(id, job);
    this.types.add(job.type);
    if (delayed) {
      this.delayed.set(id, input.runAt);
      this.bump(`d:${job.type}`, 1);
    } else {
      this.enqueue(job);
    }
    this.mark(job.type);
    return { id, existed: false };
  }

  fetch(request: FetchRequest): Promise<FetchResult> {
    this.promoteDelayed(request.now);
    const nextDelayedAt = this.delayed.size === 0 ? undefined : Math.min(...this.delayed.values());
    if (this.paused) return Promise.resolve({ jobs: [], nextDelayedAt, pending: false });
    const result: FetchResult = { jobs: [], nextDelayedAt, pending: false };
    const { queueLimit, groupLimit, now } = request;
    let budget = Infinity;
    let queueKey = '';
    if (queueLimit !== undefined) {
      const window = Math.floor(now / queueLimit.windowMs);
      queueKey = `q:${window}`;
      budget = queueLimit.limit - (this.windows.get(queueKey) ?? 0);
      if (budget <= 0) {
        const reopens = (window + 1) * queueLimit.windowMs;
        result.nextDelayedAt = Math.min(result.nextDelayedAt ?? reopens, reopens);
        return Promise.resolve(result);
      }
    }
    let started = 0;
    for (const [type, asked] of request.types) {
      const list = this.waiting.get(type) ?? [];
      const count = Math.min(asked, budget - started);
      if (count <= 0) {
        if (list.length > 0) result.pending = true;
        continue;
      }
      for (const job of list.splice(0, count)) {
        if (groupLimit !== undefined && job.group !== '') {
          const window = Math.floor(now / groupLimit.windowMs);
          const key = `g:${job.group}:${window}`;
          const used = this.windows.get(key) ?? 0;
          if (used >= groupLimit.limit) {
            const reopens = (window + 1) * groupLimit.windowMs;
            job.state = 'delayed';
            job.runAt = reopens;
            this.delayed.set(job.id, reopens);
            this.bump(`d:${job.type}`, 1);
            result.nextDelayedAt = Math.min(result.nextDelayedAt ?? reopens, reopens);
            continue;
          }
          this.windows.set(key, used + 1);
        }
        started++;
        job.starts += 1;
        job.state = 'active';
        job.token = `${request.token}:${job.starts}`;
        job.processedAt = request.now;
        this.active.set(job.id, request.lockUntil);
        result.jobs.push({
          id: job.id,
          type: job.type,
          data: job.data,
          opts: job.opts,
          createdAt: job.createdAt,
          starts: job.starts,
          attemptsMade: job.attemptsMade,
          stalledCount: job.stalledCount,
          traceCarrier: job.traceCarrier,
          runAt: job.runAt,
          priority: job.priority,
          token: job.token,
          scheduleId: job.scheduleId,
        });
      }
      if (list.length > 0) this.mark(type);
    }
    if (queueKey !== '') this.windows.set(queueKey, (this.windows.get(queueKey) ?? 0) + started);
    this.forgetWindows(now, queueLimit, groupLimit);
    return Promise.resolve(result);
  }

  /** Drops window counters two windows old (what PEXPIRE does in Redis). */
  private forgetWindows(now: number, queueLimit: { windowMs: number } | undefined, groupLimit: { windowMs: number } | undefined): void {
    if (this.windows.size < 1000) return;
    for (const key of [...this.windows.keys()]) {
      const windowMs = key.startsWith('q:') ? queueLimit?.windowMs : groupLimit?.windowMs;
      const index = Number(key.slice(key.lastIndexOf(':') + 1));
      if (windowMs === undefined || index < Math.floor(now / windowMs) - 1) this.windows.delete(key);
    }
  }

  async finish(acks: readonly Ack[], now: number, fetch?: FetchRequest): Promise<{ acked: boolean[]; fetched: FetchResult | undefined }> {
    const acked = this.finishNow(acks, now);
    return { acked, fetched: fetch === undefined ? undefined : await this.fetch(fetch) };
  }

  private finishNow(acks: readonly Ack[], now: number): boolean[] {
    const minute = Math.floor(now / 60_000);
    return acks.map((ack) => {
      const job = this.jobs.get(ack.id);
      if (job === undefined || job.token !== ack.token || !this.active.has(ack.id)) return false;
      this.active.delete(ack.id);
      job.token = '';
      if (ack.kind === 'h') {
        this.enqueue(job);
        this.mark(job.type);
        return true;
      }
      job.attemptsMade += 1;
      if (ack.kind === 'c') {
        this.bump(`c:${minute}`, 1, this.metrics);
        job.state = 'completed';
        job.finishedAt = now;
        job.result = ack.value;
        this.keep(this.completed, 'c:', ack.keep, job, now);
      } else if (ack.kind === 'f') {
        this.bump(`f:${minute}`, 1, this.metrics);
        job.state = 'failed';
        job.finishedAt = now;
        job.error = ack.value;
        this.keep(this.failed, 'f:', ack.keep, job, now);
      } else {
        this.bump(`f:${minute}`, 1, this.metrics);
        job.error = ack.value;
        job.runAt = ack.runAt;
        if (ack.runAt > now) {
          job.state = 'delayed';
          this.delayed.set(job.id, ack.runAt);
          this.bump(`d:${job.type}`, 1);
        } else {
          this.enqueue(job);
        }
        this.mark(job.type);
      }
      return true;
    });
  }

  extendLocks(locks: readonly (readonly [string, string])[], lockUntil: number): Promise<string[]> {
    const lost: string[] = [];
    for (const [id, token] of locks) {
      if (this.jobs.get(id)?.token === token && this.active.has(id)) this.active.set(id, lockUntil);
      else lost.push(id);
    }
    return Promise.resolve(lost);
  }

  moveStalled(now: number, guardMs: number, maxStalledCount: number): Promise<StalledResult> {
    if (now < this.stalledGuardUntil) return Promise.resolve({ ran: false, recovered: [], failed: [] });
    this.stalledGuardUntil = now + Math.max(1, guardMs);
    const result: StalledResult = { ran: true, recovered: [], failed: [] };
    const minute = Math.floor(now / 60_000);
    for (const [id, until] of [...this.active]) {
      if (until > now) continue;
      this.active.delete(id);
      const job = this.jobs.get(id);
      if (job === undefined) continue;
      job.token = '';
      job.stalledCount += 1;
      if (job.stalledCount > maxStalledCount) {
        job.attemptsMade += 1;
        job.state = 'failed';
        job.finishedAt = now;
        job.error = JSON.stringify({ name: 'StalledJobError', message: `job stalled more than maxStalledCount (${maxStalledCount}) times` });
        this.failed.set(id, now);
        this.bump(`f:${job.type}`, 1);
        this.bump(`f:${minute}`, 1, this.metrics);
        result.failed.push(id);
      } else {
        this.enqueue(job);
        this.mark(job.type);
        result.recovered.push(id);
      }
    }
    for (const field of [...this.metrics.keys()]) if (Number(field.slice(2)) < minute - 60) this.metrics.delete(field);
    return Promise.resolve(result);
  }

  waitForJobs(types: readonly string[], timeoutMs: number): Promise<void> {
    for (const type of types) {
      if (this.markers.delete(type)) return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let handle: TimerHandle | undefined = undefined;
      const waiter = {
        types,
        wake: () => {
          this.waiters.delete(waiter);
          if (handle !== undefined) this.clock.clearTimeout(handle);
          resolve();
        },
      };
      this.waiters.add(waiter);
      handle = this.clock.setTimeout(waiter.wake, timeoutMs);
    });
  }

  interruptWait(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  getJob(id: string): Promise<StoredJob | undefined> {
    const job = this.jobs.get(id);
    return Promise.resolve(job === undefined ? undefined : view(job));
  }

  getLogs(id: string): Promise<string[]> {
    return Promise.resolve([...(this.jobs.get(id)?.logs ?? [])]);
  }

  addLog(id: string, line: string, maxLines: number): Promise<void> {
    const logs = this.jobs.get(id)?.logs;
    if (logs !== undefined) {
      logs.push(line);
      if (logs.length > maxLines) logs.splice(0, logs.length - maxLines);
    }
    return Promise.resolve();
  }

  updateProgress(id: string, token: string, progress: string): Promise<boolean> {
    const job = this.jobs.get(id);
    if (job?.token !== token) return Promise.resolve(false);
    job.progress = progress;
    return Promise.resolve(true);
  }

  stats(): Promise<RawStats> {
    const activeByType = new Map<string, number>();
    for (const id of this.active.keys()) {
      const type = this.jobs.get(id)?.type;
      if (type !== undefined) activeByType.set(type, (activeByType.get(type) ?? 0) + 1);
    }
    return Promise.resolve({
      paused: this.paused,
      active: this.active.size,
      delayed: this.delayed.size,
      completed: this.completed.size,
      failed: this.failed.size,
      types: [...this.types].map((type) => {
        const list = this.waiting.get(type) ?? [];
        return { type, waiting: list.length, headCreatedAt: list[0]?.createdAt, active: activeByType.get(type) ?? 0 };
      }),
      counts: Object.fromEntries(this.counts),
      metrics: Object.fromEntries(this.metrics),
    });
  }

  setPaused(paused: boolean): Promise<void> {
    this.paused = paused;
    if (!paused) for (const type of this.types) this.mark(type);
    return Promise.resolve();
  }

  listFailed(start: number, end: number): Promise<StoredJob[]> {
    const ids = [...this.failed].sort((a, b) => b[1] - a[1] || Number(b[0] > a[0]) - Number(b[0] < a[0])).map(([id]) => id);
    const slice = ids.slice(start, end < 0 ? ids.length + end + 1 : end + 1);
    return Promise.resolve(slice.flatMap((id) => {
      const job = this.jobs.get(id);
      return job === undefined ? [] : [view(job)];
    }));
  }

  retryFailed(ids: readonly string[] | { limit: number }): Promise<number> {
    const chosen = Array.isArray(ids)
      ? (ids as readonly string[])
      : [...this.failed].sort((a, b) => a[1] - b[1]).slice(0, (ids as { limit: number }).limit).map(([id]) => id);
    let moved = 0;
    for (const id of chosen) {
      const job = this.jobs.get(id);
      if (!this.failed.delete(id) || job === undefined) continue;
      this.bump(`f:${job.type}`, -1);
      job.attemptsMade = 0;
      job.stalledCount = 0;
      job.finishedAt = undefined;
      job.error = undefined;
      job.result = undefined;
      this.enqueue(job);
      this.mark(job.type);
      moved++;
    }
    return Promise.resolve(moved);
  }

  removeJob(id: string): Promise<-1 | 0 | 1> {
    const job = this.jobs.get(id);
    if (job === undefined) return Promise.resolve(0);
    if (job.state === 'active') return Promise.resolve(-1);
    this.detach(job);
    this.jobs.delete(id);
    return Promise.resolve(1);
  }

  clean(state: 'completed' | 'failed', cutoff: number, limit: number): Promise<string[]> {
    const set = state === 'completed' ? this.completed : this.failed;
    const ids = [...set].filter(([, at]) => at <= cutoff).sort((a, b) => a[1] - b[1]).slice(0, limit).map(([id]) => id);
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (job !== undefined) this.detach(job);
      this.jobs.delete(id);
    }
    return Promise.resolve(ids);
  }

  upsertSchedule(schedule: NewSchedule, now: number): Promise<{ next: number | undefined; count: number }> {
    const old = this.schedules.get(schedule.id);
    const { template } = schedule;
    const record = {
      id: schedule.id,
      repeat: schedule.repeat,
      type: template.type,
      data: template.data,
      opts: template.opts,
      priority: template.priority,
      group: template.group,
      next: old?.next,
      count: old?.count ?? 0,
      createdAt: old?.createdAt ?? now,
      limit: schedule.limit,
    };
    this.schedules.set(schedule.id, record);
    if (old?.repeat === schedule.repeat && old.next !== undefined) return Promise.resolve({ next: record.next, count: record.count });
    if (record.next !== undefined && this.dropPending(scheduledJobId(schedule.id, record.next))) record.count -= 1;
    record.next = undefined;
    if (schedule.firstTick !== undefined && (record.limit === 0 || record.count < record.limit)) {
      record.next = schedule.firstTick;
      record.count += this.produce(record, schedule.firstTick, now);
    }
    return Promise.resolve({ next: record.next, count: record.count });
  }

  advanceSchedule(id: string, tick: number, following: number | undefined, now: number): Promise<boolean> {
    const record = this.schedules.get(id);
    if (record?.next !== tick) return Promise.resolve(false);
    record.next = undefined;
    if (following !== undefined && (record.limit === 0 || record.count < record.limit)) {
      record.next = following;
      record.count += this.produce(record, following, now);
    }
    return Promise.resolve(true);
  }

  listSchedules(id?: string): Promise<StoredSchedule[]> {
    const records = id === undefined ? [...this.schedules.values()] : [this.schedules.get(id)].filter((record) => record !== undefined);
    return Promise.resolve(
      records
        .map((record) => ({
          id: record.id,
          repeat: record.repeat,
          type: record.type,
          data: record.data,
          opts: record.opts,
          priority: record.priority,
          group: record.group,
          next: record.next,
          count: record.count,
          createdAt: record.createdAt,
          nextJobState: record.next === undefined ? undefined : this.jobs.get(scheduledJobId(record.id, record.next))?.state,
        }))
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)),
    );
  }

  removeSchedule(id: string): Promise<boolean> {
    const record = this.schedules.get(id);
    if (record === undefined) return Promise.resolve(false);
    if (record.next !== undefined) this.dropPending(scheduledJobId(id, record.next));
    this.schedules.delete(id);
    return Promise.resolve(true);
  }

  /** Adds the job of one tick (a no-op when it exists); 1 when added. */
  private produce(record: { id: string; type: string; data: string; opts: string; priority: number; group: string }, tick: number, now: number): number {
    const job: NewJob = { jobId: scheduledJobId(record.id, tick), type: record.type, data: record.data, opts: record.opts, priority: record.priority, runAt: tick, traceCarrier: '', group: record.group };
    return this.addOne(job, now, record.id).existed ? 0 : 1;
  }

  /** Deletes a job that has not started (waiting or delayed); true when it did. */
  private dropPending(id: string): boolean {
    const job = this.jobs.get(id);
    if (job === undefined || (job.state !== 'waiting' && job.state !== 'delayed')) return false;
    this.detach(job);
    this.jobs.delete(id);
    return true;
  }

  obliterate(): Promise<void> {
    this.schedules.clear();
    for (const map of [this.jobs, this.waiting, this.delayed, this.active, this.completed, this.failed, this.counts, this.metrics]) map.clear();
    this.types.clear();
    this.markers.clear();
    this.paused = false;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.interruptWait();
    return Promise.resolve();
  }

  private enqueue(job: MemoryJob): void {
    job.state = 'waiting';
    let list = this.waiting.get(job.type);
    if (list === undefined) {
      list = [];
      this.waiting.set(job.type, list);
    }
    const score = job.priority * PRIORITY_SCALE + job.seq;
    let index = list.length;
    while (index > 0 && (list[index - 1] as MemoryJob).priority * PRIORITY_SCALE + (list[index - 1] as MemoryJob).seq > score) index--;
    list.splice(index, 0, job);
  }

  private promoteDelayed(now: number): void {
    const due = [...this.delayed].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [id] of due) {
      this.delayed.delete(id);
      const job = this.jobs.get(id);
      if (job === undefined) continue;
      this.bump(`d:${job.type}`, -1);
      this.enqueue(job);
      this.mark(job.type);
    }
  }

  private keep(set: Map<string, number>, prefix: string, policy: string, job: MemoryJob, now: number): void {
    if (policy === 'r') {
      this.jobs.delete(job.id);
      return;
    }
    set.set(job.id, now);
    this.bump(`${prefix}${job.type}`, 1);
    const mode = policy.charAt(0);
    const value = Number(policy.slice(1));
    let evict: string[] = [];
    if (mode === 'k' && set.size > value) {
      evict = [...set].sort((a, b) => a[1] - b[1]).slice(0, set.size - value).map(([id]) => id);
    } else if (mode === 'a') {
      evict = [...set].filter(([, at]) => at <= now - value).map(([id]) => id);
    }
    for (const id of evict) {
      const old = this.jobs.get(id);
      if (old !== undefined) this.detach(old);
      this.jobs.delete(id);
    }
  }

  /** Takes a job out of whatever set holds it, fixing the per-type counts. */
  private detach(job: MemoryJob): void {
    const states: Record<Exclude<JobState, 'active'>, () => void> = {
      waiting: () => {
        const list = this.waiting.get(job.type);
        const index = list?.indexOf(job) ?? -1;
        if (index >= 0) list?.splice(index, 1);
      },
      delayed: () => {
        if (this.delayed.delete(job.id)) this.bump(`d:${job.type}`, -1);
      },
      completed: () => {
        if (this.completed.delete(job.id)) this.bump(`c:${job.type}`, -1);
      },
      failed: () => {
        if (this.failed.delete(job.id)) this.bump(`f:${job.type}`, -1);
      },
    };
    if (job.state !== 'active') states[job.state]();
  }

  private bump(field: string, by: number, target: Map<string, number> = this.counts): void {
    target.set(field, (target.get(field) ?? 0) + by);
  }

  private mark(type: string): void {
    for (const waiter of this.waiters) {
      if (waiter.types.includes(type)) {
        waiter.wake();
        return;
      }
    }
    this.markers.add(type);
  }
}

function view(job: MemoryJob): StoredJob {
  return {
    id: job.id,
    type: job.type,
    data: job.data,
    opts: job.opts,
    state: job.state,
    createdAt: job.createdAt,
    priority: job.priority,
    runAt: job.runAt,
    starts: job.starts,
    attemptsMade: job.attemptsMade,
    stalledCount: job.stalledCount,
    processedAt: job.processedAt,
    finishedAt: job.finishedAt,
    result: job.result,
    error: job.error,
    progress: job.progress,
    traceCarrier: job.traceCarrier,
  };
}
