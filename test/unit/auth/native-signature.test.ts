import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnifiedAuthMiddleware } from '../../../src/auth/index.js';

const pem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

describe('static keys are bound to their algorithm family', () => {
  it.each([
    ['ES384 with a P-256 key', 'ES384', () => pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)],
    ['RS256 with an Ed25519 key', 'RS256', () => pem(generateKeyPairSync('ed25519').publicKey)],
    ['EdDSA with an RSA key', 'EdDSA', () => pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)],
    ['RS256 with a 1024-bit RSA key', 'RS256', () => pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)],
  ] as const)('refuses %s at construction', (_name, alg, key) => {
    expect(
      () => new UnifiedAuthMiddleware({ userTokens: { issuer: 'i', audience: 'a', algorithms: [alg], publicKey: key() } }),
    ).toThrow(/"userTokens.publicKey"/);
  });

  it('accepts a private key by deriving its public half, and verifies PS256 and HS384 natively', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const secret = 'q'.repeat(48);
    const auth = new UnifiedAuthMiddleware({
      userTokens: { issuer: 'i', audience: 'a', algorithms: ['PS256'], publicKey: rsa.privateKey },
      serviceTokens: { issuer: 's', audience: 'a', algorithms: ['HS384'], secret },
      env: {},
    });
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 60;
    const psInput = `${b64({ alg: 'PS256', typ: 'at+jwt' })}.${b64({ iss: 'i', aud: 'a', sub: 'u', exp })}`;
    const ps = sign('sha256', Buffer.from(psInput), { key: rsa.privateKey, padding: 6, saltLength: 32 }).toString('base64url');
    expect((await auth.authenticate({ headers: { authorization: `Bearer ${psInput}.${ps}` } }))?.subject).toBe('u');
    const hsInput = `${b64({ alg: 'HS384', typ: 'service+jwt' })}.${b64({ iss: 's', aud: 'a', sub: 'svc', exp, iat: exp - 60, jti: 'j' })}`;
    const hs = createHmac('sha384', secret).update(hsInput).digest('base64url');
    expect((await auth.authenticate({ headers: { authorization: `Bearer ${hsInput}.${hs}` } }))?.kind).toBe('service');
  });
});
