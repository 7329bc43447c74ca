import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, KeyObject, randomUUID } from 'node:crypto';
import { importJWK, importPKCS8, type CryptoKey, type JWK, SignJWT } from 'jose';
import {
  type Clock,
  createSilentLogger,
  type Logger,
  MemoryRateLimiter,
  once,
  type RateLimiter,
  type RedisClient,
  RedisRateLimiter,
  systemClock,
  ValidationError,
} from '../core/index.js';
import type {
  AuthClaims,
  AuthContext,
  AuthMiddlewareHandler,
  AuthRequest,
  AuthResponse,
  AuthUser,
  UserService,
  WorkspaceMembership,
} from './auth-context.js';
import { AuthError } from './auth-error.js';
import type { AuthRequirement, WorkspaceAccessOptions } from './auth-requirement.js';
import { DEFAULT_ROLES, permissionMatches, RoleHierarchy, type RoleDefinitions } from './role-hierarchy.js';
import {
  decodeSegment,
  normaliseTyp,
  secretBytes,
  type SecretInput,
  staticKeyEntries,
  type TokenKindOptions,
  TokenVerifier,
} from './token-verifier.js';
import { VerifiedTokenCache, type VerifiedTokenCacheOptions } from './verified-token-cache.js';

/** A signing key: PEM (PKCS#8) text, a JWK, a `KeyObject` or a `CryptoKey`. */
export type SigningKeyInput = string | JWK | KeyObject | CryptoKey;

/** User-token settings: verification, plus an optional signing key for `issueUserToken`. */
export interface UserTokenOptions extends TokenKindOptions {
  /** Private key for the dev-only `issueUserToken` (asymmetric algorithms). Default none. */
  privateKey?: SigningKeyInput;
  /** `kid` put in issued tokens. Default the `kid` of the first `secret`, or of the `publicKey` entry paired with `privateKey`; else none. */
  keyId?: string;
}

/** Service-token settings: verification, and this service's identity and key for issuing. */
export interface ServiceTokenOptions extends TokenKindOptions {
  /** Oldest accepted token, from its `iat`, in seconds. Default `300`. */
  maxTokenAgeSec?: number;
  /** This service's name: the `sub` of tokens it issues. Needed for `issueServiceToken`. */
  serviceName?: string;
  /** Private key for `issueServiceToken` with asymmetric algorithms. Default none. */
  privateKey?: SigningKeyInput;
  /** `kid` put in issued tokens. Default the `kid` of the first `secret`, or of the `publicKey` entry paired with `privateKey`; else none. */
  keyId?: string;
}

/** Where tokens are read from. Sending one in two places is `invalid_request`. */
export interface TokenLocations {
  /** `Authorization: Bearer <token>`. Default `true`. */
  header?: boolean;
  /** Name of a cookie holding the token. Default none (cookies are opt-in). */
  cookie?: string;
}

/** Brute-force guard: failed authentications per client IP, through the core rate limiter. */
export interface BruteForceOptions {
  /** Failures allowed per window and IP. Default `20`. */
  limit?: number;
  /** Window length. Default `60_000`. */
  windowMs?: number;
  /** Share counts across instances with a `RedisRateLimiter` on this client. Default in memory. */
  redis?: RedisClient;
  /** Key prefix of the Redis limiter. Default `'uxflow'`. */
  prefix?: string;
  /** Or any limiter (takes precedence over `redis`). */
  limiter?: RateLimiter;
}

/** Claim names read for authorization data. */
export interface ClaimNames {
  /** Default `'roles'`. */
  roles?: string;
  /** Default `'permissions'` (the space-separated `scope` claim is always added). */
  permissions?: string;
  /** Default `'workspaces'`: a list of ids or `{ id, roles }`, or a map id → roles. */
  workspaces?: string;
  /** Default `'email_verified'`. */
  emailVerified?: string;
}

