import { UxFlowError } from '../core/uxflow-error.js';

/** Whether a failed send may succeed later (`transient`) or never will (`permanent`). */
export type EmailFailureClass = 'transient' | 'permanent';

/** Options of {@link EmailProviderError}. */
export interface EmailProviderErrorOptions {
  /** The provider's own code: an SMTP reply code, an HTTP status or an error code string. */
  rawCode?: string | number;
  /** When the provider said when to retry (HTTP `Retry-After`), in ms. */
  retryAfterMs?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * One provider failed to accept a message. `failure` says whether failover and retries make
 * sense: SMTP 4xx, HTTP 429/5xx, timeouts and dropped connections are `transient`; SMTP 5xx and
 * HTTP 400/401/403/422 are `permanent`.
 *
 * @example
 * ```ts
 * try { await email.send(message); } catch (error) {
 *   if (EmailProviderError.isInstance(error) && error.failure === 'permanent') markInvalid(error.rawCode);
 * }
 * ```
 */
export class EmailProviderError extends UxFlowError {
  /** The provider that failed (`smtp`, `sendgrid`, `ses`, `mailgun`, `dev` or a custom name). */
  readonly provider: string;
  /** Transient (retry, fail over) or permanent (do not). */
  readonly failure: EmailFailureClass;
  /** The provider's own code, when it gave one. */
  readonly rawCode: string | number | undefined;
  /** The provider's retry hint in ms, when it gave one (honoured by the core `retry`). */
  readonly retryAfterMs: number | undefined;

  constructor(provider: string, failure: EmailFailureClass, message: string, options: EmailProviderErrorOptions = {}) {
    super('ERR_PROVIDER', `${provider}: ${message}`, {
      cause: options.cause,
      details: { provider, failure, rawCode: options.rawCode, retryAfterMs: options.retryAfterMs },
    });
    this.provider = provider;
    this.failure = failure;
    this.rawCode = options.rawCode;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** True for a failure worth retrying or failing over. */
  get transient(): boolean {
    return this.failure === 'transient';
  }

  /** True for an {@link EmailProviderError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is EmailProviderError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_PROVIDER' && 'failure' in value && 'provider' in value;
  }
}
