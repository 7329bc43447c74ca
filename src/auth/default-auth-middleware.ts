import { readEnv, ValidationError } from '../core/index.js';
import { AUTH_ENV } from './auth-env.js';
import type { JwtAlgorithm } from './token-verifier.js';
import {
  type ServiceTokenOptions,
  UnifiedAuthMiddleware,
  type UnifiedAuthMiddlewareOptions,
  type UserTokenOptions,
} from './unified-auth-middleware.js';

/** Options of {@link getDefaultAuthMiddleware}: any middleware option, kind settings partial (env fills the rest). */
export interface DefaultAuthMiddlewareOptions extends Omit<UnifiedAuthMiddlewareOptions, 'userTokens' | 'serviceTokens'> {
  /** Merged over `AUTH_USER_*`, `AUTH_JWT_SECRET`, `AUTH_JWKS_URI`. */
  userTokens?: Partial<UserTokenOptions>;
  /** Merged over `AUTH_SERVICE_*`. */
  serviceTokens?: Partial<ServiceTokenOptions>;
}

let instance: UnifiedAuthMiddleware | undefined;

/** Where environment variables are read from (default `process.env`). */
export type AuthEnvSource = Readonly<Record<string, string | undefined>>;

function csv(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length === 0 ? undefined : items;
}

function pickKeys<T extends object>(explicit: Partial<T>, fromEnv: Partial<T>): Partial<T> {
  // A key source given explicitly replaces the environment's (they are mutually exclusive).
  const keyFields = ['secret', 'publicKey', 'jwksUri'] as const;
  const explicitHasKey = keyFields.some((k) => (explicit as Record<string, unknown>)[k] !== undefined);
  const base: Record<string, unknown> = { ...fromEnv };
  if (explicitHasKey) for (const k of keyFields) base[k] = undefined;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(explicit)) if (v !== undefined) out[k] = v;
  for (const k of Object.keys(out)) if (out[k] === undefined) out[k] = undefined;
  return out as Partial<T>;
}

/**
 * Builds {@link UnifiedAuthMiddleware} options from explicit options and the `AUTH_*`
 * environment variables ({@link AUTH_ENV}): explicit > environment > default.
 *
 * @example
 * ```ts
 * const options = resolveAuthOptions({ userService }, process.env);
 * ```
 */
