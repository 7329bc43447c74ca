import { createHmac, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnifiedAuthMiddleware, type AuthUser } from '../../../src/auth/index.js';
import {
  call,
  closedPortUrl,
  JwksServer,
  keyPair,
  type KeyPair,
  type RunningApp,
  secret,
  startExpress,
  startFastify,
} from '../../helpers/auth-fixtures.js';

const USER_ISS = 'https://id.test/';
const SVC_ISS = 'https://services.test';
const AUD = 'flow-api';

let rsa: KeyPair;
let ec: KeyPair;
let attacker: KeyPair;
let serviceSecret: Uint8Array;
let jwks: JwksServer;
let jwksUrl: string;
const revoked = new Set<string>();
const users = new Map<string, AuthUser>();

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

type Signer = 'rs' | 'es' | 'svc' | 'none' | { hmac: Uint8Array | string } | { rsaKey: KeyObject };

/** Builds a compact JWS by hand, so any header or payload (even a hostile one) can be sent. */
function mint(header: Record<string, unknown>, payload: Record<string, unknown> | string, signer: Signer): string {
  const input = `${b64(header)}.${typeof payload === 'string' ? payload : b64(payload)}`;
  let signature: Buffer;
  if (signer === 'none') signature = Buffer.alloc(0);
  else if (signer === 'rs') signature = cryptoSign('sha256', Buffer.from(input), rsa.privateKey);
  else if (signer === 'es') signature = cryptoSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  else if (signer === 'svc') signature = createHmac('sha256', serviceSecret).update(input).digest();
  else if ('hmac' in signer) signature = createHmac('sha256', signer.hmac).update(input).digest();
  else signature = cryptoSign('sha256', Buffer.from(input), signer.rsaKey);
  return `${input}.${signature.toString('base64url')}`;
}

