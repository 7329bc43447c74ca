import { type BackoffOptions, validateBackoff } from '../core/backoff.js';
import { ValidationError } from '../core/validation-error.js';
import type { StoredJobOptions } from './queue-backend.js';

/** Named priorities; numbers run 0 (highest) to {@link MAX_PRIORITY}. */
export const PRIORITIES = { high: 1, normal: 5, low: 10 } as const;

/** The lowest priority a job may have. */
export const MAX_PRIORITY = 1000;

/**
 * How long finished jobs are kept: `true` removes at once, `false` keeps, a number keeps the
 * newest N, `{ ageMs }` keeps for that long, `{ count }` keeps the newest N.
 */
export type KeepJobs = boolean | number | { count: number } | { ageMs: number };

/** Options of one job; defaults come from the queue's `defaultJobOptions`. */
export interface JobOptions {
  /** 0 is the highest; also `'high'` (1), `'normal'` (5), `'low'` (10). Default `'normal'`. */
  priority?: number | keyof typeof PRIORITIES;
  /** Run no earlier than this many ms from now. Default `0`. */
  delayMs?: number;
  /** Run no earlier than this time (a `Date` or epoch ms). Wins over `delayMs`. */
  runAt?: Date | number;
  /** Attempts in total, the first included. Default `MAX_RETRY_ATTEMPTS` (3). */
  attempts?: number;
  /** Delay between attempts. Default none (retry at once). A processor's `backoff` function wins. */
  backoff?: BackoffOptions;
  /** Idempotency key: adding an id that exists is a no-op returning it. Default a generated number. */
  jobId?: string;
  /** Per-attempt time limit in ms; on expiry `job.signal` aborts and the attempt fails. Default none. */
  timeoutMs?: number;
  /** Default `{ count: 1000 }`. */
  removeOnComplete?: KeepJobs;
  /** Default `false` (failed jobs stay in the dead-letter list). */
  removeOnFail?: KeepJobs;
  /** A group label (e.g. a tenant id), stored with the job. Default none. */
  group?: string;
}

/** A job validated and encoded for the backend. */
export interface PreparedOptions {
  jobId: string;
  priority: number;
  runAt: number;
  stored: StoredJobOptions;
}

function positiveInteger(field: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new ValidationError(field, `must be an integer >= ${min} (got ${String(value)})`);
}

/** Encodes a keep policy as the backend's short string. */
export function encodeKeep(field: string, keep: KeepJobs): string {
  if (keep === true) return 'r';
  if (keep === false) return '';
  if (typeof keep === 'number') {
    positiveInteger(field, keep, 0);
    return keep === 0 ? 'r' : `k${keep}`;
  }
  if (typeof keep === 'object' && keep !== null && 'count' in keep) {
    positiveInteger(`${field}.count`, keep.count, 0);
    return keep.count === 0 ? 'r' : `k${keep.count}`;
  }
  if (typeof keep === 'object' && keep !== null && 'ageMs' in keep) {
    positiveInteger(`${field}.ageMs`, keep.ageMs, 1);
    return `a${keep.ageMs}`;
  }
  throw new ValidationError(field, 'must be a boolean, a count, { count } or { ageMs }');
}

/**
 * Validates one job's options (merged over the queue defaults) and resolves them.
 * Throws {@link ValidationError} naming the option.
 */
export function prepareOptions(options: JobOptions, defaults: JobOptions, defaultAttempts: number, now: number): PreparedOptions {
  const merged: JobOptions = { ...defaults, ...options };
  let priority: number;
  const rawPriority = merged.priority ?? 'normal';
  if (typeof rawPriority === 'string') {
    if (!(rawPriority in PRIORITIES)) throw new ValidationError('priority', `must be a number or high, normal, low (got ${JSON.stringify(rawPriority)})`);
    priority = PRIORITIES[rawPriority];
  } else {
    positiveInteger('priority', rawPriority, 0);
    if (rawPriority > MAX_PRIORITY) throw new ValidationError('priority', `must be at most ${MAX_PRIORITY} (got ${rawPriority})`);
    priority = rawPriority;
  }
  let runAt = 0;
  if (merged.runAt !== undefined) {
    const at = merged.runAt instanceof Date ? merged.runAt.getTime() : merged.runAt;
    if (!Number.isFinite(at)) throw new ValidationError('runAt', 'must be a valid Date or epoch ms');
    runAt = at > now ? Math.floor(at) : 0;
  } else if (merged.delayMs !== undefined) {
    if (!Number.isFinite(merged.delayMs) || merged.delayMs < 0) throw new ValidationError('delayMs', `must be a non-negative number (got ${String(merged.delayMs)})`);
    runAt = merged.delayMs > 0 ? Math.floor(now + merged.delayMs) : 0;
  }
  const attempts = merged.attempts ?? defaultAttempts;
  positiveInteger('attempts', attempts, 1);
  if (merged.backoff !== undefined) validateBackoff(merged.backoff);
  if (merged.timeoutMs !== undefined) positiveInteger('timeoutMs', merged.timeoutMs, 1);
  const jobId = merged.jobId ?? '';
  if (options.jobId !== undefined && (typeof jobId !== 'string' || jobId === '' || jobId.length > 256 || /[{}\s]/.test(jobId))) {
    throw new ValidationError('jobId', 'must be a non-empty string of at most 256 characters without braces or spaces');
  }
  if (merged.group !== undefined && (typeof merged.group !== 'string' || merged.group === '')) {
    throw new ValidationError('group', 'must be a non-empty string');
  }
  const stored: StoredJobOptions = {
    attempts,
    keepCompleted: encodeKeep('removeOnComplete', merged.removeOnComplete ?? { count: 1000 }),
    keepFailed: encodeKeep('removeOnFail', merged.removeOnFail ?? false),
  };
  if (merged.backoff !== undefined) stored.backoff = merged.backoff;
  if (merged.timeoutMs !== undefined) stored.timeoutMs = merged.timeoutMs;
  if (merged.group !== undefined) stored.group = merged.group;
  return { jobId: options.jobId ?? '', priority, runAt, stored };
}

/**
 * Serialises job data, refusing what JSON would silently change or drop (functions, symbols,
 * bigint, non-finite numbers, `undefined` at the top, cycles) and payloads over `maxBytes`.
 */
export function serializeData(data: unknown, maxBytes: number): string {
  checkJson(data, 'data', new Set());
  const text = JSON.stringify(data);
  // A UTF-16 unit is at most 3 UTF-8 bytes: count bytes only when the cap may be near.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new ValidationError('data', `is ${bytes} bytes of JSON, over the ${maxBytes}-byte cap (maxPayloadBytes)`, { details: { bytes, maxBytes } });
  }
  return text;
}

function checkJson(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new ValidationError(path, `is ${String(value)}, which JSON cannot carry`);
      return;
    case 'object':
      break;
    default:
      throw new ValidationError(path, `is a ${typeof value}, which JSON cannot carry`);
  }
  if (value === null) return;
  if (seen.has(value)) throw new ValidationError(path, 'is a circular reference');
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return;
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => {
      checkJson(item, `${path}[${index}]`, seen);
    });
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new ValidationError(path, `is a ${(value as { constructor?: { name?: string } }).constructor?.name ?? 'class instance'}, not plain JSON`);
    }
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) checkJson(item, `${path}.${key}`, seen);
    }
  }
  seen.delete(value);
}