/** Options of {@link UnifiedAuthMiddleware}. At least one of `userTokens`/`serviceTokens`. */
export interface UnifiedAuthMiddlewareOptions {
  /** User tokens. Default `typ`: `JWT` or `at+jwt`; `exp` and `sub` required. */
  userTokens?: UserTokenOptions;
  /** Service tokens. Default `typ`: `service+jwt`; `exp`, `iat`, `jti`, `sub` required. */
  serviceTokens?: ServiceTokenOptions;
  /** Loads users (roles, permissions, workspaces, status). Default: the token's claims only. */
  userService?: UserService;
  /** Role hierarchy. Default `user` ⊂ `admin` ⊂ `super_admin`. */
  roles?: RoleDefinitions;
  /** Leeway for `exp`/`nbf`/`iat`, in seconds. Default `5`. */
  clockToleranceSec?: number;
  /** Called on every authenticated request, cached or not; `true` refuses the token. */
  isRevoked?: (claims: Readonly<AuthClaims>, kind: 'user' | 'service') => boolean | Promise<boolean>;
  /** Where tokens are read from. Default the Authorization header only. */
  tokenLocations?: TokenLocations;
  /** Verified-token cache; `false` turns it off. Default 10,000 entries, 5 min at most. */
  cache?: false | Omit<VerifiedTokenCacheOptions, 'clock'>;
  /** Largest accepted token, checked before any parsing. Default `8192` bytes. */
  maxTokenBytes?: number;
  /** `realm` in `WWW-Authenticate`. Default `'api'`. */
  realm?: string;
  /** Brute-force guard; `false` turns it off. Default 20 failures per minute per IP, in memory. */
  bruteForce?: false | BruteForceOptions;
  /** Claim names for roles, permissions, workspaces and email verification. */
  claims?: ClaimNames;
  /** `'respond'` writes the RFC 6750 answer; `'next'` passes the {@link AuthError} on. Default `'respond'`. */
  onError?: 'respond' | 'next';
  /** Default a silent logger. */
  logger?: Logger;
  /** Default the system clock. */
  clock?: Clock;
  /** Environment read by `issueUserToken`'s production check. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Input of {@link UnifiedAuthMiddleware.issueServiceToken}. */
export interface IssueServiceTokenOptions {
  /** The receiving service(s) (`aud`). */
  audience: string | readonly string[];
  /** Scopes granted (`scope`, space-separated). Default none. */
  scopes?: readonly string[];
  /** Lifetime in seconds. Default `60`; at most `maxTokenAgeSec`. */
  ttlSec?: number;
}

/** Input of {@link UnifiedAuthMiddleware.issueUserToken}. */
export interface IssueUserTokenOptions {
  /** The user id (`sub`). */
  subject: string;
  roles?: readonly string[];
  permissions?: readonly string[];
  workspaces?: readonly (string | WorkspaceMembership)[];
  emailVerified?: boolean;
  /** Lifetime in seconds. Default `3600`. */
  ttlSec?: number;
  /** Audience. Default the first configured user audience. */
  audience?: string;
  /** Extra claims. */
  claims?: Record<string, unknown>;
  /** Issue even with `NODE_ENV=production`. Default `false`. */
  force?: boolean;
}

interface Verified {
  kind: 'user' | 'service';
  subject: string;
  claims: AuthClaims;
  /** The context derived from the claims alone, built once per verified token. */
  template?: AuthContext;
}

interface KindState {
  verifier: TokenVerifier;
  signingAlg: string;
  signingKey: SigningKeyInput | Uint8Array | undefined;
  keyId: string | undefined;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const MAX_BLOCKED = 10_000;

/**
 * Authentication and authorization for every service: user and service JWTs verified with RFC
 * 8725 defaults, RFC 6750 error responses, roles with inheritance, permissions, workspaces, a
 * verified-token cache and a brute-force guard. Middleware factories compose:
 * `app.get('/x', auth.requireAuth(), auth.requireRole('admin'), handler)`; each one also
 * authenticates on its own, so `app.use('/admin', auth.requireRole('admin'))` is enough.
 *
 * Token kinds are told apart by the `typ` header (`at+jwt`/`JWT` for users, `service+jwt` for
 * services), each with its own algorithms, keys, issuers and audiences: an HS token never reaches
 * an RS key, and a user token never passes a service route.
 *
 * @example
 * ```ts
 * const auth = new UnifiedAuthMiddleware({
 *   userTokens: { issuer: 'https://id.example.com/', audience: 'flow-api', algorithms: ['RS256'],
 *                 jwksUri: 'https://id.example.com/.well-known/jwks.json' },
 *   userService: { getUserById: (id) => users.find(id) },
 * });
 * app.use('/api/protected', auth.requireAuth());
 * app.use('/api/admin', auth.requireRole('admin'));
 * app.post('/api/w/:workspaceId/flows', auth.requireWorkspaceAccess({ roles: ['editor'] }), createFlow);
 * ```
 */
export class UnifiedAuthMiddleware {
  /** The role hierarchy in use. */
  readonly roles: RoleHierarchy;
  /** `realm` in `WWW-Authenticate`. */
  readonly realm: string;
  private readonly user: KindState | undefined;
  private readonly service: KindState | undefined;
  private readonly serviceName: string | undefined;
  private readonly maxTokenAgeSec: number;
  private readonly userService: UserService | undefined;
  private readonly isRevoked: UnifiedAuthMiddlewareOptions['isRevoked'];
  private readonly cache: VerifiedTokenCache<Verified> | undefined;
  private readonly maxTokenBytes: number;
  private readonly headerLocation: boolean;
  private readonly cookieName: string | undefined;
  private readonly limiter: RateLimiter | undefined;
  private readonly blocked = new Map<string, number>();
  private readonly claimNames: Required<ClaimNames>;
  private readonly onError: 'respond' | 'next';
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly env: Readonly<Record<string, string | undefined>>;
  /** Contexts made by this instance: a `req.auth` set by anything else is never trusted. */
  private readonly issued = new WeakSet<AuthContext>();
  private closed = false;

