import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { configValue } from './config.js';
import { ValidationError } from './validation-error.js';

/** An ioredis client: a single node (also Sentinel-managed) or a Cluster. */
export type RedisClient = Redis | Cluster;

/** How to reach Redis when the package creates the client itself. */
export type RedisConnectionOptions =
  /** A `redis://` or `rediss://` URL (database, user and password included). */
  | { url: string; options?: RedisOptions }
  /** Plain ioredis options for one node. */
  | { options: RedisOptions }
  /** Sentinel: ioredis follows the master of `name` across failovers. */
  | { sentinels: { host: string; port: number }[]; name: string; options?: RedisOptions }
  /** Redis Cluster from one or more seed nodes. */
  | { cluster: ClusterNode[]; options?: ClusterOptions };

/** What blocks accept: an existing client (the caller keeps ownership), options, or a URL. */
export type RedisConnectionInput = RedisClient | RedisConnectionOptions | string;

/** A client together with who must close it. */
export interface RedisConnection {
  client: RedisClient;
  /** `true` when the package created the client and so closes it in `close()`. */
  owned: boolean;
}

/** True for an ioredis `Redis` or `Cluster` instance. */
export function isRedisClient(value: unknown): value is RedisClient {
  return value instanceof Redis || value instanceof Cluster || looksLikeIoredis(value);
}

// Another copy of ioredis in the user's tree fails `instanceof`; its clients still work.
function looksLikeIoredis(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['duplicate'] === 'function' && typeof candidate['evalsha'] === 'function' && 'status' in candidate;
}

/**
 * Returns an ioredis client for `input`: the client itself when one is passed (not owned), or a
 * new one from options, a URL, or `REDIS_URL` (default `redis://127.0.0.1:6379`) (owned).
 *
 * Created clients keep ioredis's reconnect-forever behaviour, with `maxRetriesPerRequest: null`
 * so commands wait through a reconnect instead of failing after 20 retries (what queue workers
 * need), unless the options say otherwise.
 *
 * @example
 * ```ts
 * const { client, owned } = createRedisConnection(process.env.REDIS_URL);
 * const { client: cluster } = createRedisConnection({ cluster: [{ host: '127.0.0.1', port: 7000 }] });
 * ```
 */
export function createRedisConnection(input?: RedisConnectionInput): RedisConnection {
  if (input !== undefined && isRedisClient(input)) return { client: input, owned: false };
  const base: RedisOptions = { maxRetriesPerRequest: null };
  if (input === undefined || typeof input === 'string') {
    const url = configValue('REDIS_URL', input === undefined ? undefined : checkUrl(input));
    return { client: new Redis(url, base), owned: true };
  }
  if (typeof input !== 'object' || input === null) {
    throw new ValidationError('redis', 'must be an ioredis client, a redis:// URL or connection options');
  }
  if ('cluster' in input) {
    if (!Array.isArray(input.cluster) || input.cluster.length === 0) {
      throw new ValidationError('redis.cluster', 'must list at least one seed node');
    }
    const options: ClusterOptions = { ...input.options, redisOptions: { ...base, ...input.options?.redisOptions } };
    return { client: new Cluster(input.cluster, options), owned: true };
  }
  if ('sentinels' in input) {
    if (!Array.isArray(input.sentinels) || input.sentinels.length === 0) {
      throw new ValidationError('redis.sentinels', 'must list at least one sentinel');
    }
    if (typeof input.name !== 'string' || input.name === '') throw new ValidationError('redis.name', 'must name the Sentinel master group');
    return { client: new Redis({ ...base, ...input.options, sentinels: input.sentinels, name: input.name }), owned: true };
  }
  if ('url' in input) return { client: new Redis(checkUrl(input.url), { ...base, ...input.options }), owned: true };
  return { client: new Redis({ ...base, ...input.options }), owned: true };
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ValidationError('redis.url', 'must be a redis:// or rediss:// URL', { cause });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ValidationError('redis.url', `must use redis: or rediss: (got ${parsed.protocol})`);
  }
  return url;
}

/**
 * Closes a connection the package owns (`QUIT`, then disconnect if that fails); leaves a
 * caller's client alone. Safe to call twice.
 */
export async function closeRedisConnection(connection: RedisConnection): Promise<void> {
  if (!connection.owned) return;
  const { client } = connection;
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
