import type { AuthClaims } from './auth-context.js';
import { AuthError, type AuthFailureReason } from './auth-error.js';

/** What {@link validateClaims} checks; the same rules jose's `jwtVerify` applies. */
export interface ClaimRules {
  /** Accepted `iss` values (trailing-slash variants included). */
  issuers: ReadonlySet<string>;
  /** Accepted audiences: the token's `aud` must name at least one. */
  audiences: readonly string[];
  /** Claims that must be present. */
  requiredClaims: readonly string[];
  /** Leeway in seconds. */
  clockToleranceSec: number;
  /** Maximum age from `iat` in seconds; makes `iat` required. */
  maxTokenAgeSec?: number;
}

function fail(reason: AuthFailureReason): never {
  throw new AuthError('invalid_token', reason);
}

function numericDate(claims: AuthClaims, name: 'exp' | 'nbf' | 'iat'): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('claim_invalid');
  return value;
}

/**
 * Checks a verified payload's registered claims like jose's `jwtVerify` does (presence, types,
 * `iss`, `aud`, `nbf`, `exp`, `iat` with a maximum age, all with the clock tolerance), for the
 * static-key fast path. Throws {@link AuthError} `invalid_token` with the matching reason.
 *
 * @example
 * ```ts
 * validateClaims(payload, rules, Math.floor(Date.now() / 1000));
 * ```
 */
export function validateClaims(claims: AuthClaims, rules: ClaimRules, nowSec: number): void {
  for (const name of rules.requiredClaims) if (!Object.hasOwn(claims, name)) fail('claim_missing');
  if (rules.maxTokenAgeSec !== undefined && !Object.hasOwn(claims, 'iat')) fail('claim_missing');
  const { iss, sub, aud } = claims;
  if (iss !== undefined && typeof iss !== 'string') fail('claim_invalid');
  if (sub !== undefined && typeof sub !== 'string') fail('claim_invalid');
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) fail('claim_invalid');
  if (typeof iss !== 'string' || !rules.issuers.has(iss)) fail('issuer_not_allowed');
  if (aud === undefined || !rules.audiences.some((a) => (typeof aud === 'string' ? aud === a : aud.includes(a)))) fail('audience_mismatch');
  const tolerance = rules.clockToleranceSec;
  const iat = numericDate(claims, 'iat');
  const nbf = numericDate(claims, 'nbf');
  const exp = numericDate(claims, 'exp');
  if (nbf !== undefined && nbf > nowSec + tolerance) fail('token_not_yet_valid');
  if (exp !== undefined && exp <= nowSec - tolerance) fail('token_expired');
  if (rules.maxTokenAgeSec !== undefined && iat !== undefined) {
    const age = nowSec - iat;
    if (age - tolerance > rules.maxTokenAgeSec) fail('token_too_old');
    if (age < -tolerance) fail('claim_invalid');
  }
}
