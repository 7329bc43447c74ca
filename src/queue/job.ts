import type { JobState } from './queue-backend.js';

/** The job a processor receives with its data. */
export interface Job<T = unknown> {
  readonly id: string;
  readonly type: string;
  readonly data: T;
  /** This attempt, 1-based. */
  readonly attempt: number;
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /** When the job was added (epoch ms). */
  readonly createdAt: number;
  /** The rate-limit group, when the job has one. */
  readonly group: string | undefined;
  /** The W3C trace context stored at add (`traceparent`, `tracestate`); empty when none. */
  readonly traceCarrier: Readonly<Record<string, string>>;
  /** Aborted when the attempt times out, its lock is lost, or the queue shuts down. */
  readonly signal: AbortSignal;
  /** Stores progress (a number or any JSON object) and emits `progress`. */
  updateProgress(progress: number | object): Promise<void>;
  /** Appends a line to the job's log (the newest 1,000 are kept). */
  log(line: string): Promise<void>;
}

/** The error stored with a failed attempt. */
export interface JobErrorInfo {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** What {@link MessageQueue.getJob} returns: a job's stored state. */
export interface JobInfo<T = unknown> {
  id: string;
  type: string;
  data: T;
  state: JobState;
  priority: number;
  /** Attempts finished so far (failed ones, plus the completing one). */
  attemptsMade: number;
  maxAttempts: number;
  stalledCount: number;
  progress: unknown;
  /** The processor's return value, once completed. */
  result: unknown;
  /** The last attempt's error, when one failed. */
  error: JobErrorInfo | undefined;
  createdAt: number;
  /** When the job is (or was) due, for delayed jobs and retries with backoff. */
  runAt: number | undefined;
  /** When the latest attempt started. */
  processedAt: number | undefined;
  finishedAt: number | undefined;
  group: string | undefined;
}