  constructor(options: UnifiedAuthMiddlewareOptions) {
    if (options.userTokens === undefined && options.serviceTokens === undefined) {
      throw new ValidationError('userTokens', 'or "serviceTokens" must be given');
    }
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createSilentLogger();
    this.env = options.env ?? process.env;
    const clockToleranceSec = options.clockToleranceSec ?? 5;
    this.roles = new RoleHierarchy(options.roles ?? DEFAULT_ROLES);
    this.realm = options.realm ?? 'api';
    if (!/^[\x20-\x7e]*$/.test(this.realm) || /["\\]/.test(this.realm)) {
      throw new ValidationError('realm', 'must be printable ASCII without quotes or backslashes');
    }
    this.maxTokenAgeSec = options.serviceTokens?.maxTokenAgeSec ?? 300;
    this.maxTokenBytes = options.maxTokenBytes ?? 8192;
    if (!Number.isSafeInteger(this.maxTokenBytes) || this.maxTokenBytes < 256) {
      throw new ValidationError('maxTokenBytes', 'must be an integer of at least 256');
    }
    const onError = options.onError ?? 'respond';
    if (onError !== 'respond' && onError !== 'next') throw new ValidationError('onError', 'must be "respond" or "next"');
    this.onError = onError;

    if (options.userTokens !== undefined) {
      const u = options.userTokens;
      this.user = kindState(u, new TokenVerifier({
        ...u, field: 'userTokens', defaultTyp: ['jwt', 'at+jwt'], kindClaims: ['exp', 'sub'], clockToleranceSec, clock: this.clock,
      }));
    }
    if (options.serviceTokens !== undefined) {
      const s = options.serviceTokens;
      this.service = kindState(s, new TokenVerifier({
        ...s, field: 'serviceTokens', defaultTyp: ['service+jwt'], kindClaims: ['exp', 'iat', 'jti', 'sub'],
        maxTokenAgeSec: this.maxTokenAgeSec, clockToleranceSec, clock: this.clock,
      }));
      this.serviceName = s.serviceName;
    }
    if (this.user !== undefined && this.service !== undefined) {
      for (const typ of this.user.verifier.typ) {
        if (this.service.verifier.typ.has(typ)) throw new ValidationError('serviceTokens.typ', `must differ from "userTokens.typ" (both accept "${typ}")`);
      }
    }
    this.userService = options.userService;
    if (this.userService !== undefined && typeof this.userService.getUserById !== 'function') {
      throw new ValidationError('userService', 'must have a getUserById(id) method');
    }
    this.isRevoked = options.isRevoked;
    this.cache = options.cache === false ? undefined : new VerifiedTokenCache<Verified>({ ...options.cache, clock: this.clock });
    const locations = options.tokenLocations ?? {};
    this.headerLocation = locations.header ?? true;
    this.cookieName = locations.cookie;
    if (this.cookieName !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(this.cookieName)) {
      throw new ValidationError('tokenLocations.cookie', 'must be a valid cookie name');
    }
    if (!this.headerLocation && this.cookieName === undefined) {
      throw new ValidationError('tokenLocations', 'must enable the header or a cookie');
    }
    if (options.bruteForce !== false) {
      const bf = options.bruteForce ?? {};
      const rules = { limit: bf.limit ?? 20, windowMs: bf.windowMs ?? 60_000 };
      this.limiter =
        bf.limiter ??
        (bf.redis === undefined
          ? new MemoryRateLimiter({ rules, clock: this.clock })
          : new RedisRateLimiter({ redis: bf.redis, name: 'auth-failures', rules, clock: this.clock, ...(bf.prefix === undefined ? {} : { prefix: bf.prefix }) }));
    }
    const names = options.claims ?? {};
    this.claimNames = {
      roles: names.roles ?? 'roles',
      permissions: names.permissions ?? 'permissions',
      workspaces: names.workspaces ?? 'workspaces',
      emailVerified: names.emailVerified ?? 'email_verified',
    };
  }

  /**
   * Resolves once static public keys are imported; rejects with the import error. Optional:
   * verification waits for the keys anyway, but calling it at start-up fails fast on a bad key.
   */
  async waitUntilReady(): Promise<void> {
    await Promise.all([this.user?.verifier.ready(), this.service?.verifier.ready()]);
  }

  /** Drops cached tokens and refuses further use. Idempotent. */
  readonly close = once(async () => {
    this.closed = true;
    this.cache?.clear();
    this.blocked.clear();
    await Promise.resolve();
  });

  // ---------------------------------------------------------------- authentication core

  /**
   * The framework-neutral core: reads the token from `request`, verifies it and loads the
   * user. Resolves to the {@link AuthContext} (also set as `request.auth`), or `undefined` when no
   * credentials were sent. Throws {@link AuthError} for every refusal.
   *
   * @example
   * ```ts
   * const server = http.createServer(async (req, res) => {
   *   const auth = await middleware.authenticate(req).catch((e: unknown) => e);
   * });
   * ```
   */
  async authenticate(request: AuthRequest): Promise<AuthContext | undefined> {
    const existing = request.auth;
    if (existing !== undefined && this.issued.has(existing)) return existing;
    if (this.closed) throw new ValidationError('UnifiedAuthMiddleware', 'is closed');
    const ip = clientIp(request);
    const blockedUntil = this.blocked.get(ip);
    if (blockedUntil !== undefined) {
      const waitMs = blockedUntil - this.clock.now();
      if (waitMs > 0) throw new AuthError('too_many_requests', 'too_many_failures', { retryAfterMs: waitMs });
      this.blocked.delete(ip);
    }
    let token: string | undefined;
    try {
      token = this.extractToken(request);
      if (token === undefined) return undefined;
      const context = await this.contextFor(token);
      request.auth = context;
      return context;
    } catch (error) {
      if (AuthError.isInstance(error) && (error.error === 'invalid_token' || error.error === 'invalid_request')) {
        await this.recordFailure(ip, error);
      }
      throw error;
    }
  }

  /**
   * Authenticates `request` if needed and checks `requirement`. The engine behind every
   * middleware factory, for frameworks without an adapter.
   *
   * @example
   * ```ts
   * const ctx = await auth.protect(req, { type: 'permissions', mode: 'all', permissions: ['flows:write'] });
   * ```
   */
  async protect(request: AuthRequest, requirement: AuthRequirement): Promise<AuthContext | undefined> {
    const context = await this.authenticate(request);
    if (context === undefined) {
      if (requirement.type === 'auth' && requirement.optional === true) return undefined;
      throw new AuthError(undefined, 'credentials_missing');
    }
    this.check(context, request, requirement);
    return context;
  }

  private extractToken(request: AuthRequest): string | undefined {
    let fromHeader: string | undefined;
    let fromCookie: string | undefined;
    if (this.headerLocation) {
      const value = request.headers['authorization'];
      const header = typeof value === 'string' ? value : undefined;
      if (header !== undefined && /^bearer(\s|$)/i.test(header)) {
        if (header.length > this.maxTokenBytes + 16) throw new AuthError('invalid_token', 'token_too_large');
        const match = BEARER.exec(header);
        if (match?.[1] === undefined) throw new AuthError('invalid_request', 'malformed_authorization');
        fromHeader = match[1];
      }
    }
    if (this.cookieName !== undefined) {
      const raw = request.headers['cookie'];
      const cookie = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join('; ') : undefined;
      if (cookie !== undefined) fromCookie = readCookie(cookie, this.cookieName);
    }
    if (fromHeader !== undefined && fromCookie !== undefined) throw new AuthError('invalid_request', 'multiple_token_locations');
    const token = fromHeader ?? fromCookie;
    if (token !== undefined && Buffer.byteLength(token) > this.maxTokenBytes) throw new AuthError('invalid_token', 'token_too_large');
    return token;
  }

  private async contextFor(token: string): Promise<AuthContext> {
    const key = this.cache === undefined ? undefined : VerifiedTokenCache.keyOf(token);
    let verified = key === undefined ? undefined : this.cache?.get(key);
    if (verified === undefined) {
      verified = await this.verify(token);
      const exp = verified.claims.exp;
      if (key !== undefined && typeof exp === 'number') this.cache?.set(key, verified, exp * 1000);
    }
    if (this.isRevoked !== undefined) {
      const revoked = this.isRevoked(verified.claims, verified.kind);
      if (revoked === true || (revoked !== false && (await revoked))) throw new AuthError('invalid_token', 'token_revoked');
    }
    if (verified.kind === 'user' && this.userService !== undefined) return this.userContext(verified, this.userService);
    verified.template ??= Object.freeze(verified.kind === 'user' ? this.deriveUserContext(verified, undefined) : this.serviceContext(verified));
    const context: AuthContext = { ...verified.template };
    this.issued.add(context);
    return context;
  }

  private async verify(token: string): Promise<Verified> {
    const first = token.indexOf('.');
    const second = first < 0 ? -1 : token.indexOf('.', first + 1);
    if (second < 0) throw new AuthError('invalid_token', 'token_malformed');
    if (token.indexOf('.', second + 1) >= 0) {
      const parts = token.split('.').length;
      throw new AuthError('invalid_token', parts === 5 ? 'token_encrypted' : 'token_malformed');
    }
    const header = decodeSegment(token.slice(0, first));
    const typ = header['typ'];
    const normalised = typeof typ === 'string' ? normaliseTyp(typ) : undefined;
    let kind: 'user' | 'service';
    let state: KindState;
    if (normalised !== undefined && this.service?.verifier.typ.has(normalised) === true) {
      kind = 'service';
      state = this.service;
    } else if (normalised !== undefined && this.user?.verifier.typ.has(normalised) === true) {
      kind = 'user';
      state = this.user;
    } else {
      throw new AuthError('invalid_token', 'type_not_allowed');
    }
    const claims = await state.verifier.verify(token, header, token.slice(first + 1, second));
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject === '') throw new AuthError('invalid_token', 'claim_invalid');
    if (kind === 'service' && (typeof claims.jti !== 'string' || claims.jti === '')) throw new AuthError('invalid_token', 'claim_invalid');
    return { kind, subject, claims };
  }

