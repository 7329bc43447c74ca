import { randomUUID } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeRedisConnection,
  createRedisConnection,
  defineScript,
  isRedisClient,
  Keyspace,
  RedisRateLimiter,
  runPipeline,
  ValidationError,
} from '../../../src/core/index.js';
import { connectShared, deleteKeys, REDIS_URL, testPrefix } from '../../helpers/redis.js';
import { type RedisClusterProcess, type RedisProcess, startRedisCluster, startRedisServer } from '../../helpers/redis-servers.js';

const shared = connectShared();
const prefix = testPrefix('core-redis');

afterAll(async () => {
  await deleteKeys(shared, prefix);
  await shared.quit();
});

/** A script whose SHA the server has never seen, so the first EVALSHA meets NOSCRIPT. */
function freshScript(body: string, numberOfKeys: number) {
  return defineScript('fresh', `-- ${randomUUID()}\n${body}`, { numberOfKeys });
}

describe('createRedisConnection', () => {
  it('passes a caller’s client through without taking ownership', async () => {
    const connection = createRedisConnection(shared);
    expect(connection).toEqual({ client: shared, owned: false });
    await closeRedisConnection(connection);
    expect(await shared.ping()).toBe('PONG');
  });

  it('creates owned clients from a URL string, { url } and plain options, and closes them idempotently', async () => {
    const url = new URL(REDIS_URL);
    const inputs = [REDIS_URL, { url: REDIS_URL }, { options: { host: url.hostname, port: Number(url.port || 6379) } }];
    for (const input of inputs) {
      const connection = createRedisConnection(input);
      expect(connection.owned).toBe(true);
      expect(isRedisClient(connection.client)).toBe(true);
      expect(await connection.client.ping()).toBe('PONG');
      await closeRedisConnection(connection);
      await closeRedisConnection(connection);
      expect(connection.client.status).toBe('end');
    }
  });

  it('reads REDIS_URL when given nothing, and waits through reconnects (maxRetriesPerRequest: null)', async () => {
    const connection = createRedisConnection();
    expect((connection.client as Redis).options.maxRetriesPerRequest).toBeNull();
    expect(await connection.client.ping()).toBe('PONG');
    await closeRedisConnection(connection);
  });

  it('rejects malformed input with a ValidationError naming the field', () => {
    const cases: [unknown, string][] = [
      ['http://localhost:6379', 'redis.url'],
      [{ url: 'not a url' }, 'redis.url'],
      [{ cluster: [] }, 'redis.cluster'],
      [{ sentinels: [], name: 'mymaster' }, 'redis.sentinels'],
      [{ sentinels: [{ host: '127.0.0.1', port: 26379 }], name: '' }, 'redis.name'],
      [42, 'redis'],
    ];
    for (const [input, field] of cases) {
      let thrown: unknown;
      try {
        createRedisConnection(input as never);
      } catch (error) {
        thrown = error;
      }
      expect(ValidationError.isInstance(thrown), JSON.stringify(input)).toBe(true);
      expect((thrown as ValidationError).field).toBe(field);
    }
  });
});

