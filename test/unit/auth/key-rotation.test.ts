import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  getDefaultAuthMiddleware,
  resetDefaultAuthMiddleware,
  resolveAuthOptions,
  type ServiceTokenOptions,
  UnifiedAuthMiddleware,
  type UserTokenOptions,
} from '../../../src/auth/index.js';
import { ValidationError } from '../../../src/core/index.js';

const ISS = 'https://id.test/';
const AUD = 'flow-api';
const NEW = 'n'.repeat(40);
const OLD = 'o'.repeat(40);
const THIRD = 't'.repeat(40);

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A user token signed with jose, `alg` and `kid` as asked. */
async function userToken(key: Uint8Array | KeyObject, alg: string, kid?: string, subject = 'u1'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg, typ: 'at+jwt', ...(kid === undefined ? {} : { kid }) })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key);
}

function middleware(userTokens: Partial<UserTokenOptions>, serviceTokens?: ServiceTokenOptions): UnifiedAuthMiddleware {
  return new UnifiedAuthMiddleware({
    userTokens: { issuer: ISS, audience: AUD, algorithms: ['HS256'], ...userTokens },
    ...(serviceTokens === undefined ? {} : { serviceTokens }),
    bruteForce: false,
    env: {},
  });
}

/** `subject` on success, else `status error reason` and the public message. */
async function outcome(auth: UnifiedAuthMiddleware, token: string): Promise<string> {
  try {
    const context = await auth.authenticate({ headers: { authorization: `Bearer ${token}` } });
    return `ok ${context?.subject ?? '-'}`;
  } catch (error) {
    if (!AuthError.isInstance(error)) throw error;
    return `${error.status} ${error.error ?? '-'} ${error.reason}: ${JSON.stringify(error.toResponse('api').body)}`;
  }
}

afterEach(async () => {
  await resetDefaultAuthMiddleware();
});