  private async userContext(verified: Verified, userService: UserService): Promise<AuthContext> {
    const user = (await userService.getUserById(verified.subject)) ?? undefined;
    if (user === undefined) throw new AuthError('invalid_token', 'user_not_found');
    if (user.disabled === true) throw new AuthError('invalid_token', 'user_disabled');
    const context = this.deriveUserContext(verified, user);
    this.issued.add(context);
    return context;
  }

  private deriveUserContext(verified: Verified, user: AuthUser | undefined): AuthContext {
    const { claims } = verified;
    const roles = Object.freeze([...(user?.roles ?? stringList(claims[this.claimNames.roles]))]);
    const direct = user?.permissions ?? stringList(claims[this.claimNames.permissions]);
    const scopes = typeof claims['scope'] === 'string' ? splitScopes(claims['scope']) : [];
    const fromRoles = roles.length === 0 ? [] : this.roles.permissionsOf(roles);
    const permissions = Object.freeze([...new Set([...direct, ...scopes, ...fromRoles])]);
    const workspaces = Object.freeze(parseWorkspaces(user?.workspaces ?? claims[this.claimNames.workspaces]));
    const emailVerified = user?.emailVerified ?? claims[this.claimNames.emailVerified] === true;
    const context: AuthContext = { kind: 'user', subject: verified.subject, claims, roles, permissions, workspaces, emailVerified };
    if (user !== undefined) context.user = user;
    return context;
  }