describe('defineScript', () => {
  it('falls back to EVAL on NOSCRIPT, after which EVALSHA finds the script', async () => {
    const script = freshScript("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1);
    const key = `${prefix}:counter`;
    expect(await shared.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run<number>(shared, [key], [5])).toBe(5);
    expect(await shared.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run<number>(shared, [key], [2])).toBe(7);
  });

  it('rethrows script errors other than NOSCRIPT', async () => {
    const script = freshScript("return redis.error_reply('ERR custom failure')", 0);
    await expect(script.run(shared, [])).rejects.toThrow('custom failure');
  });

  it('checks the number of keys before sending anything', async () => {
    const script = freshScript('return 1', 2);
    await expect(script.run(shared, ['only-one'])).rejects.toThrow(/"keys" of script "fresh" must hold 2 keys \(got 1\)/);
    expect(() => defineScript('empty', '  ', { numberOfKeys: 0 })).toThrow(/"source"/);
    expect(() => defineScript('neg', 'return 1', { numberOfKeys: -1 })).toThrow(/"numberOfKeys"/);
  });

  it('runPipeline runs many calls in order, reloading scripts that met NOSCRIPT and keeping per-call errors', async () => {
    const incr = freshScript("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1);
    const fail = freshScript("if ARGV[1] == 'bad' then return redis.error_reply('ERR bad input') end return ARGV[1]", 0);
    const key = `${prefix}:pipeline`;
    const results = await runPipeline(shared, [
      { script: incr, keys: [key], args: [1] },
      { script: fail, keys: [], args: ['bad'] },
      { script: incr, keys: [key], args: [10] },
      { script: fail, keys: [], args: ['fine'] },
    ]);
    expect(results[0]).toBe(1);
    expect(results[1]).toBeInstanceOf(Error);
    expect((results[1] as Error).message).toContain('bad input');
    expect(results[2]).toBe(11);
    expect(results[3]).toBe('fine');
    expect(await runPipeline(shared, [])).toEqual([]);
  });
});

describe('Sentinel', () => {
  let master: RedisProcess;
  let sentinel: RedisProcess;

  beforeAll(async () => {
    master = await startRedisServer();
    sentinel = await startRedisServer({ sentinelConfig: `sentinel monitor uxflow 127.0.0.1 ${master.port} 1` });
  });
  afterAll(async () => {
    await sentinel.stop();
    await master.stop();
  });

  it('connects to the master that the sentinels name', async () => {
    const connection = createRedisConnection({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'uxflow' });
    try {
      await connection.client.set('sentinel-check', 'ok');
      const direct = new Redis({ port: master.port, host: '127.0.0.1' });
      expect(await direct.get('sentinel-check')).toBe('ok');
      direct.disconnect();
    } finally {
      await closeRedisConnection(connection);
    }
  });
});

describe('Redis Cluster (3 masters started by the test)', () => {
  let cluster: RedisClusterProcess;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster(7100);
    const connection = createRedisConnection({ cluster: [{ host: '127.0.0.1', port: 7100 }] });
    client = connection.client as Cluster;
  }, 60_000);
  afterAll(async () => {
    await client.quit().catch(() => undefined);
    await cluster.stop();
  });

  it('a multi-key script over one Keyspace runs without CROSSSLOT, and namespaces spread over shards', async () => {
    const move = defineScript('move', "local v = redis.call('LPOP', KEYS[1]); if v then redis.call('RPUSH', KEYS[2], v) end; return v", {
      numberOfKeys: 2,
    });
    const slots = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const keys = new Keyspace('uxflow', `queue:q${i}`);
      await client.rpush(keys.key('wait'), 'job-1');
      expect(await move.run(client, [keys.key('wait'), keys.key('active')])).toBe('job-1');
      expect(await client.lrange(keys.key('active'), 0, -1)).toEqual(['job-1']);
      slots.add(await client.cluster('KEYSLOT', keys.key('wait')));
    }
    const owners = new Set<string>();
    const ranges = await client.cluster('SLOTS');
    for (const slot of slots) {
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      owners.add(String(owner?.[2]?.[1]));
    }
    expect(owners.size).toBeGreaterThan(1);
  });

  it('script.load() caches a script on every master', async () => {
    const script = freshScript('return 1', 0);
    await script.load(client);
    const answers = await Promise.all(client.nodes('master').map((node) => node.script('EXISTS', script.sha)));
    expect(answers).toEqual(client.nodes('master').map(() => [1]));
  });

  it('the multi-rule rate limiter works across shards', async () => {
    const limiter = new RedisRateLimiter({
      redis: client,
      name: 'cluster',
      rules: [
        { limit: 3, windowMs: 60_000 },
        { limit: 10, windowMs: 3_600_000 },
      ],
    });
    for (const key of ['a@example.com', 'b@example.com', 'c@example.com', '198.51.100.7']) {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await limiter.consume(key)).allowed);
      expect(answers).toEqual([true, true, true, false]);
    }
  });
});