export function resolveAuthOptions(options: DefaultAuthMiddlewareOptions = {}, source: AuthEnvSource = options.env ?? process.env): UnifiedAuthMiddlewareOptions {
  const read = <K extends keyof typeof AUTH_ENV>(name: K): ReturnType<(typeof AUTH_ENV)[K]['parse']> | undefined =>
    readEnv(name, AUTH_ENV[name] as { parse(raw: string, name: string): ReturnType<(typeof AUTH_ENV)[K]['parse']>; default: undefined; description: string }, source);
  const userEnv: Partial<UserTokenOptions> = {
    issuer: csv(read('AUTH_USER_ISSUER')),
    audience: csv(read('AUTH_USER_AUDIENCE')),
    secret: read('AUTH_JWT_SECRET'),
    jwksUri: read('AUTH_JWKS_URI'),
    publicKey: read('AUTH_USER_PUBLIC_KEY'),
  };
  const user = pickKeys<UserTokenOptions>(options.userTokens ?? {}, userEnv);
  user.algorithms ??= (csv(read('AUTH_USER_ALGORITHMS')) as JwtAlgorithm[] | undefined) ?? [user.secret === undefined ? 'RS256' : 'HS256'];
  const serviceEnv: Partial<ServiceTokenOptions> = {
    issuer: csv(read('AUTH_SERVICE_ISSUER')),
    audience: csv(read('AUTH_SERVICE_AUDIENCE')),
    secret: read('AUTH_SERVICE_SECRET'),
    jwksUri: read('AUTH_SERVICE_JWKS_URI'),
    publicKey: read('AUTH_SERVICE_PUBLIC_KEY'),
    privateKey: read('AUTH_SERVICE_PRIVATE_KEY'),
    serviceName: read('AUTH_SERVICE_NAME'),
    maxTokenAgeSec: read('AUTH_SERVICE_MAX_TOKEN_AGE_SEC'),
  };
  const service = pickKeys<ServiceTokenOptions>(options.serviceTokens ?? {}, serviceEnv);
  service.algorithms ??= (csv(read('AUTH_SERVICE_ALGORITHMS')) as JwtAlgorithm[] | undefined) ?? [service.secret === undefined ? 'EdDSA' : 'HS256'];
  service.issuer ??= service.serviceName;

  const configured = (kind: Partial<UserTokenOptions>): boolean => kind.issuer !== undefined || kind.audience !== undefined;
  const rest: UnifiedAuthMiddlewareOptions = { ...options, userTokens: undefined, serviceTokens: undefined };
  delete rest.userTokens;
  delete rest.serviceTokens;
  const cookie = read('AUTH_COOKIE_NAME');
  const resolved: UnifiedAuthMiddlewareOptions = {
    ...rest,
    clockToleranceSec: options.clockToleranceSec ?? read('AUTH_CLOCK_TOLERANCE_SEC'),
    realm: options.realm ?? read('AUTH_REALM'),
  };
  if (options.tokenLocations === undefined && cookie !== undefined) resolved.tokenLocations = { header: true, cookie };
  if (options.bruteForce === undefined) resolved.bruteForce = { limit: read('AUTH_MAX_FAILURES_PER_MINUTE') ?? 20, windowMs: 60_000 };
  if (configured(user)) {
    if (user.issuer === undefined) throw new ValidationError('AUTH_USER_ISSUER', 'must be set (or pass userTokens.issuer)');
    if (user.audience === undefined) throw new ValidationError('AUTH_USER_AUDIENCE', 'must be set (or pass userTokens.audience)');
    resolved.userTokens = user as UserTokenOptions;
  }
  if (configured(service)) {
    if (service.issuer === undefined) throw new ValidationError('AUTH_SERVICE_ISSUER', 'must be set (or pass serviceTokens.issuer)');
    if (service.audience === undefined) throw new ValidationError('AUTH_SERVICE_AUDIENCE', 'must be set (or pass serviceTokens.audience)');
    resolved.serviceTokens = service as ServiceTokenOptions;
  }
  if (resolved.userTokens === undefined && resolved.serviceTokens === undefined) {
    throw new ValidationError('AUTH_USER_ISSUER', 'or AUTH_SERVICE_ISSUER must be set (or pass userTokens/serviceTokens)');
  }
  return resolved;
}

/**
 * The process-wide {@link UnifiedAuthMiddleware}, built on first call from `options` and the
 * `AUTH_*` environment ({@link AUTH_ENV}); later calls return the same instance (their options
 * are ignored). Use `new UnifiedAuthMiddleware()` for several independent instances.
 *
 * @example
 * ```ts
 * const auth = getDefaultAuthMiddleware({ userService: userManager });
 * app.use('/api/protected', auth.requireAuth());
 * app.use('/api/admin', auth.requireRole('admin'));
 * ```
 */
export function getDefaultAuthMiddleware(options: DefaultAuthMiddlewareOptions = {}): UnifiedAuthMiddleware {
  instance ??= new UnifiedAuthMiddleware(resolveAuthOptions(options));
  return instance;
}

/**
 * Closes and forgets the process-wide instance, so the next {@link getDefaultAuthMiddleware}
 * builds a new one (tests, configuration reloads).
 *
 * @example
 * ```ts
 * afterEach(() => resetDefaultAuthMiddleware());
 * ```
 */
export async function resetDefaultAuthMiddleware(): Promise<void> {
  const current = instance;
  instance = undefined;
  await current?.close();
}