  private serviceContext(verified: Verified): AuthContext {
    const { claims } = verified;
    const scope = claims['scope'] ?? claims['scp'];
    const permissions = typeof scope === 'string' ? splitScopes(scope) : stringList(scope);
    const context: AuthContext = {
      kind: 'service', subject: verified.subject, claims, roles: [], permissions: Object.freeze(permissions), workspaces: [], emailVerified: false,
    };
    return context;
  }

  private async recordFailure(ip: string, error: AuthError): Promise<void> {
    if (this.limiter === undefined) return;
    let result;
    try {
      result = await this.limiter.consume(`auth:${ip}`);
    } catch (limiterError) {
      // The guard must not take authentication down with it (e.g. Redis unreachable).
      this.logger.warn({ err: limiterError }, 'auth brute-force limiter failed');
      return;
    }
    if (result.allowed) return;
    this.blocked.delete(ip);
    this.blocked.set(ip, this.clock.now() + result.retryAfterMs);
    if (this.blocked.size > MAX_BLOCKED) {
      const oldest = this.blocked.keys().next();
      if (oldest.done !== true) this.blocked.delete(oldest.value);
    }
    this.logger.warn({ ip, reason: error.reason }, 'auth failures over the limit; client blocked');
    throw new AuthError('too_many_requests', 'too_many_failures', { retryAfterMs: result.retryAfterMs, cause: error });
  }

  // ---------------------------------------------------------------- authorization

  private check(context: AuthContext, request: AuthRequest, requirement: AuthRequirement): void {
    switch (requirement.type) {
      case 'service':
        if (context.kind !== 'service') throw new AuthError('invalid_token', 'wrong_token_kind');
        if (requirement.services.length > 0 && !requirement.services.includes(context.subject)) {
          throw new AuthError('insufficient_scope', 'service_not_allowed');
        }
        return;
      case 'user-or-service':
        if (context.kind === 'service' && requirement.services.length > 0 && !requirement.services.includes(context.subject)) {
          throw new AuthError('insufficient_scope', 'service_not_allowed');
        }
        return;
      default:
        break;
    }
    if (context.kind !== 'user') throw new AuthError('invalid_token', 'wrong_token_kind');
    switch (requirement.type) {
      case 'auth':
        return;
      case 'role':
        if (!this.roles.satisfies(context.roles, requirement.role)) throw new AuthError('insufficient_scope', 'role_required');
        return;
      case 'permissions': {
        const has = (p: string): boolean => context.permissions.some((granted) => permissionMatches(granted, p));
        const ok = requirement.mode === 'all' ? requirement.permissions.every(has) : requirement.permissions.some(has);
        if (!ok) throw new AuthError('insufficient_scope', 'permission_required', { scope: requirement.permissions.join(' ') });
        return;
      }
      case 'email-verified':
        if (!context.emailVerified) throw new AuthError('insufficient_scope', 'email_not_verified');
        return;
      case 'workspace':
        this.checkWorkspace(context, request, requirement.options ?? {});
        return;
    }
  }

  private checkWorkspace(context: AuthContext, request: AuthRequest, options: WorkspaceAccessOptions): void {
    const candidates: string[] = [];
    const param = options.param ?? 'workspaceId';
    const header = options.header ?? 'x-workspace-id';
    const bodyField = options.body ?? 'workspaceId';
    if (param !== false) pushId(candidates, field(request.params, param));
    if (header !== false) pushId(candidates, request.headers[header.toLowerCase()]);
    if (bodyField !== false) pushId(candidates, field(request.body, bodyField));
    const workspaceId = candidates[0];
    if (workspaceId === undefined) throw new AuthError('invalid_request', 'workspace_required');
    if (candidates.some((id) => id !== workspaceId)) throw new AuthError('invalid_request', 'workspace_required');
    const bypass = options.bypassRoles ?? ['super_admin'];
    if (bypass.some((role) => this.roles.satisfies(context.roles, role))) {
      context.workspaceId = workspaceId;
      return;
    }
    const membership = context.workspaces.find((w) => w.id === workspaceId);
    if (membership === undefined) throw new AuthError('insufficient_scope', 'workspace_denied');
    const required = options.roles ?? [];
    if (required.length > 0 && !required.some((role) => this.roles.satisfies(membership.roles ?? [], role))) {
      throw new AuthError('insufficient_scope', 'workspace_denied');
    }
    context.workspaceId = workspaceId;
  }

