import { ValidationError } from './validation-error.js';

/** How a random delay is spread below its ceiling. */
export type Jitter =
  /** Uniform in [0, ceiling] (AWS "full jitter"); the best spread for many competing clients. */
  | 'full'
  /** Uniform in [ceiling/2, ceiling]; keeps a minimum wait. */
  | 'equal'
  /** Exactly the ceiling. */
  | 'none';

/** The same delay before every retry. Serializable, so queues store it with a job. */
export interface FixedBackoff {
  type: 'fixed';
  /** Delay in ms. */
  delayMs: number;
  /** Default `'none'`. */
  jitter?: Jitter;
}

/** `delayMs * factor^(attempt-1)`, capped at `maxDelayMs`, then jittered. Serializable. */
export interface ExponentialBackoff {
  type: 'exponential';
  /** Delay before the first retry, in ms. */
  delayMs: number;
  /** Growth per attempt. Default `2`. */
  factor?: number;
  /** Ceiling for any single delay, in ms. Default `300_000` (5 minutes). */
  maxDelayMs?: number;
  /** Default `'full'`. */
  jitter?: Jitter;
}

/** A serializable backoff description. */
export type BackoffOptions = FixedBackoff | ExponentialBackoff;

/**
 * Computes the delay in ms before retry number `attempt` (1 = the first retry) after `error`.
 */
export type BackoffStrategy = (attempt: number, error?: unknown) => number;

/** Default exponential ceiling: 5 minutes. */
export const DEFAULT_MAX_DELAY_MS = 300_000;

function nonNegative(field: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new ValidationError(field, `must be a non-negative number (got ${value})`);
}

/**
 * Checks a serializable backoff description, throwing a {@link ValidationError} naming the bad
 * field (`backoff.delayMs`, …). `field` prefixes the names, for nested options.
 */
export function validateBackoff(options: BackoffOptions, field = 'backoff'): void {
  if (typeof options !== 'object' || options === null) throw new ValidationError(field, 'must be an object');
  if (options.type !== 'fixed' && options.type !== 'exponential') {
    throw new ValidationError(`${field}.type`, `must be "fixed" or "exponential" (got ${JSON.stringify((options as { type?: unknown }).type)})`);
  }
  nonNegative(`${field}.delayMs`, options.delayMs);
  if (options.jitter !== undefined && !['full', 'equal', 'none'].includes(options.jitter)) {
    throw new ValidationError(`${field}.jitter`, 'must be "full", "equal" or "none"');
  }
  if (options.type === 'exponential') {
    if (options.factor !== undefined && (!Number.isFinite(options.factor) || options.factor < 1)) {
      throw new ValidationError(`${field}.factor`, `must be a number >= 1 (got ${options.factor})`);
    }
    if (options.maxDelayMs !== undefined) nonNegative(`${field}.maxDelayMs`, options.maxDelayMs);
  }
}

/**
 * Applies jitter to a ceiling. `random` returns a value in [0, 1), like `Math.random`.
 */
export function applyJitter(ceilingMs: number, jitter: Jitter, random: () => number = Math.random): number {
  switch (jitter) {
    case 'none':
      return ceilingMs;
    case 'equal':
      return Math.round(ceilingMs / 2 + random() * (ceilingMs / 2));
    case 'full':
      return Math.round(random() * ceilingMs);
  }
}

/**
 * Turns a backoff description into a strategy. A function is returned as it is (custom backoff).
 *
 * @example
 * ```ts
 * const next = createBackoff({ type: 'exponential', delayMs: 100, maxDelayMs: 10_000 });
 * next(1); // 0..100 ms
 * next(5); // 0..1600 ms
 * ```
 */
export function createBackoff(
  options: BackoffOptions | BackoffStrategy,
  random: () => number = Math.random,
): BackoffStrategy {
  if (typeof options === 'function') return options;
  validateBackoff(options);
  if (options.type === 'fixed') {
    const jitter = options.jitter ?? 'none';
    return () => applyJitter(options.delayMs, jitter, random);
  }
  const factor = options.factor ?? 2;
  const cap = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const jitter = options.jitter ?? 'full';
  return (attempt) => {
    const exponent = Math.max(0, Math.floor(attempt) - 1);
    const ceiling = Math.min(cap, options.delayMs * factor ** exponent);
    return applyJitter(Number.isFinite(ceiling) ? ceiling : cap, jitter, random);
  };
}
