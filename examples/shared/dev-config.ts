/**
 * Settings the three example services share: issuers, audiences, development secrets, the user
 * directory, Redis discovery. A real deployment sets the secrets through the environment; the
 * fallbacks below exist so `npm run demo` works on a fresh clone and are refused in production.
 */
import { Redis } from 'ioredis';
import type { RoleDefinitions, UserService, AuthUser } from '@ux-flow/common/auth';

/** Issuer and audience of user tokens (what an identity provider would put in them). */
export const USER_ISSUER = 'https://id.ux-flow.example';
/** The audience of user tokens: the public API. */
export const USER_AUDIENCE = 'flow-api';
/** Service names: the `sub` of service tokens and the audience a service accepts. */
export const SERVICES = { flowApi: 'flow-api', worker: 'flow-worker', knowledge: 'knowledge-service' } as const;
/** The one queue the services share; it carries both job types. */
export const QUEUE_NAME = 'flows';
/** Job types. `email_send` is the email block's own type. */
export const JOBS = { ai: 'ai_processing', email: 'email_send' } as const;

const DEV_SECRETS = {
  AUTH_JWT_SECRET: 'dev-only-user-token-secret-0123456789abcdef',
  AUTH_SERVICE_SECRET: 'dev-only-service-token-secret-0123456789abcdef',
  EMAIL_TRACKING_SECRET: 'dev-only-email-tracking-secret-0123456789abcdef',
} as const;

/** A secret from the environment, or its development fallback (refused with NODE_ENV=production). */
export function secret(name: keyof typeof DEV_SECRETS, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (env['NODE_ENV'] === 'production') throw new Error(`${name} must be set in production`);
  return DEV_SECRETS[name];
}

/** Global roles and workspace roles (both hierarchical). */
export const ROLES: RoleDefinitions = {
  viewer: {},
  editor: { inherits: ['viewer'] },
  owner: { inherits: ['editor'] },
  user: {},
  admin: { inherits: ['user'] },
  super_admin: { inherits: ['admin'] },
};

/** A user of the product, as the account service would return it. */
export interface DemoUser extends AuthUser {
  name: string;
  email: string;
}

/** The users of the demo: an editor, an admin, and a viewer who may read but not write. */
export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'u-ada', name: 'Ada Lovelace', email: 'ada@example.com', roles: ['user'], workspaces: [{ id: 'w-acme', roles: ['owner'] }], emailVerified: true },
  { id: 'u-grace', name: 'Grace Hopper', email: 'grace@example.com', roles: ['admin'], workspaces: [{ id: 'w-acme', roles: ['editor'] }], emailVerified: true },
  { id: 'u-bob', name: 'Bob Viewer', email: 'bob@example.com', roles: ['user'], workspaces: [{ id: 'w-acme', roles: ['viewer'] }], emailVerified: true },
];

/** Workspaces by id (name shown in invitations). */
export const WORKSPACES: Readonly<Record<string, { name: string }>> = { 'w-acme': { name: 'Acme Checkout' } };

/**
 * The `userService` the auth block calls on every request: the loaded user is the source of truth
 * for roles and workspaces, so a demoted user loses access at once, whatever the token says.
 */
export class UserDirectory implements UserService {
  private readonly users = new Map<string, DemoUser>();

  constructor(users: readonly DemoUser[] = DEMO_USERS) {
    for (const user of users) this.users.set(user.id, user);
  }

  getUserById(id: string): DemoUser | undefined {
    return this.users.get(id);
  }
}

/**
 * Connects to Redis when it answers within a second, else returns `undefined` (the services then
 * use the in-memory drivers). The client retries forever once connected, as a service should.
 */
export async function connectRedis(url: string): Promise<Redis | undefined> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    probe.disconnect();
    return undefined;
  }
  probe.disconnect();
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  await client.ping();
  return client;
}

/** The URL part of REDIS_URL without credentials, for log lines. */
export function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
