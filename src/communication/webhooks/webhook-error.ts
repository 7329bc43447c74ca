import { UxFlowError } from '../../core/uxflow-error.js';

/**
 * A provider webhook was refused: bad or missing signature, outside the replay window, an
 * unexpected topic or certificate host, or a malformed body. `status` is the HTTP status to answer.
 *
 * @example
 * ```ts
 * catch (error) { if (WebhookError.isInstance(error)) res.status(error.status).end(); }
 * ```
 */
export class WebhookError extends UxFlowError {
  /** HTTP status to answer: 400 (malformed) or 401 (authentication failed). */
  readonly status: 400 | 401;
  /** The provider whose webhook was refused. */
  readonly provider: string;

  constructor(provider: string, status: 400 | 401, message: string, cause?: unknown) {
    super(status === 401 ? 'ERR_UNAUTHENTICATED' : 'ERR_INVALID_REQUEST', `${provider} webhook: ${message}`, {
      cause,
      details: { provider, status },
    });
    this.status = status;
    this.provider = provider;
  }

  /** True for a {@link WebhookError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is WebhookError {
    return UxFlowError.isInstance(value) && 'status' in value && 'provider' in value && (value.code === 'ERR_UNAUTHENTICATED' || value.code === 'ERR_INVALID_REQUEST');
  }
}
