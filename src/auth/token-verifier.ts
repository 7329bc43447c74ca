import { createSecretKey, KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  customFetch,
  type CryptoKey,
  type FetchImplementation,
  type JWK,
  type JWTHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import { type Clock, systemClock, ValidationError } from '../core/index.js';
import { NativeSignature } from './native-signature.js';
import { type ClaimRules, validateClaims } from './validate-claims.js';
import { AuthError, type AuthFailureReason } from './auth-error.js';
import type { AuthClaims } from './auth-context.js';

/** Signature algorithms accepted for tokens. `none` is not one of them, by construction. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

const HMAC: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);
const ASYMMETRIC: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);
/** Header parameters that would let a token choose its own key or smuggle extensions (RFC 8725 §3.10). */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit', 'zip', 'b64'] as const;

/** A verification key: PEM (SPKI) text, a JWK, a `KeyObject` or a `CryptoKey`. */
export type VerificationKeyInput = string | JWK | KeyObject | CryptoKey;

/** An HMAC secret: text (its UTF-8 bytes) or bytes, at least 32 bytes (256 bits). */
export type SecretInput = string | Uint8Array;

/**
 * A static key with a key id. A token whose header names this `kid` is checked against this key
 * only; issued tokens carry the `kid` of the key that signed them.
 *
 * @example
 * ```ts
 * const current: KeyWithId<string> = { kid: '2026-05', key: process.env.JWT_SECRET ?? '' };
 * ```
 */
export interface KeyWithId<K> {
  /** The key id (`kid` header), a non-empty string unique within the list. */
  readonly kid: string;
  /** The key itself. */
  readonly key: K;
}

/** One entry of `secret`: a secret, or a secret with its `kid`. */
export type SecretEntry = SecretInput | KeyWithId<SecretInput>;

/** One entry of `publicKey`: a key, or a key with its `kid`. */
export type PublicKeyEntry = VerificationKeyInput | KeyWithId<VerificationKeyInput>;

/** Most static keys (`secret` or `publicKey` entries) one token kind accepts. */
export const MAX_STATIC_KEYS = 10;

/** How a remote JWKS is fetched (jose's `createRemoteJWKSet`). */
export interface JwksOptions {
  /** HTTP timeout per fetch. Default `5_000`. */
  timeoutMs?: number;
  /** After a fetch, how long an unknown `kid` waits before it may trigger another. Default `30_000`. */
  cooldownMs?: number;
  /** Keys are refetched after this age. Default `600_000` (10 min). */
  cacheMaxAgeMs?: number;
  /** A fetch implementation (proxies, tests). Default the global `fetch`. */
  fetch?: FetchImplementation;
  /** Extra request headers. Default none. */
  headers?: Record<string, string>;
}

/** Verification settings of one token kind (user or service). */
export interface TokenKindOptions {
  /** Allowed issuers (`iss`), compared with and without a trailing slash. Required. */
  issuer: string | readonly string[];
  /** Accepted audiences (`aud`); the token must name at least one. Required. */
  audience: string | readonly string[];
  /** Accepted algorithms: all HMAC (with `secret`) or all asymmetric (with `publicKey`/`jwksUri`). Required. */
  algorithms: readonly JwtAlgorithm[];
  /** JWKS URL, one for every issuer, or a map issuer → URL (each issuer must be allowed). */
  jwksUri?: string | Readonly<Record<string, string>>;
  /**
   * Static public key(s) (PEM SPKI, JWK, KeyObject or CryptoKey), each optionally `{ kid, key }`.
   * A list (at most 10) accepts every key in it, for rotation; see `secret` for how one is chosen.
   */
  publicKey?: PublicKeyEntry | readonly PublicKeyEntry[];
  /**
   * HMAC secret(s) of at least 32 bytes (256 bits), each optionally `{ kid, key }`. A list (at
   * most 10) accepts every secret in it, for rotation; the first one signs issued tokens. A token
   * whose `kid` names a listed key is checked against that key only (an unknown `kid` is refused
   * when any key has one); otherwise the keys are tried in order.
   */
  secret?: SecretEntry | readonly SecretEntry[];
  /** Accepted `typ` header values (case-insensitive, `application/` optional). Defaults per kind. */
  typ?: string | readonly string[];
  /** Claims that must be present, in addition to the kind's own (`exp`, `sub`, …). Default none. */
  requiredClaims?: readonly string[];
  /** Remote JWKS settings. */
  jwks?: JwksOptions;
}

/** Internal settings of a {@link TokenVerifier}. */
export interface TokenVerifierOptions extends TokenKindOptions {
  /** `'userTokens'` or `'serviceTokens'`, used in validation messages. */
  field: string;
  /** Default `typ` values when `typ` is not given. */
  defaultTyp: readonly string[];
  /** Claims the kind always requires. */
  kindClaims: readonly string[];
  /** Maximum token age from `iat`, in seconds (service tokens). */
  maxTokenAgeSec?: number;
  /** Leeway for `exp`/`nbf`/`iat`, in seconds. */
  clockToleranceSec: number;
  clock?: Clock;
}

const MIN_SECRET_BYTES = 32;

/** One static key entry, normalised: its material, its `kid` and the option name for messages. */
export interface StaticKeyEntry<K> {
  readonly kid: string | undefined;
  readonly key: K;
  /** E.g. `userTokens.secret[1]`, or `userTokens.secret` for a single value. */
  readonly field: string;
}

/** The keys of one algorithm: all of them in order, and those with a `kid` by kid. */
interface StaticKeySet {
  readonly all: readonly NativeSignature[];
  /** `undefined` when no entry has a `kid`: then a token's `kid` is ignored. */
  readonly byKid: ReadonlyMap<string, NativeSignature> | undefined;
}

function isKeyWithId(value: unknown): value is KeyWithId<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (value instanceof Uint8Array || value instanceof KeyObject) return false;
  if ((value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey') return false;
  // A JWK always has `kty` and never `key`.
  return Object.hasOwn(value, 'key') && !Object.hasOwn(value, 'kty');
}

/**
 * Splits a `secret` / `publicKey` option into its entries (one value, `{ kid, key }`, or a list of
 * either) and checks the list: not empty, at most {@link MAX_STATIC_KEYS}, kids non-empty and
 * unique. Key material is checked by the caller. Throws {@link ValidationError} naming `name`
 * (or `name[i]`, `name[i].kid`).
 *
 * @example
 * ```ts
 * staticKeyEntries(['new-secret…', { kid: 'old', key: 'old-secret…' }], 'userTokens.secret');
 * // [{ kid: undefined, key: 'new-secret…', field: 'userTokens.secret[0]' }, { kid: 'old', … field: 'userTokens.secret[1]' }]
 * ```
 */
export function staticKeyEntries<K>(value: K | KeyWithId<K> | readonly (K | KeyWithId<K>)[], name: string): StaticKeyEntry<K>[] {
  const listed = Array.isArray(value);
  const items = (listed ? value : [value]) as readonly (K | KeyWithId<K>)[];
  if (items.length === 0) throw new ValidationError(name, 'must list at least one key');
  if (items.length > MAX_STATIC_KEYS) throw new ValidationError(name, `must list at most ${MAX_STATIC_KEYS} keys (got ${items.length})`);
  const seen = new Set<string>();
  return items.map((item, index) => {
    const field = listed ? `${name}[${index}]` : name;
    if (!isKeyWithId(item)) return { kid: undefined, key: item, field };
    const { kid } = item;
    if (typeof kid !== 'string' || kid === '') throw new ValidationError(`${field}.kid`, 'must be a non-empty string');
    if (seen.has(kid)) throw new ValidationError(`${field}.kid`, `repeats the kid "${kid}" of an earlier key`);
    seen.add(kid);
    return { kid, key: item.key, field };
  });
}

/** The bytes of a secret entry, at least {@link MIN_SECRET_BYTES} long; throws naming `field`. */
export function secretBytes(secret: unknown, field: string): Uint8Array {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < MIN_SECRET_BYTES) {
    throw new ValidationError(field, `must be at least ${MIN_SECRET_BYTES} bytes (256 bits)`);
  }
  return bytes;
}

/** Normalises a `typ` value as RFC 7515 §4.1.9 allows: lower case, `application/` prefix dropped. */
export function normaliseTyp(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function withSlashVariants(issuers: readonly string[]): string[] {
  const out = new Set<string>();
  for (const issuer of issuers) {
    const bare = issuer.replace(/\/+$/, '');
    out.add(bare);
    out.add(`${bare}/`);
  }
  return [...out];
}

/**
 * Verifies one kind of token (user or service) with RFC 8725 defaults: pinned algorithms, no key
 * from the token itself (`jku`, `x5u`, `jwk`, `x5c` refused), no `crit`, issuer allowlist, audience,
 * required claims, clock tolerance, and keys imported once. Static keys (up to 10, for rotation;
 * a token's `kid` picks one when the keys have kids, else they are tried in order) are imported at
 * construction; JWKS keys come from jose's `createRemoteJWKSet` (timeout, cooldown, max age,
 * refetch on unknown `kid`). Signatures are checked with `node:crypto` (`NativeSignature`)
 * and claims with jose's rules (`validateClaims`). Used by `UnifiedAuthMiddleware`.
 *
 * @example
 * ```ts
 * const verifier = new TokenVerifier({ field: 'userTokens', issuer: 'https://id.example.com/',
 *   audience: 'flow-api', algorithms: ['RS256'], jwksUri: 'https://id.example.com/.well-known/jwks.json',
 *   defaultTyp: ['jwt', 'at+jwt'], kindClaims: ['exp', 'sub'], clockToleranceSec: 5 });
 * const claims = await verifier.verify(token, header);
 * ```
 */
export class TokenVerifier {
  readonly algorithms: ReadonlySet<string>;
  readonly typ: ReadonlySet<string>;
  readonly issuers: readonly string[];
  readonly audiences: readonly string[];
  readonly symmetric: boolean;
  /** The option name, for messages. */
  readonly field: string;
  private readonly clock: Clock;
  private readonly issuerJwks: Map<string, JWTVerifyGetKey> | undefined;
  private readonly sharedKeyResolver: JWTVerifyGetKey | undefined;
  /** Static keys (secrets or public keys), imported once per algorithm, verified natively. */
  private readonly staticKeys: Map<string, StaticKeySet> | undefined;
  private readonly claimRules: ClaimRules;

  constructor(options: TokenVerifierOptions) {
    const { field } = options;
    const issuers = list(options.issuer);
    const audiences = list(options.audience);
    if (issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')) {
      throw new ValidationError(`${field}.issuer`, 'must be a non-empty string or a list of them');
    }
    if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
      throw new ValidationError(`${field}.audience`, 'must be a non-empty string or a list of them');
    }
    const algorithms = list(options.algorithms);
    if (algorithms.length === 0) throw new ValidationError(`${field}.algorithms`, 'must list at least one algorithm');
    for (const alg of algorithms) {
      if (!HMAC.has(alg) && !ASYMMETRIC.has(alg)) throw new ValidationError(`${field}.algorithms`, `contains unsupported algorithm "${alg}"`);
    }
    const symmetric = algorithms.every((alg) => HMAC.has(alg));
    if (!symmetric && algorithms.some((alg) => HMAC.has(alg))) {
      throw new ValidationError(`${field}.algorithms`, 'must not mix HMAC (HS*) and asymmetric algorithms');
    }
    const sources = [options.secret, options.publicKey, options.jwksUri].filter((s) => s !== undefined).length;
    if (sources !== 1) throw new ValidationError(field, 'needs exactly one of "secret", "publicKey" or "jwksUri"');
    if (symmetric !== (options.secret !== undefined)) {
      throw new ValidationError(`${field}.algorithms`, symmetric ? 'HS* algorithms need "secret"' : 'a "secret" needs HS* algorithms');
    }
    this.algorithms = new Set(algorithms);
    this.typ = new Set((options.typ === undefined ? options.defaultTyp : list(options.typ)).map(normaliseTyp));
    this.issuers = issuers;
    this.audiences = audiences;
    this.field = field;
    this.symmetric = symmetric;
    this.clock = options.clock ?? systemClock;
    if (!Number.isFinite(options.clockToleranceSec) || options.clockToleranceSec < 0) {
      throw new ValidationError('clockToleranceSec', 'must be a non-negative number');
    }
    const maxTokenAgeSec = options.maxTokenAgeSec;
    if (maxTokenAgeSec !== undefined && (!Number.isSafeInteger(maxTokenAgeSec) || maxTokenAgeSec < 1)) {
      throw new ValidationError(`${field}.maxTokenAgeSec`, 'must be a positive integer');
    }
    this.claimRules = {
      issuers: new Set(withSlashVariants(issuers)),
      audiences: [...audiences],
      requiredClaims: [...new Set([...options.kindClaims, ...list(options.requiredClaims)])],
      clockToleranceSec: options.clockToleranceSec,
      ...(maxTokenAgeSec === undefined ? {} : { maxTokenAgeSec }),
    };
    if (options.secret !== undefined) {
      const entries = staticKeyEntries<SecretInput>(options.secret, `${field}.secret`).map((entry) => ({
        ...entry,
        key: createSecretKey(secretBytes(entry.key, entry.field)),
      }));
      this.staticKeys = keySets(algorithms, entries);
    } else if (options.publicKey !== undefined) {
      this.staticKeys = keySets(algorithms, staticKeyEntries<VerificationKeyInput>(options.publicKey, `${field}.publicKey`));
    } else if (options.jwksUri !== undefined) {
      const jwks = options.jwks ?? {};
      const remoteOptions = {
        timeoutDuration: checkMs(jwks.timeoutMs, 5_000, `${field}.jwks.timeoutMs`),
        cooldownDuration: checkMs(jwks.cooldownMs, 30_000, `${field}.jwks.cooldownMs`),
        cacheMaxAge: checkMs(jwks.cacheMaxAgeMs, 600_000, `${field}.jwks.cacheMaxAgeMs`),
        ...(jwks.headers === undefined ? {} : { headers: jwks.headers }),
        ...(jwks.fetch === undefined ? {} : { [customFetch]: jwks.fetch }),
      };
      const remote = (uri: string, name: string): JWTVerifyGetKey => {
        let url: URL;
        try {
          url = new URL(uri);
        } catch (cause) {
          throw new ValidationError(name, 'must be an absolute URL', { cause });
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(name, 'must use http or https');
        return guardJwks(createRemoteJWKSet(url, remoteOptions));
      };
      if (typeof options.jwksUri === 'string') {
        this.sharedKeyResolver = remote(options.jwksUri, `${field}.jwksUri`);
      } else {
        this.issuerJwks = new Map();
        const allowed = new Set(withSlashVariants(issuers));
        for (const [issuer, uri] of Object.entries(options.jwksUri)) {
          if (!allowed.has(issuer)) throw new ValidationError(`${field}.jwksUri`, `names issuer "${issuer}" that is not in "${field}.issuer"`);
          const resolver = remote(uri, `${field}.jwksUri`);
          for (const variant of withSlashVariants([issuer])) this.issuerJwks.set(variant, resolver);
        }
        if (this.issuerJwks.size === 0) throw new ValidationError(`${field}.jwksUri`, 'must map at least one issuer');
      }
    }
  }

  /** Whether any static key has a `kid` (then a token's `kid` selects the key). */
  get hasKeyIds(): boolean {
    for (const set of this.staticKeys?.values() ?? []) if (set.byKid !== undefined) return true;
    return false;
  }

  /** The `kid` of the static key equal to `publicKey`, if one has a kid. */
  keyIdOf(publicKey: KeyObject): string | undefined {
    for (const set of this.staticKeys?.values() ?? []) {
      for (const [kid, native] of set.byKid ?? []) if (native.matches(publicKey)) return kid;
    }
    return undefined;
  }

  /** Resolves when keys are usable. Static keys are imported at construction; kept for symmetry. */
  async ready(): Promise<void> {
    await Promise.resolve();
  }

  /**
   * Verifies `token` whose protected header was already parsed (and its `typ` routed here).
   * Throws {@link AuthError} (`invalid_token`, or `temporarily_unavailable` when keys cannot be fetched).
   */
  async verify(token: string, header: Readonly<Record<string, unknown>>, payloadSegment: string): Promise<AuthClaims> {
    const alg = header['alg'];
    if (typeof alg !== 'string' || !this.algorithms.has(alg)) throw invalid('algorithm_not_allowed');
    for (const name of FORBIDDEN_HEADERS) if (header[name] !== undefined) throw invalid('header_not_allowed');
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') throw invalid('token_malformed');
    const lastDot = token.lastIndexOf('.');
    const signature = token.slice(lastDot + 1);
    if (!/^[A-Za-z0-9_-]*$/.test(signature)) throw invalid('token_malformed');
    const signatureBytes = Buffer.from(signature, 'base64url');
    const signingInput = Buffer.from(token.slice(0, lastDot), 'latin1');

    let candidates: readonly NativeSignature[];
    if (this.staticKeys !== undefined) {
      const set = this.staticKeys.get(alg);
      if (set === undefined) throw invalid('key_not_found');
      if (kid !== undefined && set.byKid !== undefined) {
        // Only the named key; an unknown kid gets the answer a wrong key gets (no key enumeration).
        const named = set.byKid.get(kid);
        if (named === undefined) throw invalid('signature_invalid');
        candidates = [named];
      } else {
        candidates = set.all;
      }
    } else {
      let resolver: JWTVerifyGetKey | undefined = this.sharedKeyResolver;
      if (resolver === undefined) {
        // Pick the JWKS by the (still unverified) issuer; only allowlisted issuers have one.
        const iss = decodeSegment(payloadSegment)['iss'];
        resolver = typeof iss === 'string' ? this.issuerJwks?.get(iss) : undefined;
        if (resolver === undefined) throw invalid('issuer_not_allowed');
      }
      const key = await resolver(header as unknown as JWTHeaderParameters, {
        protected: token.slice(0, token.indexOf('.')),
        payload: payloadSegment,
        signature: token.slice(token.lastIndexOf('.') + 1),
      });
      const native = nativeFor(key as CryptoKey, alg);
      if (native === undefined) throw invalid('key_not_found');
      candidates = [native];
    }
    // Keys in order, the first that verifies wins (one key: one check, as before rotation).
    let verified = false;
    for (const native of candidates) {
      const valid = native.verify(signingInput, signatureBytes);
      if (valid === true || (valid !== false && (await valid))) {
        verified = true;
        break;
      }
    }
    if (!verified) throw invalid('signature_invalid');
    const claims = decodeSegment(payloadSegment) as AuthClaims;
    validateClaims(claims, this.claimRules, Math.floor(this.clock.now() / 1000));
    return claims;
  }
}

/** Imports every entry for every algorithm (each checked as a single key would be). */
function keySets<K extends SecretInput | VerificationKeyInput | KeyObject>(
  algorithms: readonly string[],
  entries: readonly StaticKeyEntry<K>[],
): Map<string, StaticKeySet> {
  const withKid = entries.some((entry) => entry.kid !== undefined);
  return new Map(
    algorithms.map((alg) => {
      const all: NativeSignature[] = [];
      const byKid = withKid ? new Map<string, NativeSignature>() : undefined;
      for (const entry of entries) {
        const native = NativeSignature.create(alg, entry.key, entry.field);
        all.push(native);
        if (entry.kid !== undefined) byKid?.set(entry.kid, native);
      }
      return [alg, { all, byKid }];
    }),
  );
}

function checkMs(value: number | undefined, fallback: number, name: string): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms < 0) throw new ValidationError(name, 'must be a non-negative number of milliseconds');
  return ms;
}

