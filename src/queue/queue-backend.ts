/**
 * The storage contract behind {@link MessageQueue}: every state change is one atomic operation
 * over a batch of jobs. Two drivers implement it with the same semantics: Redis (the product) and
 * in memory (development and tests). Internal to the queue block except for driver authors.
 */
import type { BackoffOptions } from '../core/backoff.js';

/** Where a job is. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/** What is stored with a job besides its data (serialised once, at add). */
export interface StoredJobOptions {
  /** Attempts in total, the first included. */
  attempts: number;
  /** Serializable backoff (see core `BackoffOptions`); absent: retry at once. */
  backoff?: BackoffOptions;
  /** Per-attempt timeout in ms; absent: none. */
  timeoutMs?: number;
  /** Keep policy once completed: '' keep, 'r' remove, 'k<N>', 'a<ms>'. */
  keepCompleted: string;
  /** Keep policy once failed for good. */
  keepFailed: string;
  /** Rate-limit group, stored for the processor. */
  group?: string;
}

/** A job to add, validated and serialised. */
export interface NewJob {
  /** '' to let the backend number it. */
  jobId: string;
  type: string;
  /** JSON text. */
  data: string;
  /** JSON of {@link StoredJobOptions}. */
  opts: string;
  priority: number;
  /** Epoch ms; `0` or not after now means waiting at once. */
  runAt: number;
  /** JSON of the trace carrier, '' for none. */
  traceCarrier: string;
  /** Rate-limit group, '' for none. */
  group: string;
}

/** At most `limit` job starts per fixed window of `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** A job just moved to active for one worker. */
export interface FetchedJob {
  id: string;
  type: string;
  data: string;
  opts: string;
  createdAt: number;
  /** How many times the job has been started, this start included. */
  starts: number;
  /** Attempts already finished (failed) before this one. */
  attemptsMade: number;
  stalledCount: number;
  traceCarrier: string;
  runAt: number;
  priority: number;
  /** The lock token of this start. */
  token: string;
  /** The schedule that produced the job ('' for none); its tick ends the id. */
  scheduleId: string;
}

/** What a worker asks for: up to `count` jobs per type (0: only report `pending`). */
export interface FetchRequest {
  types: readonly (readonly [string, number])[];
  /** The worker's token; each start's lock token is `<token>:<starts>`. */
  token: string;
  /** Lock expiry of the fetched jobs (epoch ms). */
  lockUntil: number;
  now: number;
  /** Starts per window for the whole queue. */
  queueLimit?: RateLimit;
  /** Starts per window for each group value; over-limit jobs wait (delayed) for the next window. */
  groupLimit?: RateLimit;
}

/** Result of one fetch. */
export interface FetchResult {
  jobs: FetchedJob[];
  /** When the earliest delayed job is due (epoch ms), or `undefined`. */
  nextDelayedAt: number | undefined;
  /** Jobs are waiting for a type that had no free slot. */
  pending: boolean;
}

/** How one active job ends. */
export interface Ack {
  id: string;
  token: string;
  /** 'c' completed, 'f' failed for good, 'r' retry, 'h' handed back unfinished. */
  kind: 'c' | 'f' | 'r' | 'h';
  /** Result JSON ('c') or error JSON ('f', 'r'). */
  value: string;
  /** For 'r': when to run again (epoch ms). */
  runAt: number;
  /** For 'c'/'f': the keep policy. */
  keep: string;
}

/** The raw stored view of a job. */
export interface StoredJob {
  id: string;
  type: string;
  data: string;
  opts: string;
  state: JobState;
  createdAt: number;
  priority: number;
  runAt: number;
  starts: number;
  attemptsMade: number;
  stalledCount: number;
  processedAt: number | undefined;
  finishedAt: number | undefined;
  result: string | undefined;
  error: string | undefined;
  progress: string | undefined;
  traceCarrier: string;
}

/** The raw snapshot behind `getStats()`. */
export interface RawStats {
  paused: boolean;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  types: { type: string; waiting: number; headCreatedAt: number | undefined; active: number }[];
  /** `d:<type>`, `c:<type>`, `f:<type>` → count. */
  counts: Record<string, number>;
  /** `c:<minute>`, `f:<minute>` → count (minute = epoch ms / 60000, floored). */
  metrics: Record<string, number>;
}

/** Result of one stalled-checker run. */
export interface StalledResult {
  /** False when another process ran the check this interval. */
  ran: boolean;
  recovered: string[];
  failed: string[];
}

