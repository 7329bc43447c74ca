import { UxFlowError } from '../core/uxflow-error.js';
import type { EmailProviderError } from './email-provider-error.js';

/**
 * No provider delivered a message. `attempts` holds each provider's error in the order tried;
 * `transient` is true when the last failure may succeed on a later retry.
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (EmailError.isInstance(error)) logger.warn({ attempts: error.attempts.map((a) => a.provider) }, error.message);
 * }
 * ```
 */
export class EmailError extends UxFlowError {
  /** The provider errors, in the order the providers were tried. */
  readonly attempts: readonly EmailProviderError[];
  /** Whether retrying later may succeed. */
  readonly transient: boolean;
  /** The longest retry hint given by a provider, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, attempts: readonly EmailProviderError[]) {
    const last = attempts.at(-1);
    const transient = last?.failure !== 'permanent';
    const hints = attempts.map((attempt) => attempt.retryAfterMs).filter((value): value is number => value !== undefined);
    const retryAfterMs = hints.length > 0 ? Math.max(...hints) : undefined;
    super('ERR_EMAIL', message, {
      cause: last,
      details: { transient, retryAfterMs, attempts: attempts.map((attempt) => attempt.toJSON()) },
    });
    this.attempts = attempts;
    this.transient = transient;
    this.retryAfterMs = retryAfterMs;
  }

  /** True for an {@link EmailError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is EmailError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_EMAIL';
  }
}