const userClaims = (subject: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: USER_ISS, aud: AUD, sub: subject, iat: now(), exp: now() + 600, jti: `j-${subject}-${Math.random()}`, ...extra,
});
const workerClaims = (): Record<string, unknown> => ({ iss: SVC_ISS, aud: AUD, sub: 'flow-worker', iat: now(), exp: now() + 60, jti: 'x' });
const userToken = (sub: string, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string =>
  mint({ alg: 'RS256', typ: 'at+jwt', kid: 'rs1', ...header }, userClaims(sub, extra), 'rs');
const serviceToken = (subject: string, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string => {
  const claims: Record<string, unknown> = { iss: SVC_ISS, aud: AUD, sub: subject, iat: now(), exp: now() + 60, jti: `s-${Math.random()}`, ...extra };
  return mint({ alg: 'HS256', typ: 'service+jwt', ...header }, claims, 'svc');
};

function middleware(overrides: { jwksUri?: string; timeoutMs?: number; staticKey?: boolean } = {}): UnifiedAuthMiddleware {
  return new UnifiedAuthMiddleware({
    userTokens: overrides.staticKey === true
      ? { issuer: USER_ISS, audience: AUD, algorithms: ['RS256'], publicKey: rsa.publicPem }
      : {
          issuer: USER_ISS,
          audience: AUD,
          algorithms: ['RS256', 'ES256'],
          jwksUri: overrides.jwksUri ?? jwksUrl,
          jwks: { timeoutMs: overrides.timeoutMs ?? 2_000, cooldownMs: 0 },
        },
    serviceTokens: { issuer: SVC_ISS, audience: AUD, algorithms: ['HS256'], secret: serviceSecret, maxTokenAgeSec: 300 },
    userService: { getUserById: (id) => users.get(id) },
    isRevoked: (claims) => typeof claims.jti === 'string' && revoked.has(claims.jti),
    tokenLocations: { header: true, cookie: 'access_token' },
    bruteForce: false,
  });
}

beforeAll(async () => {
  rsa = await keyPair('rsa', 'rs1');
  ec = await keyPair('ec', 'ec1');
  attacker = await keyPair('rsa', 'evil');
  serviceSecret = secret();
  jwks = new JwksServer([rsa.publicJwk, ec.publicJwk]);
  jwksUrl = await jwks.start();
  users.set('u-user', { id: 'u-user', roles: ['user'], permissions: ['flows:read'], emailVerified: true, workspaces: [{ id: 'w1', roles: ['viewer'] }] });
  users.set('u-admin', { id: 'u-admin', roles: ['admin'], permissions: ['flows:*'], emailVerified: true, workspaces: [{ id: 'w1', roles: ['editor'] }] });
  users.set('u-super', { id: 'u-super', roles: ['super_admin'], emailVerified: true });
  users.set('u-unverified', { id: 'u-unverified', roles: ['user'], emailVerified: false });
  users.set('u-disabled', { id: 'u-disabled', roles: ['admin'], disabled: true, emailVerified: true });
  users.set('u-reports', { id: 'u-reports', roles: ['user'], permissions: ['reports:admin'], emailVerified: true });
});

afterAll(async () => {
  await jwks.stop();
});

interface Case {
  name: string;
  path: string;
  status: number;
  error: string | undefined;
  code?: string;
  token?: () => string | Promise<string>;
  authorization?: () => string;
  headers?: () => Record<string, string>;
  body?: unknown;
  /** Expected `code` when user keys are a static public key instead of a JWKS. */
  staticCode?: string;
}

const longToken = (): string => userToken('u-user', { pad: 'x'.repeat(9_000) });
const rsaPublicAsHmacSecret = (): string => rsa.publicPem;

const cases: Case[] = [
  { name: 'no credentials: bare Bearer challenge without error', path: '/user', status: 401, error: undefined, code: 'credentials_missing' },
  { name: 'Basic credentials count as no Bearer credentials', path: '/user', status: 401, error: undefined, code: 'credentials_missing', authorization: () => 'Basic dTpw' },
  ...['none', 'None', 'NONE', 'nOnE'].map((alg): Case => ({
    name: `alg "${alg}" is refused`, path: '/user', status: 401, error: 'invalid_token', code: 'algorithm_not_allowed',
    token: () => mint({ alg, typ: 'at+jwt' }, userClaims('u-admin'), 'none'),
  })),
  { name: 'HS/RS confusion: HS256 signed with the RSA public key', path: '/user', status: 401, error: 'invalid_token', code: 'algorithm_not_allowed',
    token: () => mint({ alg: 'HS256', typ: 'at+jwt', kid: 'rs1' }, userClaims('u-admin'), { hmac: rsaPublicAsHmacSecret() }) },
  { name: 'RS256 on the HMAC-only service kind', path: '/svc', status: 401, error: 'invalid_token', code: 'algorithm_not_allowed',
    token: () => mint({ alg: 'RS256', typ: 'service+jwt' }, workerClaims(), 'rs') },
  { name: 'service token signed with a guessed secret', path: '/svc', status: 401, error: 'invalid_token', code: 'signature_invalid',
    token: () => mint({ alg: 'HS256', typ: 'service+jwt' }, workerClaims(), { hmac: 'x'.repeat(32) }) },
  { name: 'unknown kid (after a JWKS refetch)', path: '/user', status: 401, error: 'invalid_token', code: 'key_not_found', staticCode: 'signature_invalid',
    token: () => mint({ alg: 'RS256', typ: 'at+jwt', kid: 'evil' }, userClaims('u-admin'), { rsaKey: attacker.privateKey }) },
  { name: 'jku header pointing at an attacker JWKS', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: () => mint({ alg: 'RS256', typ: 'at+jwt', kid: 'evil', jku: 'https://evil.test/jwks' }, userClaims('u-admin'), { rsaKey: attacker.privateKey }) },
  { name: 'x5u header', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: () => userToken('u-admin', {}, { x5u: 'https://evil.test/cert.pem' }) },
  { name: 'embedded jwk header with the attacker key', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: async () => mint({ alg: 'RS256', typ: 'at+jwt', jwk: await exportJWK(attacker.publicKey) }, userClaims('u-admin'), { rsaKey: attacker.privateKey }) },
  { name: 'x5c header', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: () => userToken('u-admin', {}, { x5c: ['MIIB'] }) },
  { name: 'crit header', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: () => userToken('u-admin', {}, { crit: ['exp'] }) },
  { name: 'b64=false (unencoded payload) header', path: '/user', status: 401, error: 'invalid_token', code: 'header_not_allowed',
    token: () => userToken('u-admin', {}, { b64: false }) },
  { name: 'non-string kid', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => userToken('u-admin', {}, { kid: 42 }) },
  { name: 'expired token', path: '/user', status: 401, error: 'invalid_token', code: 'token_expired',
    token: () => userToken('u-user', { exp: now() - 60 }) },
  { name: 'nbf in the future', path: '/user', status: 401, error: 'invalid_token', code: 'token_not_yet_valid',
    token: () => userToken('u-user', { nbf: now() + 120 }) },
  { name: 'missing exp', path: '/user', status: 401, error: 'invalid_token', code: 'claim_missing',
    token: () => userToken('u-user', { exp: undefined }) },
  { name: 'non-numeric exp', path: '/user', status: 401, error: 'invalid_token', code: 'claim_invalid',
    token: () => userToken('u-user', { exp: 'tomorrow' }) },
  { name: 'wrong issuer', path: '/user', status: 401, error: 'invalid_token', code: 'issuer_not_allowed',
    token: () => userToken('u-user', { iss: 'https://evil.test/' }) },
  { name: 'wrong audience', path: '/user', status: 401, error: 'invalid_token', code: 'audience_mismatch',
    token: () => userToken('u-user', { aud: 'billing-api' }) },
  { name: 'wrong typ', path: '/user', status: 401, error: 'invalid_token', code: 'type_not_allowed',
    token: () => userToken('u-user', {}, { typ: 'secevent+jwt' }) },
  { name: 'missing typ', path: '/user', status: 401, error: 'invalid_token', code: 'type_not_allowed',
    token: () => userToken('u-user', {}, { typ: undefined }) },
  { name: 'user token on a service route', path: '/svc', status: 401, error: 'invalid_token', code: 'wrong_token_kind',
    token: () => userToken('u-admin') },
  { name: 'service token on a user route', path: '/user', status: 401, error: 'invalid_token', code: 'wrong_token_kind',
    token: () => serviceToken('flow-worker') },
  { name: 'service token with user typ is checked as a user token', path: '/svc', status: 401, error: 'invalid_token', code: 'algorithm_not_allowed',
    token: () => serviceToken('flow-worker', {}, { typ: 'at+jwt' }) },
  { name: 'service not in the allowed list', path: '/svc-billing', status: 403, error: 'insufficient_scope', code: 'service_not_allowed',
    token: () => serviceToken('flow-worker') },
  { name: 'service token without jti', path: '/svc', status: 401, error: 'invalid_token', code: 'claim_missing',
    token: () => serviceToken('flow-worker', { jti: undefined }) },
  { name: 'service token older than maxTokenAgeSec', path: '/svc', status: 401, error: 'invalid_token', code: 'token_too_old',
    token: () => serviceToken('flow-worker', { iat: now() - 3_600 }) },
  { name: 'tampered payload (role escalation)', path: '/user', status: 401, error: 'invalid_token', code: 'signature_invalid',
    token: () => {
      const [h, , s] = userToken('u-user').split('.');
      return `${h}.${b64(userClaims('u-super', { roles: ['super_admin'] }))}.${s}`;
    } },
  { name: 'tampered signature', path: '/user', status: 401, error: 'invalid_token', code: 'signature_invalid',
    token: () => {
      const t = userToken('u-user');
      return `${t.slice(0, -6)}${t.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;
    } },
  { name: 'signature stripped', path: '/user', status: 401, error: 'invalid_token', code: 'signature_invalid',
    token: () => `${userToken('u-user').split('.').slice(0, 2).join('.')}.` },
  { name: 'truncated token', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => userToken('u-user').split('.')[0]!.slice(0, 20) },
  { name: '2-part token', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => userToken('u-user').split('.').slice(0, 2).join('.') },
  { name: '4-part token', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => `${userToken('u-user')}.AAAA` },
  { name: '5-part (JWE) token', path: '/user', status: 401, error: 'invalid_token', code: 'token_encrypted',
    token: () => `${b64({ alg: 'dir', enc: 'A256GCM' })}.AAAA.BBBB.CCCC.DDDD` },
  { name: 'bad base64url in the header', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => `eyJ+${userToken('u-user').slice(4)}` },
  { name: 'header that is not JSON', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => `${b64('not json')}.${b64(userClaims('u-user'))}.AAAA` },
  { name: 'payload with invalid UTF-8 (validly signed)', path: '/user', status: 401, error: 'invalid_token', code: 'token_malformed',
    token: () => mint({ alg: 'RS256', typ: 'at+jwt', kid: 'rs1' }, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url'), 'rs') },
  { name: 'oversized token', path: '/user', status: 401, error: 'invalid_token', code: 'token_too_large', token: longToken },
  { name: 'empty Bearer credential', path: '/user', status: 400, error: 'invalid_request', code: 'malformed_authorization', authorization: () => 'Bearer ' },
  { name: 'Bearer credential with spaces inside', path: '/user', status: 400, error: 'invalid_request', code: 'malformed_authorization', authorization: () => 'Bearer abc def' },
  { name: 'token in header and cookie', path: '/user', status: 400, error: 'invalid_request', code: 'multiple_token_locations',
    token: () => userToken('u-user'), headers: () => ({ cookie: `access_token=${userToken('u-user')}` }) },
  { name: 'revoked jti', path: '/user', status: 401, error: 'invalid_token', code: 'token_revoked',
    token: () => {
      revoked.add('revoked-1');
      return userToken('u-user', { jti: 'revoked-1' });
    } },
  { name: 'disabled user', path: '/user', status: 401, error: 'invalid_token', code: 'user_disabled', token: () => userToken('u-disabled') },
  { name: 'unknown user', path: '/user', status: 401, error: 'invalid_token', code: 'user_not_found', token: () => userToken('u-ghost') },
  { name: 'unverified email', path: '/verified', status: 403, error: 'insufficient_scope', code: 'email_not_verified', token: () => userToken('u-unverified') },
  { name: 'user below admin', path: '/admin', status: 403, error: 'insufficient_scope', code: 'role_required', token: () => userToken('u-user') },
  { name: 'admin below super_admin', path: '/super', status: 403, error: 'insufficient_scope', code: 'role_required', token: () => userToken('u-admin') },
  { name: 'role claim ignored when userService says otherwise', path: '/admin', status: 403, error: 'insufficient_scope', code: 'role_required',
    token: () => userToken('u-user', { roles: ['super_admin'] }) },
  { name: 'missing permission', path: '/perm', status: 403, error: 'insufficient_scope', code: 'permission_required', token: () => userToken('u-user') },
  { name: 'none of the any-permissions', path: '/anyperm', status: 403, error: 'insufficient_scope', code: 'permission_required', token: () => userToken('u-user') },
  { name: 'workspace the user is not a member of', path: '/w/w2', status: 403, error: 'insufficient_scope', code: 'workspace_denied', token: () => userToken('u-admin') },
  { name: 'workspace member below the required workspace role', path: '/w/w1', status: 403, error: 'insufficient_scope', code: 'workspace_denied', token: () => userToken('u-user') },
  { name: 'workspace id missing', path: '/w-body', status: 400, error: 'invalid_request', code: 'workspace_required', token: () => userToken('u-admin'), body: {} },
  { name: 'conflicting workspace ids (header vs body)', path: '/w-body', status: 400, error: 'invalid_request', code: 'workspace_required',
    token: () => userToken('u-admin'), headers: () => ({ 'x-workspace-id': 'w2' }), body: { workspaceId: 'w1' } },
  { name: 'invalid token on an optional route is still refused', path: '/optional', status: 401, error: 'invalid_token', code: 'token_expired',
    token: () => userToken('u-user', { exp: now() - 60 }) },
];

const allowed: { name: string; path: string; token: () => string; subject: string | null; workspaceId?: string; headers?: () => Record<string, string>; body?: unknown; jwksOnly?: boolean }[] = [
  { name: 'valid RS256 user token', path: '/user', token: () => userToken('u-user'), subject: 'u-user' },
  { name: 'valid ES256 user token', path: '/user', subject: 'u-user', jwksOnly: true,
    token: () => mint({ alg: 'ES256', typ: 'at+jwt', kid: 'ec1' }, userClaims('u-user'), 'es') },
  { name: 'issuer without its trailing slash', path: '/user', token: () => userToken('u-user', { iss: 'https://id.test' }), subject: 'u-user' },
  { name: 'expired within the 5 s clock tolerance', path: '/user', token: () => userToken('u-user', { exp: now() - 2 }), subject: 'u-user' },
  { name: 'admin passes admin', path: '/admin', token: () => userToken('u-admin'), subject: 'u-admin' },
  { name: 'super_admin passes admin (hierarchy)', path: '/admin', token: () => userToken('u-super'), subject: 'u-super' },
  { name: 'wildcard permission flows:* grants flows:write', path: '/perm', token: () => userToken('u-admin'), subject: 'u-admin' },
  { name: 'one of the any-permissions', path: '/anyperm', token: () => userToken('u-reports'), subject: 'u-reports' },
  { name: 'workspace editor from the route param', path: '/w/w1', token: () => userToken('u-admin'), subject: 'u-admin', workspaceId: 'w1' },
  { name: 'super_admin bypasses workspace membership', path: '/w/w9', token: () => userToken('u-super'), subject: 'u-super', workspaceId: 'w9' },
  { name: 'workspace id from the body', path: '/w-body', token: () => userToken('u-admin'), subject: 'u-admin', workspaceId: 'w1', body: { workspaceId: 'w1' } },
  { name: 'verified email', path: '/verified', token: () => userToken('u-user'), subject: 'u-user' },
  { name: 'allowed service', path: '/svc', token: () => serviceToken('flow-worker'), subject: 'flow-worker' },
  { name: 'user on a user-or-service route', path: '/either', token: () => userToken('u-user'), subject: 'u-user' },
  { name: 'service on a user-or-service route', path: '/either', token: () => serviceToken('flow-worker'), subject: 'flow-worker' },
  { name: 'token from the cookie', path: '/user', token: () => '', headers: () => ({ cookie: `theme=dark; access_token=${userToken('u-user')}` }), subject: 'u-user' },
  { name: 'optional route without credentials', path: '/optional', token: () => '', subject: null },
];

// JWKS-backed user keys (jose's remote key set) on both frameworks, and static keys (verified
// natively) on Express: the same refusals either way.
for (const [framework, keys] of [['express', 'jwks'], ['fastify', 'jwks'], ['express', 'static key']] as const) {
  describe(`attack suite over HTTP (${framework}, user keys from ${keys})`, () => {
    let app: RunningApp;
    const staticKey = keys === 'static key';
    beforeAll(async () => {
      const auth = middleware({ staticKey });
      app = framework === 'express' ? await startExpress(auth) : await startFastify(auth);
    });
    afterAll(async () => {
      await app.close();
    });

    it.each(cases)('refuses: $name', async (c) => {
      const token = c.token === undefined ? undefined : await c.token();
      const result = await call(app.url, c.path, {
        ...(token === undefined ? {} : { token }),
        ...(c.authorization === undefined ? {} : { authorization: c.authorization() }),
        ...(c.headers === undefined ? {} : { headers: c.headers() }),
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      expect(result.status).toBe(c.status);
      expect(result.body['error']).toBe(c.error);
      if (c.code !== undefined) expect(result.body['code']).toBe(staticKey ? (c.staticCode ?? c.code) : c.code);
      expect(Object.keys(result.body).sort()).toEqual(c.error === undefined ? ['code', 'message'] : ['code', 'error', 'message']);
      const challenge = result.headers.get('www-authenticate');
      if (c.error === undefined) expect(challenge).toBe('Bearer realm="api"');
      else expect(challenge).toContain(`error="${c.error}"`);
      expect(challenge).toMatch(/^Bearer realm="api"/);
      expect(result.headers.get('cache-control')).toBe('no-store');
    });

    it.each(allowed.filter((c) => !(staticKey && c.jwksOnly === true)))('allows: $name', async (c) => {
      const token = c.token();
      const result = await call(app.url, c.path, {
        ...(token === '' ? {} : { token }),
        ...(c.headers === undefined ? {} : { headers: c.headers() }),
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      expect(result.status).toBe(200);
      expect(result.body['subject']).toBe(c.subject);
      if (c.workspaceId !== undefined) expect(result.body['workspaceId']).toBe(c.workspaceId);
    });

    it('names the missing permission in the challenge scope', async () => {
      const result = await call(app.url, '/perm', { token: userToken('u-user') });
      expect(result.headers.get('www-authenticate')).toBe(
        'Bearer realm="api", error="insufficient_scope", error_description="A permission is missing", scope="flows:write"',
      );
    });
  });
}

describe('JWKS failures over HTTP', () => {
  it.each(['express', 'fastify'] as const)('answers 503 temporarily_unavailable when the JWKS endpoint is down (%s)', async (framework) => {
    const auth = middleware({ jwksUri: await closedPortUrl() });
    const app = framework === 'express' ? await startExpress(auth) : await startFastify(auth);
    try {
      const result = await call(app.url, '/user', { token: userToken('u-user') });
      expect(result.status).toBe(503);
      expect(result.body['error']).toBe('temporarily_unavailable');
      expect(result.body['code']).toBe('keys_unavailable');
      expect(result.headers.get('retry-after')).toBe('5');
    } finally {
      await app.close();
    }
  });

  it.each(['express', 'fastify'] as const)('answers 503 when the JWKS endpoint hangs past the timeout (%s)', async (framework) => {
    const slow = new JwksServer([rsa.publicJwk]);
    slow.mode = 'hang';
    const auth = middleware({ jwksUri: await slow.start(), timeoutMs: 300 });
    const app = framework === 'express' ? await startExpress(auth) : await startFastify(auth);
    try {
      const started = Date.now();
      const result = await call(app.url, '/user', { token: userToken('u-user') });
      expect(result.status).toBe(503);
      expect(result.body['error']).toBe('temporarily_unavailable');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(slow.requests).toBe(1);
    } finally {
      await app.close();
      await slow.stop();
    }
  });

  it('answers 503 when the JWKS endpoint returns 500, and recovers once it serves keys', async () => {
    const flaky = new JwksServer([rsa.publicJwk]);
    flaky.mode = 'error';
    const auth = middleware({ jwksUri: await flaky.start() });
    const app = await startExpress(auth);
    try {
      expect((await call(app.url, '/user', { token: userToken('u-user') })).status).toBe(503);
      flaky.mode = 'ok';
      expect((await call(app.url, '/user', { token: userToken('u-user') })).status).toBe(200);
    } finally {
      await app.close();
      await flaky.stop();
    }
  });
});

describe('brute-force guard over HTTP', () => {
  it('answers 429 with Retry-After once an IP exceeds its failed attempts, even for a valid token', async () => {
    const auth = new UnifiedAuthMiddleware({
      userTokens: { issuer: USER_ISS, audience: AUD, algorithms: ['RS256'], publicKey: rsa.publicPem },
      bruteForce: { limit: 3, windowMs: 60_000 },
    });
    const app = await startExpress(auth);
    try {
      const bad = mint({ alg: 'RS256', typ: 'at+jwt' }, userClaims('u-user'), { rsaKey: attacker.privateKey });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(app.url, '/user', { token: bad })).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const blocked = await call(app.url, '/user', { token: userToken('u-user') });
      expect(blocked.status).toBe(429);
      expect(blocked.body['error']).toBe('too_many_requests');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });
});

