import { KeyObject } from 'node:crypto';
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
  /** Merged over `AUTH_USER_*`, `AUTH_JWT_SECRET` (+ `AUTH_JWT_PREVIOUS_SECRET`), `AUTH_JWKS_URI`. */
  userTokens?: Partial<UserTokenOptions>;
  /** Merged over `AUTH_SERVICE_*`. */
  serviceTokens?: Partial<ServiceTokenOptions>;
}

/** The process-wide instance and the resolved options it was built from. */
let current: { instance: UnifiedAuthMiddleware; resolved: UnifiedAuthMiddlewareOptions } | undefined;

/** Where environment variables are read from (default `process.env`). */
export type AuthEnvSource = Readonly<Record<string, string | undefined>>;

function csv(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length === 0 ? undefined : items;
}

/** The current secret, then the previous one (verification only) when set. */
function rotatingSecret(current: string | undefined, previous: string | undefined, currentName: string, previousName: string): string | string[] | undefined {
  if (previous === undefined) return current;
  if (current === undefined) throw new ValidationError(previousName, `needs ${currentName} (the current secret, which signs) to be set`);
  return previous === current ? current : [current, previous];
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
    secret: rotatingSecret(read('AUTH_JWT_SECRET'), read('AUTH_JWT_PREVIOUS_SECRET'), 'AUTH_JWT_SECRET', 'AUTH_JWT_PREVIOUS_SECRET'),
    jwksUri: read('AUTH_JWKS_URI'),
    publicKey: read('AUTH_USER_PUBLIC_KEY'),
  };
  const user = pickKeys<UserTokenOptions>(options.userTokens ?? {}, userEnv);
  user.algorithms ??= (csv(read('AUTH_USER_ALGORITHMS')) as JwtAlgorithm[] | undefined) ?? [user.secret === undefined ? 'RS256' : 'HS256'];
  const serviceEnv: Partial<ServiceTokenOptions> = {
    issuer: csv(read('AUTH_SERVICE_ISSUER')),
    audience: csv(read('AUTH_SERVICE_AUDIENCE')),
    secret: rotatingSecret(read('AUTH_SERVICE_SECRET'), read('AUTH_SERVICE_PREVIOUS_SECRET'), 'AUTH_SERVICE_SECRET', 'AUTH_SERVICE_PREVIOUS_SECRET'),
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
 * `AUTH_*` environment ({@link AUTH_ENV}). Later calls without options, or with options that
 * resolve to the same settings, return the same instance. Settings are compared after resolution
 * (explicit options over the environment): plain objects and arrays by content (a single value
 * equals a one-element list), byte arrays by bytes, functions and other objects (`userService`,
 * `logger`, `clock`, a Redis client…) by identity.
 * A later call whose settings differ throws a `ValidationError` naming `options` rather than
 * silently ignoring them: build a second configuration with `new UnifiedAuthMiddleware(...)`, or
 * call {@link resetDefaultAuthMiddleware} first to replace the instance.
 *
 * @example
 * ```ts
 * const auth = getDefaultAuthMiddleware({ userService: userManager });
 * app.use('/api/protected', auth.requireAuth());
 * app.use('/api/admin', auth.requireRole('admin'));
 * getDefaultAuthMiddleware() === auth; // true: no options, same instance
 * ```
 */
export function getDefaultAuthMiddleware(options: DefaultAuthMiddlewareOptions = {}): UnifiedAuthMiddleware {
  if (current !== undefined && Object.values(options).every((value) => value === undefined)) return current.instance;
  const resolved = resolveAuthOptions(options);
  if (current === undefined) {
    current = { instance: new UnifiedAuthMiddleware(resolved), resolved };
    return current.instance;
  }
  const difference = firstDifference(current.resolved, resolved, '');
  if (difference !== undefined) {
    throw new ValidationError(
      'options',
      `differ from those the process-wide auth middleware was built with (at "${difference}"); ` +
        'create a new UnifiedAuthMiddleware(...) for a second configuration, or call resetDefaultAuthMiddleware() first',
    );
  }
  return current.instance;
}

/**
 * Closes and forgets the process-wide instance, so the next {@link getDefaultAuthMiddleware}
 * builds a new one from its options (tests, configuration reloads).
 *
 * @example
 * ```ts
 * afterEach(() => resetDefaultAuthMiddleware());
 * ```
 */
export async function resetDefaultAuthMiddleware(): Promise<void> {
  const previous = current;
  current = undefined;
  await previous?.instance.close();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The path of the first setting where `a` and `b` differ, or `undefined` when equal. Never
 * includes a value (secrets stay out of messages).
 */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  const here = path === '' ? '(root)' : path;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0 ? undefined : here;
  if (a instanceof KeyObject && b instanceof KeyObject) return a.equals(b) ? undefined : here;
  // Every list-valued auth setting also takes a single value: `x` and `[x]` mean the same.
  if (Array.isArray(a) !== Array.isArray(b)) {
    const [list, single] = Array.isArray(a) ? [a as unknown[], b] : [b as unknown[], a];
    return list.length === 1 ? firstDifference(list[0], single, `${path}[0]`) : here;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return here;
    for (let i = 0; i < a.length; i++) {
      const found = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const found = firstDifference(a[key], b[key], path === '' ? key : `${path}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  // Functions, class instances (user services, loggers, clocks, clients), CryptoKeys: identity only.
  return here;
}
