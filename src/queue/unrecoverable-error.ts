import { UxFlowError, type UxFlowErrorOptions } from '../core/uxflow-error.js';

/**
 * Thrown by a processor to fail its job at once, without the remaining attempts (a malformed
 * payload, a permanently rejected address). The job goes to the dead-letter list.
 *
 * @example
 * ```ts
 * queue.registerProcessor('email_send', async (data: { to?: string }) => {
 *   if (!data.to) throw new UnrecoverableError('no recipient');
 *   await send(data);
 * });
 * ```
 */
export class UnrecoverableError extends UxFlowError {
  constructor(message: string, options: UxFlowErrorOptions = {}) {
    super('ERR_JOB_UNRECOVERABLE', message, options);
  }

  /** True for an {@link UnrecoverableError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is UnrecoverableError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_JOB_UNRECOVERABLE';
  }
}