  // ---------------------------------------------------------------- Express / connect middleware

  /**
   * Connect-style middleware (Express 4/5, `node:http`) for any {@link AuthRequirement}. The
   * factories below are shorthands for it.
   */
  middleware(requirement: AuthRequirement): AuthMiddlewareHandler {
    return (req, res, next) => {
      this.protect(req, requirement).then(
        () => {
          next();
        },
        (error: unknown) => {
          this.fail(error, res, next);
        },
      );
    };
  }

  /**
   * Handles a failure: writes the RFC 6750 response for an {@link AuthError} (or passes it on
   * with `onError: 'next'`), and passes any other error to `next`.
   */
  private fail(error: unknown, res: AuthResponse, next: (error?: unknown) => void): void {
    if (!AuthError.isInstance(error) || this.onError === 'next' || res.headersSent === true) {
      if (!AuthError.isInstance(error)) this.logger.error({ err: error }, 'auth middleware failed');
      next(error);
      return;
    }
    const { status, headers, body } = error.toResponse(this.realm);
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  /**
   * Requires a valid user token; sets `req.auth`.
   *
   * @example
   * ```ts
   * app.use('/api/protected', auth.requireAuth());
   * ```
   */
  requireAuth(): AuthMiddlewareHandler {
    return this.middleware({ type: 'auth' });
  }

  /**
   * Authenticates when credentials are sent (an invalid token is still refused); without any,
   * continues with `req.auth` unset.
   *
   * @example
   * ```ts
   * app.get('/feed', auth.optionalAuth(), (req, res) => res.json(feedFor(req.auth?.subject)));
   * ```
   */
  optionalAuth(): AuthMiddlewareHandler {
    return this.middleware({ type: 'auth', optional: true });
  }

  /**
   * Requires a user holding `role` or a role that includes it (`admin` passes `user`).
   *
   * @example
   * ```ts
   * app.use('/api/admin', auth.requireRole('admin'));
   * ```
   */
  requireRole(role: string): AuthMiddlewareHandler {
    if (typeof role !== 'string' || role === '') throw new ValidationError('role', 'must be a non-empty string');
    if (!this.roles.has(role)) this.logger.warn({ role }, 'requireRole names a role outside the hierarchy');
    return this.middleware({ type: 'role', role });
  }

  /**
   * Requires every listed permission (granted directly, by `scope`, or by a role; `x:*` wildcards).
   *
   * @example
   * ```ts
   * app.delete('/flows/:id', auth.requirePermission('flows:delete'), removeFlow);
   * ```
   */
  requirePermission(...permissions: string[]): AuthMiddlewareHandler {
    return this.middleware({ type: 'permissions', mode: 'all', permissions: checkedList(permissions, 'permissions') });
  }

  /**
   * Requires at least one of the listed permissions.
   *
   * @example
   * ```ts
   * app.get('/reports', auth.requireAnyPermission('reports:read', 'reports:admin'), listReports);
   * ```
   */
  requireAnyPermission(...permissions: string[]): AuthMiddlewareHandler {
    return this.middleware({ type: 'permissions', mode: 'any', permissions: checkedList(permissions, 'permissions') });
  }

  /**
   * Requires membership of the workspace named by the route parameter, header or body field
   * (and, optionally, a workspace role); sets `req.auth.workspaceId`.
   *
   * @example
   * ```ts
   * app.put('/w/:workspaceId/flows/:id', auth.requireWorkspaceAccess({ roles: ['editor'] }), saveFlow);
   * ```
   */
  requireWorkspaceAccess(options: WorkspaceAccessOptions = {}): AuthMiddlewareHandler {
    return this.middleware({ type: 'workspace', options });
  }

  /**
   * Requires a user whose email address is verified.
   *
   * @example
   * ```ts
   * app.post('/billing', auth.requireEmailVerified(), updateBilling);
   * ```
   */
  requireEmailVerified(): AuthMiddlewareHandler {
    return this.middleware({ type: 'email-verified' });
  }

  /**
   * Requires a service token, from one of `allowedServices` (its `sub`) when any are listed.
   *
   * @example
   * ```ts
   * app.post('/internal/reindex', auth.requireServiceToken('flow-worker'), reindex);
   * ```
   */
  requireServiceToken(...allowedServices: string[]): AuthMiddlewareHandler {
    return this.middleware({ type: 'service', services: checkedList(allowedServices, 'allowedServices', true) });
  }

  /**
   * Accepts any valid user token, or a service token from `allowedServices` (any service when
   * none are listed).
   *
   * @example
   * ```ts
   * app.get('/flows/:id', auth.allowUserOrService('flow-worker'), getFlow);
   * ```
   */
  allowUserOrService(...allowedServices: string[]): AuthMiddlewareHandler {
    return this.middleware({ type: 'user-or-service', services: checkedList(allowedServices, 'allowedServices', true) });
  }

  // ---------------------------------------------------------------- issuing

  /**
   * Issues a short-lived service-to-service token (`typ: service+jwt`, `sub` = `serviceName`,
   * `iat`, `jti`), signed with the first service secret or the private key; its `kid` goes in
   * the header (see `keyId`).
   *
   * @example
   * ```ts
   * const token = await auth.issueServiceToken({ audience: 'billing-api', scopes: ['invoices:read'] });
   * await fetch(url, { headers: { authorization: `Bearer ${token}` } });
   * ```
   */
  async issueServiceToken(options: IssueServiceTokenOptions): Promise<string> {
    const state = this.service;
    if (state === undefined) throw new ValidationError('serviceTokens', 'must be configured to issue service tokens');
    if (this.serviceName === undefined || this.serviceName === '') {
      throw new ValidationError('serviceTokens.serviceName', 'must be set to issue service tokens');
    }
    const ttlSec = options.ttlSec ?? 60;
    if (!Number.isSafeInteger(ttlSec) || ttlSec < 1 || ttlSec > this.maxTokenAgeSec) {
      throw new ValidationError('ttlSec', `must be an integer from 1 to ${this.maxTokenAgeSec}`);
    }
    const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
    if (audience.length === 0) throw new ValidationError('audience', 'must not be empty');
    const claims: Record<string, unknown> = {};
    if (options.scopes !== undefined && options.scopes.length > 0) claims['scope'] = options.scopes.join(' ');
    return this.sign(state, 'service+jwt', claims, { subject: this.serviceName, audience, ttlSec, jti: randomUUID() });
  }

  /**
   * Dev-only: issues a user token with the first configured user secret or the private key (and
   * its `kid`), for tests and examples. Refuses when `NODE_ENV=production` unless `force: true`.
   *
   * @example
   * ```ts
   * const token = await auth.issueUserToken({ subject: 'u1', roles: ['admin'], workspaces: [{ id: 'w1', roles: ['editor'] }] });
   * ```
   */
  async issueUserToken(options: IssueUserTokenOptions): Promise<string> {
    if (this.env['NODE_ENV'] === 'production' && options.force !== true) {
      throw new ValidationError('issueUserToken', 'is for development and tests; refused with NODE_ENV=production (pass force: true)');
    }
    const state = this.user;
    if (state === undefined) throw new ValidationError('userTokens', 'must be configured to issue user tokens');
    if (typeof options.subject !== 'string' || options.subject === '') throw new ValidationError('subject', 'must be a non-empty string');
    const claims: Record<string, unknown> = { ...options.claims };
    if (options.roles !== undefined) claims[this.claimNames.roles] = [...options.roles];
    if (options.permissions !== undefined) claims[this.claimNames.permissions] = [...options.permissions];
    if (options.workspaces !== undefined) claims[this.claimNames.workspaces] = [...options.workspaces];
    if (options.emailVerified !== undefined) claims[this.claimNames.emailVerified] = options.emailVerified;
    const audience = options.audience ?? state.verifier.audiences[0] ?? '';
    return this.sign(state, 'at+jwt', claims, { subject: options.subject, audience, ttlSec: options.ttlSec ?? 3600, jti: randomUUID() });
  }

  private async sign(
    state: KindState,
    typ: string,
    claims: Record<string, unknown>,
    registered: { subject: string; audience: string | string[]; ttlSec: number; jti: string },
  ): Promise<string> {
    if (state.signingKey === undefined) {
      throw new ValidationError(state.verifier.field, 'needs "secret" or "privateKey" to issue tokens');
    }
    const key = await importSigningKey(state.signingKey, state.signingAlg);
    const nowSec = Math.floor(this.clock.now() / 1000);
    const typHeader = [...state.verifier.typ].includes(normaliseTyp(typ)) ? typ : [...state.verifier.typ][0] ?? typ;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: state.signingAlg, typ: typHeader, ...(state.keyId === undefined ? {} : { kid: state.keyId }) })
      .setIssuer(state.verifier.issuers[0] ?? '')
      .setSubject(registered.subject)
      .setAudience(registered.audience)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + registered.ttlSec)
      .setJti(registered.jti)
      .sign(key);
  }
}