function invalid(reason: AuthFailureReason, cause?: unknown): AuthError {
  return new AuthError('invalid_token', reason, cause === undefined ? {} : { cause });
}

/** JWKS failures other than "no such key" mean keys are unavailable: 503, not the client's fault. */
function guardJwks(jwks: ReturnType<typeof createRemoteJWKSet>): JWTVerifyGetKey {
  return async (header: JWTHeaderParameters, input) => {
    try {
      return await jwks(header, input);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw invalid('key_not_found', error);
      throw new AuthError('temporarily_unavailable', 'keys_unavailable', { cause: error, retryAfterMs: 5_000 });
    }
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes a base64url JSON segment strictly (alphabet, UTF-8, object); throws `token_malformed`. */
export function decodeSegment(segment: string): Record<string, unknown> {
  if (!BASE64URL.test(segment)) throw invalid('token_malformed');
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
  } catch (cause) {
    throw invalid('token_malformed', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('token_malformed');
  return value as Record<string, unknown>;
}

const jwksNatives = new WeakMap<object, Map<string, NativeSignature | undefined>>();

/** The native verifier of a JWKS key for `alg`, made once per key object; `undefined` if it does not fit. */
function nativeFor(key: CryptoKey, alg: string): NativeSignature | undefined {
  let perAlg = jwksNatives.get(key);
  if (perAlg === undefined) {
    perAlg = new Map();
    jwksNatives.set(key, perAlg);
  }
  if (!perAlg.has(alg)) {
    let native: NativeSignature | undefined;
    try {
      native = NativeSignature.create(alg, key, 'jwks');
    } catch {
      native = undefined;
    }
    perAlg.set(alg, native);
  }
  return perAlg.get(alg);
}
