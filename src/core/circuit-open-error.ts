import { UxFlowError } from './uxflow-error.js';

/**
 * A call was refused because its {@link CircuitBreaker} is open (or half-open with all probe
 * slots taken). `retryAfterMs` says when the breaker will next let a probe through.
 *
 * @example
 * ```ts
 * try { await breaker.execute(() => smtp.send(message)); }
 * catch (e) { if (CircuitOpenError.isInstance(e)) await queue.delay(e.retryAfterMs); }
 * ```
 */
export class CircuitOpenError extends UxFlowError {
  /** The breaker's name. */
  readonly breaker: string;
  /** Milliseconds until the breaker lets a probe call through (0 when half-open and busy). */
  readonly retryAfterMs: number;

  constructor(breaker: string, retryAfterMs: number) {
    super('ERR_CIRCUIT_OPEN', `Circuit "${breaker}" is open; retry in ${retryAfterMs} ms`, {
      details: { breaker, retryAfterMs },
    });
    this.breaker = breaker;
    this.retryAfterMs = retryAfterMs;
  }

  /** True for a {@link CircuitOpenError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is CircuitOpenError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_CIRCUIT_OPEN';
  }
}