/**
 * The signing side of a kind: the first secret (with its `kid`), or `privateKey` (with the `kid`
 * of the `publicKey` entry it pairs with). An explicit `keyId` must agree with that `kid`.
 */
function kindState(options: UserTokenOptions | ServiceTokenOptions, verifier: TokenVerifier): KindState {
  const { field } = verifier;
  const signingAlg = [...verifier.algorithms][0] ?? '';
  let signingKey: SigningKeyInput | Uint8Array | undefined;
  let keyId = options.keyId;
  if (keyId !== undefined && (typeof keyId !== 'string' || keyId === '')) throw new ValidationError(`${field}.keyId`, 'must be a non-empty string');
  if (options.secret !== undefined) {
    const [first] = staticKeyEntries<SecretInput>(options.secret, `${field}.secret`);
    if (first === undefined) throw new ValidationError(`${field}.secret`, 'must list at least one key');
    signingKey = secretBytes(first.key, first.field);
    if (first.kid !== undefined) {
      if (keyId !== undefined && keyId !== first.kid) {
        throw new ValidationError(`${field}.keyId`, `must equal the kid of the first secret ("${first.kid}"), which signs issued tokens`);
      }
      keyId = first.kid;
    } else if (keyId !== undefined && verifier.hasKeyIds) {
      throw new ValidationError(`${field}.keyId`, 'names a kid the first secret (which signs issued tokens) does not have; give the first secret that kid');
    }
  } else {
    signingKey = options.privateKey;
    if (signingKey !== undefined && verifier.hasKeyIds) {
      const paired = verifier.keyIdOf(publicHalf(signingKey, `${field}.privateKey`));
      if (paired !== undefined) {
        if (keyId !== undefined && keyId !== paired) {
          throw new ValidationError(`${field}.keyId`, `must equal the kid of the public key paired with "privateKey" ("${paired}")`);
        }
        keyId = paired;
      }
    }
  }
  return { verifier, signingAlg, signingKey, keyId };
}

