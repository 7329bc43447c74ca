import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, UnifiedAuthMiddleware } from '../../../src/auth/index.js';
import { JwksServer, keyPair, type KeyPair } from '../../helpers/auth-fixtures.js';

const prefix = `test:auth:shared:${randomBytes(6).toString('hex')}`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
});

async function ownKeys(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

afterAll(async () => {
  const keys = await ownKeys();
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const SECRET = 's'.repeat(40);
const failure = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'ok',
    (error: unknown) => (AuthError.isInstance(error) ? `${error.status} ${error.reason}` : 'other'),
  );

describe('brute-force guard shared through Redis', () => {
  it('counts failures of one IP across two instances and blocks it on both', async () => {
    const make = () =>
      new UnifiedAuthMiddleware({
        userTokens: { issuer: 'https://id.test/', audience: 'flow-api', algorithms: ['HS256'], secret: SECRET },
        bruteForce: { limit: 3, windowMs: 60_000, redis, prefix },
        env: {},
      });
    const a = make();
    const b = make();
    const bad = { headers: { authorization: 'Bearer a.b.c' }, ip: '203.0.113.7' };
    expect(await failure(a.authenticate(bad))).toBe('401 token_malformed');
    expect(await failure(b.authenticate(bad))).toBe('401 token_malformed');
    expect(await failure(a.authenticate(bad))).toBe('401 token_malformed');
    expect(await failure(b.authenticate(bad))).toBe('429 too_many_failures');
    const good = await b.issueUserToken({ subject: 'u1' });
    expect(await failure(b.authenticate({ headers: { authorization: `Bearer ${good}` }, ip: '203.0.113.7' }))).toBe('429 too_many_failures');
    expect(await failure(b.authenticate({ headers: { authorization: `Bearer ${good}` }, ip: '203.0.113.8' }))).toBe('ok');
    const keys = await ownKeys();
    expect(keys.length).toBeGreaterThan(0);
  });
});

describe('several issuers by explicit allowlist', () => {
  let one: KeyPair;
  let two: KeyPair;
  let jwksOne: JwksServer;
  let jwksTwo: JwksServer;
  let auth: UnifiedAuthMiddleware;

  beforeAll(async () => {
    one = await keyPair('ec', 'one');
    two = await keyPair('ec', 'two');
    jwksOne = new JwksServer([one.publicJwk]);
    jwksTwo = new JwksServer([two.publicJwk]);
    auth = new UnifiedAuthMiddleware({
      userTokens: {
        issuer: ['https://one.test/', 'https://two.test/'],
        audience: 'flow-api',
        algorithms: ['ES256'],
        jwksUri: { 'https://one.test/': await jwksOne.start(), 'https://two.test/': await jwksTwo.start() },
      },
      bruteForce: false,
    });
  });

  afterAll(async () => {
    await jwksOne.stop();
    await jwksTwo.stop();
  });

  const sign = (pair: KeyPair, iss: string): Promise<string> =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: pair.publicJwk.kid! })
      .setIssuer(iss).setAudience('flow-api').setSubject('u1').setExpirationTime('5m')
      .sign(pair.privateKey);

  it('verifies each issuer against its own JWKS', async () => {
    expect(await failure(auth.authenticate({ headers: { authorization: `Bearer ${await sign(one, 'https://one.test/')}` } }))).toBe('ok');
    expect(await failure(auth.authenticate({ headers: { authorization: `Bearer ${await sign(two, 'https://two.test')}` } }))).toBe('ok');
  });

  it('never fetches keys for an issuer outside the allowlist', async () => {
    const before = jwksOne.requests + jwksTwo.requests;
    expect(await failure(auth.authenticate({ headers: { authorization: `Bearer ${await sign(one, 'https://evil.test/')}` } }))).toBe('401 issuer_not_allowed');
    expect(jwksOne.requests + jwksTwo.requests).toBe(before);
  });

  it('refuses a token of one issuer signed with the key of the other', async () => {
    expect(await failure(auth.authenticate({ headers: { authorization: `Bearer ${await sign(two, 'https://one.test/')}` } }))).toBe('401 key_not_found');
  });
});
