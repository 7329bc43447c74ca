import { UxFlowError, type UxFlowErrorCode, type UxFlowErrorOptions } from '../core/index.js';

/**
 * The `error` value of an auth failure: the three RFC 6750 codes, plus `temporarily_unavailable`
 * (keys could not be fetched; 503) and `too_many_requests` (brute-force guard; 429). `undefined`
 * when no credentials were sent (RFC 6750 §3.1: no error code in that case).
 */
export type AuthErrorType =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  | 'too_many_requests';

/**
 * Stable, machine-readable reason of an auth failure, sent as `code` in the JSON body. Part of
 * the public API: clients may branch on it (e.g. refresh on `token_expired`).
 */
export type AuthFailureReason =
  | 'credentials_missing'
  | 'malformed_authorization'
  | 'multiple_token_locations'
  | 'token_too_large'
  | 'token_malformed'
  | 'token_encrypted'
  | 'algorithm_not_allowed'
  | 'header_not_allowed'
  | 'type_not_allowed'
  | 'key_not_found'
  | 'signature_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_too_old'
  | 'claim_missing'
  | 'claim_invalid'
  | 'issuer_not_allowed'
  | 'audience_mismatch'
  | 'token_revoked'
  | 'user_not_found'
  | 'user_disabled'
  | 'wrong_token_kind'
  | 'role_required'
  | 'permission_required'
  | 'workspace_required'
  | 'workspace_denied'
  | 'email_not_verified'
  | 'service_not_allowed'
  | 'keys_unavailable'
  | 'too_many_failures';

const STATUS: Record<AuthErrorType | 'missing', number> = {
  missing: 401,
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  too_many_requests: 429,
};

const CODES: Record<AuthErrorType | 'missing', UxFlowErrorCode> = {
  missing: 'ERR_UNAUTHENTICATED',
  invalid_request: 'ERR_INVALID_REQUEST',
  invalid_token: 'ERR_INVALID_TOKEN',
  insufficient_scope: 'ERR_FORBIDDEN',
  temporarily_unavailable: 'ERR_PROVIDER',
  too_many_requests: 'ERR_RATE_LIMITED',
};

/** Fixed, log-safe descriptions: never a claim value, key or token fragment. */
const DESCRIPTIONS: Record<AuthFailureReason, string> = {
  credentials_missing: 'Authentication required',
  malformed_authorization: 'The Authorization header is not a valid Bearer credential',
  multiple_token_locations: 'The token was sent in more than one location',
  token_too_large: 'The token is too large',
  token_malformed: 'The token is malformed',
  token_encrypted: 'Encrypted tokens are not accepted',
  algorithm_not_allowed: 'The token algorithm is not allowed',
  header_not_allowed: 'The token header contains a parameter that is not allowed',
  type_not_allowed: 'The token type is not allowed',
  key_not_found: 'No key matches the token',
  signature_invalid: 'The token signature is invalid',
  token_expired: 'The token has expired',
  token_not_yet_valid: 'The token is not yet valid',
  token_too_old: 'The token is too old',
  claim_missing: 'The token lacks a required claim',
  claim_invalid: 'A token claim is invalid',
  issuer_not_allowed: 'The token issuer is not allowed',
  audience_mismatch: 'The token audience is not accepted',
  token_revoked: 'The token has been revoked',
  user_not_found: 'The token subject is unknown',
  user_disabled: 'The account is disabled',
  wrong_token_kind: 'This kind of token is not accepted here',
  role_required: 'A higher role is required',
  permission_required: 'A permission is missing',
  workspace_required: 'A workspace id is required',
  workspace_denied: 'No access to this workspace',
  email_not_verified: 'The email address is not verified',
  service_not_allowed: 'This service is not allowed here',
  keys_unavailable: 'Token keys are temporarily unavailable',
  too_many_failures: 'Too many failed authentication attempts',
};

const MARKER = Symbol.for('@ux-flow/common.auth-error');