/** A repeatable-job schedule as stored. */
export interface StoredSchedule {
  id: string;
  /** JSON of the validated repeat options (`RepeatSpec`). */
  repeat: string;
  type: string;
  /** JSON of the template's data. */
  data: string;
  /** JSON of {@link StoredJobOptions} for the produced jobs. */
  opts: string;
  priority: number;
  group: string;
  /** The pending tick (epoch ms) whose job exists, or `undefined` when the schedule is over. */
  next: number | undefined;
  /** Jobs produced so far. */
  count: number;
  createdAt: number;
  /** State of the pending tick's job, `undefined` when it is gone (removed or cleaned). */
  nextJobState: JobState | undefined;
}

/** What {@link QueueBackend.upsertSchedule} writes. */
export interface NewSchedule {
  id: string;
  /** JSON of the validated repeat options. */
  repeat: string;
  /** The template of the produced jobs (its `jobId` and `runAt` are ignored). */
  template: NewJob;
  /** Jobs to produce in total, 0 for no limit. */
  limit: number;
  /** The tick to plan when the schedule is new or its repeat options changed; `undefined`: none. */
  firstTick: number | undefined;
}

/** The job id of one schedule tick: the same in every process, so a tick produces one job. */
export function scheduledJobId(scheduleId: string, tick: number): string {
  return `repeat:${scheduleId}:${tick}`;
}

/** The storage driver contract. All times come from the queue's clock. */
export interface QueueBackend {
  /** Adds jobs atomically; an existing id is left alone and reported `existed`. */
  addJobs(jobs: readonly NewJob[], now: number): Promise<{ id: string; existed: boolean }[]>;
  /** Promotes due delayed jobs, then moves up to `count` waiting jobs per type to active. */
  fetch(request: FetchRequest): Promise<FetchResult>;
  /**
   * Finishes active jobs (`false` in a slot: its lock was lost and nothing changed), then, when
   * `fetch` is given, fetches the next jobs in the same round trip.
   */
  finish(acks: readonly Ack[], now: number, fetch?: FetchRequest): Promise<{ acked: boolean[]; fetched: FetchResult | undefined }>;
  /** Renews locks; returns the ids whose lock was lost. */
  extendLocks(locks: readonly (readonly [string, string])[], lockUntil: number): Promise<string[]>;
  /** Moves expired-lock jobs back to waiting (or failed after `maxStalledCount`), once per `guardMs`. */
  moveStalled(now: number, guardMs: number, maxStalledCount: number): Promise<StalledResult>;
  /** Waits until a job of one of `types` may be ready, at most `timeoutMs`. */
  waitForJobs(types: readonly string[], timeoutMs: number): Promise<void>;
  /** Ends a pending {@link QueueBackend.waitForJobs} early (at close). */
  interruptWait(): void;
  /** The stored job, or `undefined` when it does not exist (or was removed). */
  getJob(id: string): Promise<StoredJob | undefined>;
  /** The job's log lines, oldest first. */
  getLogs(id: string): Promise<string[]>;
  /** Appends a log line, keeping at most `maxLines`. */
  addLog(id: string, line: string, maxLines: number): Promise<void>;
  /** Stores progress (JSON) if `token` still holds the job's lock; false otherwise. */
  updateProgress(id: string, token: string, progress: string): Promise<boolean>;
  /** Counts per state and per type, for `getStats()`. */
  stats(): Promise<RawStats>;
  /** Pauses or resumes fetching for every worker of the queue. */
  setPaused(paused: boolean): Promise<void>;
  /** Failed jobs, newest first. */
  listFailed(start: number, end: number): Promise<StoredJob[]>;
  /** Moves failed jobs back to waiting: the given ids, or up to `limit` of the oldest. */
  retryFailed(ids: readonly string[] | { limit: number }): Promise<number>;
  /** 1 removed, 0 unknown, -1 active. */
  removeJob(id: string): Promise<-1 | 0 | 1>;
  /** Removes up to `limit` jobs of a final state finished before `cutoff`; returns their ids. */
  clean(state: 'completed' | 'failed', cutoff: number, limit: number): Promise<string[]>;
  /** Creates or updates a schedule; returns its pending tick and how many jobs it produced. */
  upsertSchedule(schedule: NewSchedule, now: number): Promise<{ next: number | undefined; count: number }>;
  /**
   * Moves a schedule from `tick` (its job started) to `following` and produces that tick's job.
   * Only one caller per tick wins (true); the others change nothing.
   */
  advanceSchedule(id: string, tick: number, following: number | undefined, now: number): Promise<boolean>;
  /** Every schedule (or only `id`), with the state of its pending job. */
  listSchedules(id?: string): Promise<StoredSchedule[]>;
  /** Deletes a schedule and its pending job if not started; false when unknown. */
  removeSchedule(id: string): Promise<boolean>;
  /** Deletes every key of the queue (tests, teardown). */
  obliterate(): Promise<void>;
  /** Releases connections the backend owns. */
  close(): Promise<void>;
}
