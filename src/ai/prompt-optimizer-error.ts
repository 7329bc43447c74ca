import { UxFlowError, type UxFlowErrorOptions } from '../core/uxflow-error.js';

/**
 * A prompt-optimizer operation refers to something that does not exist or is in the wrong state:
 * an unknown template, version, label, variation or experiment, or a stale selection.
 *
 * @example
 * ```ts
 * try { await optimizer.promote('summarize', 'v-unknown'); }
 * catch (e) { if (PromptOptimizerError.isInstance(e)) console.log(e.message); }
 * ```
 */
export class PromptOptimizerError extends UxFlowError {
  constructor(message: string, options: UxFlowErrorOptions = {}) {
    super('ERR_AI', message, options);
  }

  /** True for a {@link PromptOptimizerError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is PromptOptimizerError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_AI';
  }
}
