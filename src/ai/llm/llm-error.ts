import { UxFlowError, type UxFlowErrorOptions } from '../../core/uxflow-error.js';

/**
 * A model provider refused or failed a call. `status` is the HTTP status (0 for network errors
 * and timeouts); `transient` says whether retrying may help (429, 5xx, network, timeout).
 *
 * @example
 * ```ts
 * try { await llm.complete(request); }
 * catch (e) { if (LlmError.isInstance(e) && e.status === 401) alertOps('bad API key'); }
 * ```
 */
export class LlmError extends UxFlowError {
  readonly provider: string;
  readonly status: number;
  readonly transient: boolean;
  /** Wait the provider asked for (Retry-After), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: string,
    message: string,
    info: { status: number; transient: boolean; retryAfterMs?: number; type?: string },
    options: UxFlowErrorOptions = {},
  ) {
    super('ERR_LLM', `${provider}: ${message}`, {
      ...options,
      details: { provider, status: info.status, ...(info.type === undefined ? {} : { type: info.type }), ...options.details },
    });
    this.provider = provider;
    this.status = info.status;
    this.transient = info.transient;
    this.retryAfterMs = info.retryAfterMs;
  }

  /** True for an {@link LlmError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is LlmError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_LLM';
  }
}
