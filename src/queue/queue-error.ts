import { UxFlowError, type UxFlowErrorOptions } from '../core/uxflow-error.js';

/**
 * A queue operation failed: a job that cannot be found or changed in its current state, or a
 * queue that is closed. `details.jobId` names the job when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await queue.retryJob('42');
 * } catch (error) {
 *   if (QueueError.isInstance(error)) logger.warn({ jobId: error.details['jobId'] }, error.message);
 * }
 * ```
 */
export class QueueError extends UxFlowError {
  constructor(message: string, options: UxFlowErrorOptions = {}) {
    super('ERR_QUEUE', message, options);
  }

  /** True for a {@link QueueError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is QueueError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_QUEUE';
  }
}
