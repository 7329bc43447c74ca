import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, decodeJwt, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import {
  AuthError,
  type AuthRequest,
  UnifiedAuthMiddleware,
  type UnifiedAuthMiddlewareOptions,
} from '../../../src/auth/index.js';
import { ValidationError } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

const SECRET = 'a'.repeat(32) + 'secret-for-unit-tests';
const SERVICE_SECRET = 'b'.repeat(40);

function build(overrides: Partial<UnifiedAuthMiddlewareOptions> = {}, clock = new FakeClock({ now: Date.UTC(2026, 0, 1) })) {
  const auth = new UnifiedAuthMiddleware({
    userTokens: { issuer: 'https://id.test', audience: 'flow-api', algorithms: ['HS256'], secret: SECRET },
    serviceTokens: { issuer: 'https://svc.test', audience: 'flow-api', algorithms: ['HS256'], secret: SERVICE_SECRET, serviceName: 'flow-worker' },
    clock,
    env: {},
    ...overrides,
  });
  return { auth, clock };
}

const request = (token?: string, extra: Partial<AuthRequest> = {}): AuthRequest => ({
  headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  ip: '10.0.0.1',
  ...extra,
});

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (AuthError.isInstance(error)) return `${error.status} ${error.error ?? '-'} ${error.reason}`;
    throw error;
  }
  return 'resolved';
}

describe('UnifiedAuthMiddleware construction', () => {
  it('refuses an HMAC secret under 256 bits, naming the option', () => {
    expect(() => build({ userTokens: { issuer: 'i', audience: 'a', algorithms: ['HS256'], secret: 'short-secret' } })).toThrow(
      /"userTokens.secret" must be at least 32 bytes/,
    );
  });

  it('refuses to mix HMAC and asymmetric algorithms in one kind', () => {
    expect(() => build({ userTokens: { issuer: 'i', audience: 'a', algorithms: ['HS256', 'RS256'], secret: SECRET } })).toThrow(ValidationError);
  });

  it('refuses a secret with asymmetric algorithms (no HS/RS confusion by configuration)', () => {
    expect(() => build({ userTokens: { issuer: 'i', audience: 'a', algorithms: ['RS256'], secret: SECRET } })).toThrow(/needs HS\* algorithms/);
  });

  it('refuses "none" as an algorithm', () => {
    expect(() =>
      build({ userTokens: { issuer: 'i', audience: 'a', algorithms: ['none' as 'HS256'], secret: SECRET } }),
    ).toThrow(/unsupported algorithm "none"/);
  });

  it('requires exactly one key source', () => {
    expect(() => build({ userTokens: { issuer: 'i', audience: 'a', algorithms: ['RS256'] } })).toThrow(/exactly one of/);
  });

  it('refuses a JWKS map naming an issuer outside the allowlist', () => {
    expect(() =>
      build({ userTokens: { issuer: 'https://a.test', audience: 'x', algorithms: ['RS256'], jwksUri: { 'https://b.test': 'https://b.test/jwks' } } }),
    ).toThrow(/not in "userTokens.issuer"/);
  });

  it('refuses user and service kinds that accept the same typ', () => {
    expect(() =>
      build({ serviceTokens: { issuer: 's', audience: 'a', algorithms: ['HS256'], secret: SERVICE_SECRET, typ: 'at+jwt' } }),
    ).toThrow(/must differ/);
  });

  it('refuses role hierarchies with cycles', () => {
    expect(() => build({ roles: { a: { inherits: ['b'] }, b: { inherits: ['a'] } } })).toThrow(/cycle/);
  });
});

describe('issuing and verifying', () => {
  it('issues a service token that its peers accept, with typ, iat, jti and scopes', async () => {
    const { auth } = build();
    const token = await auth.issueServiceToken({ audience: 'flow-api', scopes: ['flows:read', 'flows:write'], ttlSec: 30 });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', typ: 'service+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'flow-worker', iss: 'https://svc.test', aud: 'flow-api', scope: 'flows:read flows:write' });
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(30);
    const context = await auth.authenticate(request(token));
    expect(context).toMatchObject({ kind: 'service', subject: 'flow-worker', permissions: ['flows:read', 'flows:write'] });
  });

  it('refuses a service token ttl above maxTokenAgeSec', async () => {
    const { auth } = build();
    await expect(auth.issueServiceToken({ audience: 'x', ttlSec: 301 })).rejects.toThrow(/"ttlSec" must be an integer from 1 to 300/);
  });

  it('issues user tokens in development and refuses with NODE_ENV=production unless forced', async () => {
    const { auth } = build({ env: { NODE_ENV: 'production' } });
    await expect(auth.issueUserToken({ subject: 'u1' })).rejects.toThrow(/NODE_ENV=production/);
    const token = await auth.issueUserToken({ subject: 'u1', roles: ['admin'], force: true });
    const context = await auth.authenticate(request(token));
    expect(context?.roles).toEqual(['admin']);
  });

  it('sets request.auth and trusts only contexts it made itself', async () => {
    const { auth } = build();
    const forged: AuthRequest = request(undefined, {
      auth: { kind: 'user', subject: 'root', claims: {}, roles: ['super_admin'], permissions: [], workspaces: [], emailVerified: true },
    });
    expect(await reason(auth.protect(forged, { type: 'role', role: 'admin' }))).toBe('401 - credentials_missing');
    const token = await auth.issueUserToken({ subject: 'u1' });
    const req = request(token);
    const context = await auth.authenticate(req);
    expect(req.auth).toBe(context);
    expect(await auth.authenticate(req)).toBe(context);
  });

  it('signs and verifies EdDSA service tokens with a PEM key pair', async () => {
    const pair = generateKeyPairSync('ed25519');
    const { auth } = build({
      serviceTokens: {
        issuer: 'https://svc.test', audience: 'flow-api', algorithms: ['EdDSA'], serviceName: 'flow-worker',
        publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
    });
    await auth.waitUntilReady();
    const token = await auth.issueServiceToken({ audience: 'flow-api' });
    expect((await auth.authenticate(request(token)))?.subject).toBe('flow-worker');
  });
});

