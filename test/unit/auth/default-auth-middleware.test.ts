import { afterEach, describe, expect, it } from 'vitest';
import { getDefaultAuthMiddleware, resetDefaultAuthMiddleware, resolveAuthOptions, type UserService } from '../../../src/auth/index.js';
import { ValidationError } from '../../../src/core/index.js';

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

  const env = { AUTH_USER_ISSUER: 'https://id.test/', AUTH_USER_AUDIENCE: 'flow-api', AUTH_JWT_SECRET: SECRET };
  const users: UserService = { getUserById: (id) => ({ id, roles: ['user'] }) };

  /** The ValidationError a call throws, or `undefined`. */
  function refusal(call: () => unknown): ValidationError | undefined {
    try {
      call();
    } catch (error) {
      if (ValidationError.isInstance(error)) return error;
      throw error;
    }
    return undefined;
  }

  it('returns the same instance for calls without options or with equal resolved options', () => {
    const roles = (): Record<string, { inherits?: string[] }> => ({ user: {}, admin: { inherits: ['user'] } });
    const first = getDefaultAuthMiddleware({ env, userService: users, userTokens: { audience: ['flow-api'] }, roles: roles() });
    expect(getDefaultAuthMiddleware()).toBe(first);
    expect(getDefaultAuthMiddleware({})).toBe(first);
    // Fresh but equal objects, the same service object, a single value for a one-element list.
    expect(getDefaultAuthMiddleware({ env: { ...env }, userService: users, userTokens: { audience: 'flow-api' }, roles: roles() })).toBe(first);
  });

  it('compares byte secrets by content', () => {
    const first = getDefaultAuthMiddleware({ env, userTokens: { secret: Buffer.from(SECRET) } });
    expect(getDefaultAuthMiddleware({ env, userTokens: { secret: new TextEncoder().encode(SECRET) } })).toBe(first);
    expect(refusal(() => getDefaultAuthMiddleware({ env, userTokens: { secret: Buffer.from(SECRET.toUpperCase()) } }))?.message).toMatch(
      /at "userTokens.secret"/,
    );
  });

  it('refuses a later call whose options differ, naming options and pointing to new UnifiedAuthMiddleware', () => {
    const first = getDefaultAuthMiddleware({ env, userService: users });
    const audience = refusal(() => getDefaultAuthMiddleware({ env, userService: users, userTokens: { audience: 'other-api' } }));
    expect(audience?.field).toBe('options');
    expect(audience?.message).toMatch(/at "userTokens.audience\[0\]".*new UnifiedAuthMiddleware\(\.\.\.\)/);
    expect(refusal(() => getDefaultAuthMiddleware({ env, userService: users, userTokens: { audience: ['flow-api', 'other-api'] } }))?.message).toMatch(
      /at "userTokens.audience"/,
    );
    // Functions are compared by identity: an equal-looking user service is another configuration.
    const service = refusal(() => getDefaultAuthMiddleware({ env, userService: { getUserById: (id) => ({ id, roles: ['user'] }) } }));
    expect(service?.message).toMatch(/at "userService.getUserById"/);
    // The environment counts too (resolved options are compared), and no secret value is quoted.
    const secret = refusal(() => getDefaultAuthMiddleware({ env: { ...env, AUTH_JWT_SECRET: 'z'.repeat(48) }, userService: users }));
    expect(secret?.message).toMatch(/at "(env.AUTH_JWT_SECRET|userTokens.secret)"/);
    expect(secret?.message).not.toContain('z'.repeat(32));
    expect(getDefaultAuthMiddleware({ env, userService: users })).toBe(first);
  });

  it('accepts new options once the instance is reset', async () => {
    const first = getDefaultAuthMiddleware({ env });
    await resetDefaultAuthMiddleware();
    const second = getDefaultAuthMiddleware({ env, userTokens: { audience: 'other-api' } });
    expect(second).not.toBe(first);
    expect(refusal(() => getDefaultAuthMiddleware({ env }))?.field).toBe('options');
  });
});
