/**
 * Every stable error code the package throws. Codes are part of the public API: match on
 * `error.code`, never on the message.
 */
export type UxFlowErrorCode =
  | 'ERR_VALIDATION'
  | 'ERR_CONFIG'
  | 'ERR_MISSING_DEPENDENCY'
  | 'ERR_ABORTED'
  | 'ERR_TIMEOUT'
  | 'ERR_RETRIES_EXHAUSTED'
  | 'ERR_CIRCUIT_OPEN'
  | 'ERR_RATE_LIMITED'
  | 'ERR_REDIS'
  | 'ERR_CLOSED'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_INVALID_REQUEST'
  | 'ERR_FORBIDDEN'
  | 'ERR_QUEUE'
  | 'ERR_JOB_UNRECOVERABLE'
  | 'ERR_JOB_DELAYED'
  | 'ERR_EMAIL'
  | 'ERR_TEMPLATE'
  | 'ERR_PROVIDER'
  | 'ERR_AI'
  | 'ERR_PROMPT_TEMPLATE'
  | 'ERR_LLM';

/** Options accepted by {@link UxFlowError} and its subclasses. */
export interface UxFlowErrorOptions {
  /** The underlying error, kept as the standard `Error.cause`. */
  cause?: unknown;
  /** Structured, log-safe details (never secrets or token values). */
  details?: Readonly<Record<string, unknown>>;
}

const MARKER = Symbol.for('@ux-flow/common.error');

/**
 * Base class of every error thrown by `@ux-flow/common`.
 *
 * Carries a stable {@link UxFlowErrorCode}, the standard `cause` and structured `details`.
 * Use {@link UxFlowError.isInstance} rather than `instanceof`: it also recognises errors made by
 * another installed copy of the package (two versions in one `node_modules` tree).
 *
 * @example
 * ```ts
 * try {
 *   await limiter.consume('login:1.2.3.4');
 * } catch (error) {
 *   if (UxFlowError.isInstance(error) && error.code === 'ERR_RATE_LIMITED') reply(429);
 *   else throw error;
 * }
 * ```
 */
export class UxFlowError extends Error {
  /** Stable machine-readable code. */
  readonly code: UxFlowErrorCode;
  /** Structured details for logs and error responses. Empty when there are none. */
  readonly details: Readonly<Record<string, unknown>>;
  private readonly [MARKER] = true;

  constructor(code: UxFlowErrorCode, message: string, options: UxFlowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }

  /** True for any error created by this package, from any installed copy of it. */
  static isInstance(this: void, value: unknown): value is UxFlowError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[MARKER] === true
    );
  }

  /** A JSON-safe view (code, message, details), without stack or cause. */
  toJSON(): { name: string; code: UxFlowErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}