describe('clock handling', () => {
  it('accepts a token expired within the tolerance and refuses it after', async () => {
    const { auth, clock } = build({ cache: false, clockToleranceSec: 5 });
    const token = await auth.issueUserToken({ subject: 'u1', ttlSec: 60 });
    clock.advance(63_000);
    expect((await auth.authenticate(request(token)))?.subject).toBe('u1');
    clock.advance(3_000);
    expect(await reason(auth.authenticate(request(token)))).toBe('401 invalid_token token_expired');
  });
});

describe('verified-token cache', () => {
  it('serves a repeat token without verifying again, and never past exp', async () => {
    const { auth, clock } = build({ clockToleranceSec: 0 });
    const token = await auth.issueUserToken({ subject: 'u1', ttlSec: 60 });
    await auth.authenticate(request(token));
    // A cache hit would also succeed on a tampered copy only if the cache keyed on claims; it keys on the token hash.
    const tampered = `${token.slice(0, -4)}AAAA` === token ? `${token.slice(0, -4)}BBBB` : `${token.slice(0, -4)}AAAA`;
    expect(await reason(auth.authenticate(request(tampered)))).toBe('401 invalid_token signature_invalid');
    clock.advance(59_000);
    expect((await auth.authenticate(request(token)))?.subject).toBe('u1');
    clock.advance(1_000);
    expect(await reason(auth.authenticate(request(token)))).toBe('401 invalid_token token_expired');
  });

  it('still consults isRevoked on cache hits', async () => {
    const revoked = new Set<string>();
    const isRevoked = vi.fn((claims: { jti?: string }) => claims.jti !== undefined && revoked.has(claims.jti));
    const { auth } = build({ isRevoked });
    const token = await auth.issueUserToken({ subject: 'u1' });
    await auth.authenticate(request(token));
    revoked.add(decodeJwt(token).jti!);
    expect(await reason(auth.authenticate(request(token)))).toBe('401 invalid_token token_revoked');
    expect(isRevoked).toHaveBeenCalledTimes(2);
  });

  it('still consults the user service on cache hits (a user disabled after login is refused)', async () => {
    const user = { id: 'u1', roles: ['user'], disabled: false };
    const { auth } = build({ userService: { getUserById: () => user } });
    const token = await auth.issueUserToken({ subject: 'u1' });
    await auth.authenticate(request(token));
    user.disabled = true;
    expect(await reason(auth.authenticate(request(token)))).toBe('401 invalid_token user_disabled');
  });

  it('does not cache failures: a token refused before nbf passes once valid', async () => {
    const { auth, clock } = build({ clockToleranceSec: 0 });
    const key = new TextEncoder().encode(SECRET);
    const nowSec = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://id.test').setAudience('flow-api').setSubject('u1')
      .setNotBefore(nowSec + 10).setExpirationTime(nowSec + 100)
      .sign(key);
    expect(await reason(auth.authenticate(request(token)))).toBe('401 invalid_token token_not_yet_valid');
    clock.advance(11_000);
    expect((await auth.authenticate(request(token)))?.subject).toBe('u1');
  });
});

describe('brute-force guard', () => {
  it('blocks an IP after too many failures until the window allows again, other IPs unaffected', async () => {
    const { auth, clock } = build({ bruteForce: { limit: 2, windowMs: 10_000 } });
    const good = await auth.issueUserToken({ subject: 'u1' });
    expect(await reason(auth.authenticate(request('x.y.z')))).toBe('401 invalid_token token_malformed');
    expect(await reason(auth.authenticate(request('x.y.z')))).toBe('401 invalid_token token_malformed');
    expect(await reason(auth.authenticate(request('x.y.z')))).toMatch(/^429 too_many_requests too_many_failures/);
    expect(await reason(auth.authenticate(request(good)))).toBe('429 too_many_requests too_many_failures');
    expect((await auth.authenticate(request(good, { ip: '10.0.0.2' })))?.subject).toBe('u1');
    clock.advance(20_000);
    expect((await auth.authenticate(request(good)))?.subject).toBe('u1');
  });

  it('does not count missing credentials or authorization refusals as failures', async () => {
    const { auth } = build({ bruteForce: { limit: 1, windowMs: 60_000 } });
    const token = await auth.issueUserToken({ subject: 'u1', roles: ['user'] });
    for (let i = 0; i < 3; i++) {
      expect(await reason(auth.protect(request(), { type: 'auth' }))).toBe('401 - credentials_missing');
      expect(await reason(auth.protect(request(token), { type: 'role', role: 'admin' }))).toBe('403 insufficient_scope role_required');
    }
  });
});

describe('AuthError responses', () => {
  it('builds RFC 6750 challenges without values from the token', () => {
    const error = new AuthError('insufficient_scope', 'permission_required', { scope: 'flows:write' });
    expect(error.toResponse('flow')).toEqual({
      status: 403,
      headers: {
        'cache-control': 'no-store',
        'www-authenticate': 'Bearer realm="flow", error="insufficient_scope", error_description="A permission is missing", scope="flows:write"',
      },
      body: { error: 'insufficient_scope', code: 'permission_required', message: 'A permission is missing' },
    });
    expect(new AuthError(undefined, 'credentials_missing').toResponse().headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(AuthError.isInstance(error)).toBe(true);
    expect(AuthError.isInstance(new ValidationError('x', 'bad'))).toBe(false);
  });
});