/** The public half of a signing key, to find its `publicKey` entry; throws naming `field`. */
function publicHalf(input: SigningKeyInput, field: string): KeyObject {
  try {
    if (input instanceof KeyObject) return createPublicKey(input);
    if (typeof input === 'string') return createPublicKey(input);
    if ((input as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey') return createPublicKey(KeyObject.from(input as CryptoKey));
    return createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new ValidationError(field, 'could not be imported', { cause });
  }
}

const signingKeys = new WeakMap<object, Promise<CryptoKey | KeyObject | Uint8Array>>();
const pemKeys = new Map<string, Promise<CryptoKey | KeyObject | Uint8Array>>();

function importSigningKey(input: SigningKeyInput | Uint8Array, alg: string): Promise<CryptoKey | KeyObject | Uint8Array> {
  if (input instanceof Uint8Array) {
    const cached = signingKeys.get(input);
    if (cached !== undefined) return cached;
    const made = Promise.resolve(createSecretKey(input));
    signingKeys.set(input, made);
    return made;
  }
  if (typeof input === 'string') {
    const cacheKey = `${alg}\n${input}`;
    let made = pemKeys.get(cacheKey);
    if (made === undefined) {
      made = input.includes('PRIVATE KEY') ? importPKCS8(input, alg) : Promise.resolve(createPrivateKey(input));
      pemKeys.set(cacheKey, made);
    }
    return made;
  }
  if ('kty' in input && typeof (input as { kty?: unknown }).kty === 'string') {
    let made = signingKeys.get(input);
    if (made === undefined) {
      made = importJWK(input, alg);
      signingKeys.set(input, made);
    }
    return made;
  }
  return Promise.resolve(input as CryptoKey | KeyObject);
}

function clientIp(request: AuthRequest): string {
  return request.ip ?? request.socket?.remoteAddress ?? 'unknown';
}

function readCookie(header: string, name: string): string | undefined {
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) throw new AuthError('invalid_request', 'multiple_token_locations');
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    found = value;
  }
  return found === '' ? undefined : found;
}

function stringList(value: unknown): readonly string[] {
  if (typeof value === 'string') return splitScopes(value);
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is string => typeof item === 'string' && item !== '');
}

function splitScopes(value: string): string[] {
  return value.split(' ').filter((s) => s !== '');
}

function parseWorkspaces(value: unknown): readonly WorkspaceMembership[] {
  if (Array.isArray(value)) {
    const out: WorkspaceMembership[] = [];
    for (const item of value as unknown[]) {
      if (typeof item === 'string' && item !== '') out.push({ id: item, roles: [] });
      else if (typeof item === 'object' && item !== null) {
        const { id, roles } = item as { id?: unknown; roles?: unknown };
        if (typeof id === 'string' && id !== '') out.push({ id, roles: stringList(roles) });
      }
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value as Record<string, unknown>).map(([id, roles]) => ({ id, roles: stringList(roles) }));
  }
  return [];
}

function field(container: unknown, name: string): unknown {
  if (typeof container !== 'object' || container === null) return undefined;
  return Object.hasOwn(container, name) ? (container as Record<string, unknown>)[name] : undefined;
}

function pushId(candidates: string[], value: unknown): void {
  if (typeof value === 'string' && value !== '') candidates.push(value);
  else if (typeof value === 'number' && Number.isSafeInteger(value)) candidates.push(String(value));
}

function checkedList(values: readonly string[], name: string, allowEmpty = false): readonly string[] {
  if (!allowEmpty && values.length === 0) throw new ValidationError(name, 'must list at least one value');
  for (const value of values) if (typeof value !== 'string' || value === '') throw new ValidationError(name, 'must be non-empty strings');
  return Object.freeze([...values]);
}

