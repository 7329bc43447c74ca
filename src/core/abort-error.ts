import { UxFlowError } from './uxflow-error.js';

/**
 * An operation was cancelled through its `AbortSignal`. The signal's `reason` is the `cause`.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const pending = retry(() => fetchThing(), { signal: controller.signal });
 * controller.abort();
 * await pending; // rejects with AbortError
 * ```
 */
export class AbortError extends UxFlowError {
  constructor(message = 'The operation was aborted', reason?: unknown) {
    super('ERR_ABORTED', message, { cause: reason });
  }

  /** True for an {@link AbortError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is AbortError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_ABORTED';
  }
}