describe('HMAC secret rotation', () => {
  it('accepts the new and the old secret, and refuses a third one exactly as a single-key middleware does', async () => {
    const rotating = middleware({ secret: [NEW, OLD] });
    expect(await outcome(rotating, await userToken(bytes(NEW), 'HS256', undefined, 'with-new'))).toBe('ok with-new');
    expect(await outcome(rotating, await userToken(bytes(OLD), 'HS256', undefined, 'with-old'))).toBe('ok with-old');

    const foreign = await userToken(bytes(THIRD), 'HS256');
    const before = await outcome(middleware({ secret: NEW }), foreign);
    expect(before).toMatch(/^401 invalid_token signature_invalid/);
    expect(await outcome(rotating, foreign)).toBe(before);
  });

  it('accepts Uint8Array secrets in a list, for every listed HS algorithm', async () => {
    const auth = middleware({ algorithms: ['HS256', 'HS512'], secret: [bytes(NEW), { kid: 'old', key: bytes(OLD) }] });
    expect(await outcome(auth, await userToken(bytes(OLD), 'HS512'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(bytes(NEW), 'HS256'))).toBe('ok u1');
  });

  it('lets a kid select the key: a token naming "b" but signed by "a" fails although "a" is configured', async () => {
    const auth = middleware({ secret: [{ kid: 'a', key: NEW }, { kid: 'b', key: OLD }] });
    expect(await outcome(auth, await userToken(bytes(NEW), 'HS256', 'a'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(bytes(OLD), 'HS256', 'b'))).toBe('ok u1');
    const wrongKey = await outcome(auth, await userToken(bytes(NEW), 'HS256', 'b'));
    expect(wrongKey).toMatch(/^401 invalid_token signature_invalid/);
    // An unknown kid gets the very same answer as a wrong key: nothing tells which kids exist.
    expect(await outcome(auth, await userToken(bytes(NEW), 'HS256', 'zzz'))).toBe(wrongKey);
    // Without a kid the keys are tried in order.
    expect(await outcome(auth, await userToken(bytes(OLD), 'HS256'))).toBe('ok u1');
  });

  it('ignores a token kid when no configured key has one (the behaviour of a single key)', async () => {
    const auth = middleware({ secret: [NEW, OLD] });
    expect(await outcome(auth, await userToken(bytes(OLD), 'HS256', 'issuer-kid-7'))).toBe('ok u1');
  });
});

describe('public key rotation', () => {
  let rsaA: { publicKey: KeyObject; privateKey: KeyObject };
  let rsaB: { publicKey: KeyObject; privateKey: KeyObject };
  let rsaC: { publicKey: KeyObject; privateKey: KeyObject };

  beforeAll(() => {
    [rsaA, rsaB, rsaC] = [0, 1, 2].map(() => generateKeyPairSync('rsa', { modulusLength: 2048 })) as [typeof rsaA, typeof rsaA, typeof rsaA];
  });

  it('RS256: accepts a PEM key and a JWK with a kid, refuses a third key', async () => {
    const auth = middleware({
      algorithms: ['RS256'],
      publicKey: [rsaA.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { kid: 'b', key: await exportJWK(rsaB.publicKey) }],
    });
    expect(await outcome(auth, await userToken(rsaA.privateKey, 'RS256'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(rsaB.privateKey, 'RS256'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(rsaB.privateKey, 'RS256', 'b'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(rsaA.privateKey, 'RS256', 'b'))).toMatch(/^401 invalid_token signature_invalid/);
    expect(await outcome(auth, await userToken(rsaC.privateKey, 'RS256'))).toMatch(/^401 invalid_token signature_invalid/);
  });

  it('EdDSA: tries every key off the event loop and takes the first that verifies', async () => {
    const [one, two, three] = [0, 1, 2].map(() => generateKeyPairSync('ed25519'));
    const auth = middleware({ algorithms: ['EdDSA'], publicKey: [one!.publicKey, two!.publicKey] });
    expect(await outcome(auth, await userToken(two!.privateKey, 'EdDSA'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(one!.privateKey, 'EdDSA'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(three!.privateKey, 'EdDSA'))).toMatch(/^401 invalid_token signature_invalid/);
  });
});

describe('validation of key lists', () => {
  it('names the indexed entry that is invalid, as a single key would be checked', () => {
    expect(() => middleware({ secret: [NEW, 'too-short'] })).toThrow(/"userTokens.secret\[1\]" must be at least 32 bytes/);
    expect(() => middleware({ secret: [NEW, { kid: 'x', key: 'too-short' }] })).toThrow(/"userTokens.secret\[1\]" must be at least 32 bytes/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const ok = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const otherCurve = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(() => middleware({ algorithms: ['RS256'], publicKey: [weak] })).toThrow(/"userTokens.publicKey\[0\]" must be an RSA key of at least 2048 bits/);
    expect(() => middleware({ algorithms: ['ES256'], publicKey: [ok, ok, { kid: 'p384', key: otherCurve }] })).toThrow(
      /"userTokens.publicKey\[2\]" is not a key for ES256/,
    );
    try {
      middleware({ secret: [NEW, OLD, 'x'] });
      expect.unreachable();
    } catch (error) {
      expect(ValidationError.isInstance(error) && error.field).toBe('userTokens.secret[2]');
    }
  });

  it('refuses an empty list, more than 10 keys, and missing or repeated kids', () => {
    expect(() => middleware({ secret: [] })).toThrow(/"userTokens.secret" must list at least one key/);
    expect(() => middleware({ secret: Array.from({ length: 11 }, (_, i) => `${i}`.padEnd(32, 'k')) })).toThrow(
      /"userTokens.secret" must list at most 10 keys \(got 11\)/,
    );
    expect(() => middleware({ secret: Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(32, 'k')) })).not.toThrow();
    expect(() => middleware({ secret: [{ kid: 'a', key: NEW }, { kid: 'a', key: OLD }] })).toThrow(/"userTokens.secret\[1\].kid" repeats the kid "a"/);
    expect(() => middleware({ secret: { kid: '', key: NEW } })).toThrow(/"userTokens.secret.kid" must be a non-empty string/);
  });

  it('refuses a keyId that the signing key does not carry', () => {
    expect(() => middleware({ secret: [{ kid: 'a', key: NEW }, { kid: 'b', key: OLD }], keyId: 'b' })).toThrow(/"userTokens.keyId" must equal the kid of the first secret/);
    expect(() => middleware({ secret: [NEW, { kid: 'b', key: OLD }], keyId: 'b' })).toThrow(/"userTokens.keyId"/);
    expect(() => middleware({ secret: [{ kid: 'a', key: NEW }], keyId: 'a' })).not.toThrow();
  });
});

describe('signing with rotated keys', () => {
  const service = (secret: ServiceTokenOptions['secret']): ServiceTokenOptions => ({
    issuer: 'flow-worker', audience: AUD, algorithms: ['HS256'], serviceName: 'flow-worker', secret,
  });

  it('signs service and user tokens with the first secret and its kid', async () => {
    const auth = middleware({ secret: [{ kid: 'u-new', key: NEW }, { kid: 'u-old', key: OLD }] }, service([{ kid: 's-new', key: THIRD }, OLD]));
    const serviceToken = await auth.issueServiceToken({ audience: AUD });
    expect(decodeProtectedHeader(serviceToken)).toMatchObject({ alg: 'HS256', kid: 's-new' });
    await expect(jwtVerify(serviceToken, bytes(THIRD))).resolves.toBeDefined();
    await expect(jwtVerify(serviceToken, bytes(OLD))).rejects.toThrow(/signature/);

    const userTok = await auth.issueUserToken({ subject: 'u9' });
    expect(decodeProtectedHeader(userTok)).toMatchObject({ kid: 'u-new' });
    await expect(jwtVerify(userTok, bytes(NEW))).resolves.toBeDefined();
    expect(await outcome(auth, userTok)).toBe('ok u9');
  });

  it('puts no kid in the header when the first secret has none', async () => {
    const auth = middleware({ secret: [NEW, { kid: 'old', key: OLD }] });
    const token = await auth.issueUserToken({ subject: 'u1' });
    expect(decodeProtectedHeader(token).kid).toBeUndefined();
    await expect(jwtVerify(token, bytes(NEW))).resolves.toBeDefined();
  });

  it('signs with the private key and the kid of the public key it pairs with', async () => {
    const [one, two] = [0, 1].map(() => generateKeyPairSync('ed25519'));
    const auth = new UnifiedAuthMiddleware({
      serviceTokens: {
        issuer: 'flow-worker', audience: AUD, algorithms: ['EdDSA'], serviceName: 'flow-worker',
        publicKey: [{ kid: 'k1', key: one!.publicKey }, { kid: 'k2', key: two!.publicKey }],
        privateKey: two!.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      env: {},
    });
    const token = await auth.issueServiceToken({ audience: AUD });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', kid: 'k2' });
    await expect(jwtVerify(token, two!.publicKey)).resolves.toBeDefined();
    expect(await outcome(auth, token)).toMatch(/^ok flow-worker/);
  });
});

describe('the verified-token cache after a key is removed', () => {
  it('does not let a token verified under a removed key pass a middleware rebuilt without it', async () => {
    const token = await userToken(bytes(OLD), 'HS256');
    const during = middleware({ secret: [NEW, OLD] });
    expect(await outcome(during, token)).toBe('ok u1');
    expect(await outcome(during, token)).toBe('ok u1'); // now served from this instance's cache
    const after = middleware({ secret: [NEW] });
    expect(await outcome(after, token)).toMatch(/^401 invalid_token signature_invalid/);
  });

  it('does not either through the process-wide instance once it is reset and rebuilt', async () => {
    const env = { AUTH_USER_ISSUER: ISS, AUTH_USER_AUDIENCE: AUD, AUTH_JWT_SECRET: NEW, AUTH_JWT_PREVIOUS_SECRET: OLD };
    const token = await userToken(bytes(OLD), 'HS256');
    expect(await outcome(getDefaultAuthMiddleware({ env }), token)).toBe('ok u1');
    await resetDefaultAuthMiddleware();
    const rebuilt = getDefaultAuthMiddleware({ env: { ...env, AUTH_JWT_PREVIOUS_SECRET: undefined } });
    expect(await outcome(rebuilt, token)).toMatch(/^401 invalid_token signature_invalid/);
  });
});

describe('rotation through the environment', () => {
  const base = { AUTH_USER_ISSUER: ISS, AUTH_USER_AUDIENCE: AUD, AUTH_SERVICE_AUDIENCE: AUD, AUTH_SERVICE_NAME: 'flow-worker' };

  it('accepts the previous secrets for verification and signs with the current ones', async () => {
    const options = resolveAuthOptions({}, { ...base, AUTH_JWT_SECRET: NEW, AUTH_JWT_PREVIOUS_SECRET: OLD, AUTH_SERVICE_SECRET: THIRD, AUTH_SERVICE_PREVIOUS_SECRET: OLD });
    expect(options.userTokens?.secret).toEqual([NEW, OLD]);
    expect(options.serviceTokens?.secret).toEqual([THIRD, OLD]);
    expect(options.userTokens?.algorithms).toEqual(['HS256']);
    const auth = new UnifiedAuthMiddleware({ ...options, env: {} });
    expect(await outcome(auth, await userToken(bytes(OLD), 'HS256'))).toBe('ok u1');
    expect(await outcome(auth, await userToken(bytes(NEW), 'HS256'))).toBe('ok u1');
    await expect(jwtVerify(await auth.issueUserToken({ subject: 'u1' }), bytes(NEW))).resolves.toBeDefined();
    await expect(jwtVerify(await auth.issueServiceToken({ audience: AUD }), bytes(THIRD))).resolves.toBeDefined();
  });

  it('keeps a single secret when no previous one is set, and refuses a previous secret alone', () => {
    expect(resolveAuthOptions({}, { ...base, AUTH_JWT_SECRET: NEW }).userTokens?.secret).toBe(NEW);
    expect(() => resolveAuthOptions({}, { ...base, AUTH_JWT_PREVIOUS_SECRET: OLD, AUTH_JWKS_URI: 'https://id.test/jwks' })).toThrow(
      /"AUTH_JWT_PREVIOUS_SECRET" needs AUTH_JWT_SECRET/,
    );
    expect(() => resolveAuthOptions({}, { ...base, AUTH_SERVICE_PREVIOUS_SECRET: OLD })).toThrow(/"AUTH_SERVICE_PREVIOUS_SECRET" needs AUTH_SERVICE_SECRET/);
  });
});
