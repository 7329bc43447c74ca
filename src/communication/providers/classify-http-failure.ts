import { EmailProviderError } from '../email-provider-error.js';

/**
 * Parses `Retry-After` (seconds or an HTTP date) into ms, or `undefined`.
 *
 * @example
 * ```ts
 * parseRetryAfter('30', Date.now()); // 30000
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Turns a non-2xx HTTP answer into an {@link EmailProviderError}: 408, 425, 429 and 5xx are
 * transient (with the `Retry-After` hint); everything else (400, 401, 403, 404, 413, 422, …) is
 * permanent.
 *
 * @example
 * ```ts
 * if (!response.ok) throw await httpFailure('sendgrid', response, Date.now());
 * ```
 */
export async function httpFailure(provider: string, response: Response, nowMs: number): Promise<EmailProviderError> {
  const status = response.status;
  let detail = '';
  try {
    detail = (await response.text()).slice(0, 300);
  } catch {
    // The body is only for the message.
  }
  const transient = status === 408 || status === 425 || status === 429 || status >= 500;
  return new EmailProviderError(provider, transient ? 'transient' : 'permanent', `HTTP ${status}${detail === '' ? '' : `: ${detail}`}`, {
    rawCode: status,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), nowMs),
  });
}

/** Wraps a network failure or timeout of an HTTP provider as a transient error. */
export function networkFailure(provider: string, error: unknown): EmailProviderError {
  const code = typeof error === 'object' && error !== null && 'name' in error ? String((error).name) : 'NetworkError';
  return new EmailProviderError(provider, 'transient', `request failed: ${error instanceof Error ? error.message : String(error)}`, {
    rawCode: code,
    cause: error,
  });
}
