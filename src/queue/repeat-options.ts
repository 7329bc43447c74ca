import { Cron } from 'croner';
import { ValidationError } from '../core/validation-error.js';
import type { JobOptions } from './job-options.js';

/**
 * When a schedule fires: a cron expression or a fixed interval (exactly one of them), bounded by
 * an optional start, end and number of runs.
 *
 * @example
 * ```ts
 * const weekdays: RepeatOptions = { cron: '0 9 * * 1-5', tz: 'Europe/Paris' };
 * const every30s: RepeatOptions = { every: 30_000, limit: 100 };
 * ```
 */
export interface RepeatOptions {
  /**
   * A cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds
   * first. When both day fields are restricted, either one matching fires (classic cron).
   */
  cron?: string;
  /** IANA time zone the cron expression is read in. Default `'UTC'`. Only with `cron`. */
  tz?: string;
  /** Fixed interval in ms; ticks are `startDate + k * every` (epoch-aligned without a start). */
  every?: number;
  /** Jobs produced at most, in total (counted across upserts). Default no limit. */
  limit?: number;
  /** No tick before this time (`Date` or epoch ms). Default now. */
  startDate?: Date | number;
  /** No tick after this time (`Date` or epoch ms). Default none. */
  endDate?: Date | number;
}

/** The validated, serialisable form of {@link RepeatOptions}. */
export interface RepeatSpec {
  cron?: string;
  tz?: string;
  every?: number;
  limit?: number;
  startDate?: number;
  endDate?: number;
}

function epoch(field: string, value: Date | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ValidationError(field, 'must be a valid Date or a non-negative epoch ms integer');
  return ms;
}

function cronOf(spec: RepeatSpec): Cron {
  return new Cron(spec.cron ?? '', { timezone: spec.tz ?? 'UTC', mode: '5-or-6-parts', paused: true });
}

/** Validates repeat options (naming the bad field) and returns their stored form. */
export function prepareRepeat(options: RepeatOptions): RepeatSpec {
  if (typeof options !== 'object' || options === null) throw new ValidationError('repeat', 'must be an object');
  const { cron, tz, every, limit } = options;
  if ((cron === undefined) === (every === undefined)) throw new ValidationError('repeat', 'needs exactly one of "cron" or "every"');
  const spec: RepeatSpec = {};
  if (cron !== undefined) {
    if (typeof cron !== 'string' || cron.trim() === '') throw new ValidationError('repeat.cron', 'must be a non-empty cron expression');
    spec.cron = cron.trim();
    if (tz !== undefined) {
      if (typeof tz !== 'string') throw new ValidationError('repeat.tz', 'must be an IANA time zone name');
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
      } catch {
        throw new ValidationError('repeat.tz', `is not a known IANA time zone (got ${JSON.stringify(tz)})`);
      }
      spec.tz = tz;
    }
    try {
      cronOf(spec);
    } catch (error) {
      throw new ValidationError('repeat.cron', `is not a valid 5- or 6-field cron expression (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
  } else {
    if (tz !== undefined) throw new ValidationError('repeat.tz', 'only applies to "cron"');
    if (every === undefined || !Number.isSafeInteger(every) || every < 1) throw new ValidationError('repeat.every', `must be a positive integer of ms (got ${String(every)})`);
    spec.every = every;
  }
  if (limit !== undefined) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new ValidationError('repeat.limit', `must be a positive integer (got ${String(limit)})`);
    spec.limit = limit;
  }
  const startDate = epoch('repeat.startDate', options.startDate);
  const endDate = epoch('repeat.endDate', options.endDate);
  if (startDate !== undefined) spec.startDate = startDate;
  if (endDate !== undefined) spec.endDate = endDate;
  if (startDate !== undefined && endDate !== undefined && endDate < startDate) throw new ValidationError('repeat.endDate', 'must not be before startDate');
  return spec;
}

/**
 * The first tick strictly after `after` (epoch ms) that is not before the start, or `undefined`
 * when the schedule has no more ticks (past `endDate`). Limits are counted by the store.
 */
export function nextTick(spec: RepeatSpec, after: number): number | undefined {
  const from = Math.max(after, (spec.startDate ?? 0) - 1);
  let tick: number | undefined;
  if (spec.every !== undefined) {
    const anchor = spec.startDate ?? 0;
    tick = anchor + (Math.floor((from - anchor) / spec.every) + 1) * spec.every;
  } else {
    const next = cronOf(spec).nextRun(new Date(from));
    tick = next === null ? undefined : next.getTime();
  }
  if (tick === undefined || (spec.endDate !== undefined && tick > spec.endDate)) return undefined;
  return tick;
}

/**
 * The job a schedule produces at each tick. Its id is `repeat:<schedule id>:<tick>`; `jobId`,
 * `delayMs` and `runAt` are set by the schedule.
 *
 * @example
 * ```ts
 * const template: ScheduleTemplate<{ report: string }> = { type: 'report', data: { report: 'daily' }, options: { attempts: 5 } };
 * ```
 */
export interface ScheduleTemplate<T = unknown> {
  /** The job type. */
  type: string;
  /** The job data (JSON). */
  data: T;
  /** Job options of every produced job. Default the queue's `defaultJobOptions`. */
  options?: Omit<JobOptions, 'jobId' | 'delayMs' | 'runAt'>;
}

/**
 * A schedule as stored, from `getSchedule`/`listSchedules`.
 *
 * @example
 * ```ts
 * const info: ScheduleInfo | undefined = await queue.getSchedule('nightly-report');
 * console.log(info?.nextRunAt, info?.count);
 * ```
 */
export interface ScheduleInfo<T = unknown> {
  /** The schedule id given to `upsertSchedule`. */
  id: string;
  /** The job type it produces. */
  type: string;
  /** The data of the jobs it produces. */
  data: T;
  /** The validated repeat options (dates as epoch ms). */
  repeat: RepeatSpec;
  /** When the next job is due (epoch ms); `undefined` when the schedule is over (limit or endDate). */
  nextRunAt: number | undefined;
  /** Jobs produced so far. */
  count: number;
  /** When the schedule was first created (epoch ms). */
  createdAt: number;
}