/** Options of {@link AuthError}. */
export interface AuthErrorOptions extends UxFlowErrorOptions {
  /** For `insufficient_scope`: the scope that would have been enough (RFC 6750 `scope`). */
  scope?: string;
  /** For 429 and 503: when to retry, in ms (sent as `Retry-After`, rounded up to seconds). */
  retryAfterMs?: number;
}

/** The HTTP answer an {@link AuthError} maps to. */
export interface AuthErrorResponse {
  /** 400, 401, 403, 429 or 503. */
  status: number;
  /** `WWW-Authenticate` and, for 429/503, `Retry-After`; `Cache-Control: no-store` always. */
  headers: Record<string, string>;
  /** JSON body: `{ error, code, message }` (`error` omitted when no credentials were sent). */
  body: { error?: AuthErrorType; code: AuthFailureReason; message: string };
}

/**
 * An authentication or authorization failure, carrying its RFC 6750 `error`, HTTP `status` and a
 * stable `reason`. Middleware turns it into a response with {@link AuthError.toResponse}; with
 * `onError: 'next'` it is passed to the framework's error handler instead.
 *
 * Codes: `ERR_UNAUTHENTICATED` (no credentials), `ERR_INVALID_REQUEST`, `ERR_INVALID_TOKEN`,
 * `ERR_FORBIDDEN` (insufficient scope), `ERR_RATE_LIMITED` (brute-force guard), `ERR_PROVIDER`
 * (JWKS unreachable).
 *
 * @example
 * ```ts
 * try {
 *   const auth = await middleware.authenticate(request);
 * } catch (error) {
 *   if (AuthError.isInstance(error) && error.reason === 'token_expired') return refresh();
 *   throw error;
 * }
 * ```
 */
export class AuthError extends UxFlowError {
  /** HTTP status: 400, 401, 403, 429 or 503. */
  readonly status: number;
  /** RFC 6750 `error`; `undefined` when no credentials were sent. */
  readonly error: AuthErrorType | undefined;
  /** Stable reason, sent as `code` in the JSON body. */
  readonly reason: AuthFailureReason;
  /** For `insufficient_scope`: the scope that would have been enough. */
  readonly scope: string | undefined;
  /** For 429 and 503: ms until a retry makes sense. */
  readonly retryAfterMs: number | undefined;
  private readonly [MARKER] = true;

  /**
   * @param error - the RFC 6750 error, or `undefined` for missing credentials.
   * @param reason - the stable reason; its fixed description becomes the message.
   */
  constructor(error: AuthErrorType | undefined, reason: AuthFailureReason, options: AuthErrorOptions = {}) {
    const kind = error ?? 'missing';
    super(CODES[kind], DESCRIPTIONS[reason], {
      cause: options.cause,
      details: { error, reason, ...options.details },
    });
    this.status = STATUS[kind];
    this.error = error;
    this.reason = reason;
    this.scope = options.scope;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** True for an {@link AuthError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is AuthError {
    return UxFlowError.isInstance(value) && (value as unknown as Record<symbol, unknown>)[MARKER] === true;
  }

  /**
   * The RFC 6750 response: status, `WWW-Authenticate` (with `error`, `error_description` and
   * `scope` where they apply), `Retry-After` for 429/503, and a JSON body without stack or values.
   *
   * @param realm - the protection space named in `WWW-Authenticate`. Default `'api'`.
   * @example
   * ```ts
   * const { status, headers, body } = error.toResponse('flow-api');
   * ```
   */
  toResponse(realm = 'api'): AuthErrorResponse {
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    const params = [`realm="${quote(realm)}"`];
    if (this.error !== undefined && this.error !== 'too_many_requests' && this.error !== 'temporarily_unavailable') {
      params.push(`error="${this.error}"`, `error_description="${quote(this.message)}"`);
      if (this.scope !== undefined) params.push(`scope="${quote(this.scope)}"`);
    }
    if (this.status !== 503 && this.status !== 429) headers['www-authenticate'] = `Bearer ${params.join(', ')}`;
    if (this.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(this.retryAfterMs / 1000)));
    const body: AuthErrorResponse['body'] = { code: this.reason, message: this.message };
    if (this.error !== undefined) body.error = this.error;
    return { status: this.status, headers, body };
  }
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '');
}
