import { afterEach, describe, expect, it } from 'vitest';
import { getDefaultAuthMiddleware, resetDefaultAuthMiddleware, resolveAuthOptions } from '../../../src/auth/index.js';

const SECRET = 'k'.repeat(48);

afterEach(async () => {
  await resetDefaultAuthMiddleware();
});

describe('resolveAuthOptions', () => {
  it('builds user and service settings from AUTH_* variables', () => {
    const options = resolveAuthOptions({}, {
      AUTH_USER_ISSUER: 'https://id.test/, https://id2.test/',
      AUTH_USER_AUDIENCE: 'flow-api',
      AUTH_JWT_SECRET: SECRET,
      AUTH_SERVICE_AUDIENCE: 'flow-api',
      AUTH_SERVICE_SECRET: SECRET,
      AUTH_SERVICE_NAME: 'flow-worker',
      AUTH_CLOCK_TOLERANCE_SEC: '10',
      AUTH_COOKIE_NAME: 'session',
    });
    expect(options.userTokens).toMatchObject({ issuer: ['https://id.test/', 'https://id2.test/'], audience: ['flow-api'], algorithms: ['HS256'], secret: SECRET });
    expect(options.serviceTokens).toMatchObject({ issuer: 'flow-worker', serviceName: 'flow-worker', algorithms: ['HS256'], maxTokenAgeSec: 300 });
    expect(options.clockToleranceSec).toBe(10);
    expect(options.tokenLocations).toEqual({ header: true, cookie: 'session' });
  });

  it('lets explicit options win over the environment, key source included', () => {
    const options = resolveAuthOptions(
      { userTokens: { jwksUri: 'https://id.test/jwks', algorithms: ['ES256'] } },
      { AUTH_USER_ISSUER: 'https://id.test/', AUTH_USER_AUDIENCE: 'flow-api', AUTH_JWT_SECRET: SECRET },
    );
    expect(options.userTokens).toMatchObject({ jwksUri: 'https://id.test/jwks', algorithms: ['ES256'] });
    expect(options.userTokens?.secret).toBeUndefined();
  });

  it('names the malformed variable', () => {
    expect(() => resolveAuthOptions({}, { AUTH_USER_ISSUER: 'x', AUTH_USER_AUDIENCE: 'y', AUTH_JWT_SECRET: SECRET, AUTH_CLOCK_TOLERANCE_SEC: 'soon' })).toThrow(
      /"AUTH_CLOCK_TOLERANCE_SEC" must be an integer/,
    );
    expect(() => resolveAuthOptions({}, { AUTH_USER_AUDIENCE: 'y' })).toThrow(/"AUTH_USER_ISSUER" must be set/);
    expect(() => resolveAuthOptions({}, {})).toThrow(/AUTH_USER_ISSUER/);
  });
});

describe('getDefaultAuthMiddleware', () => {
  it('returns one process-wide instance until reset', async () => {
    const env = { AUTH_USER_ISSUER: 'https://id.test/', AUTH_USER_AUDIENCE: 'flow-api', AUTH_JWT_SECRET: SECRET };
    const first = getDefaultAuthMiddleware({ env });
    expect(getDefaultAuthMiddleware({ env })).toBe(first);
    const token = await first.issueUserToken({ subject: 'u1' });
    expect((await first.authenticate({ headers: { authorization: `Bearer ${token}` } }))?.subject).toBe('u1');
    await resetDefaultAuthMiddleware();
    expect(getDefaultAuthMiddleware({ env })).not.toBe(first);
  });
});
