import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptOptimizer } from '../../../src/ai/prompt-optimizer.js';
import { createSeededRandom } from '../../../src/ai/random.js';
import { RedisPromptStore } from '../../../src/ai/redis-prompt-store.js';
import { describePromptStoreConformance } from '../../helpers/ai-store-conformance.js';
import { deleteKeys } from '../../helpers/redis.js';

const PREFIX = `test:ai:redis-prompt-store:${randomBytes(4).toString('hex')}`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});

afterAll(async () => {
  await deleteKeys(redis, PREFIX);
  await redis.quit();
});

let run = 0;
describePromptStoreConformance('redis', async () => {
  const prefix = `${PREFIX}:c${run++}`;
  const store = new RedisPromptStore({ redis, prefix });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await deleteKeys(redis, prefix);
    },
  };
});

describe('RedisPromptStore', () => {
  it('keeps every key of a template under one hash tag and the prefix', async () => {
    const prefix = `${PREFIX}:tags`;
    const store = new RedisPromptStore({ redis, prefix });
    const optimizer = new PromptOptimizer({ store, sampleSize: 1 });
    await optimizer.registerTemplate('tagged', { template: 'x {{a}}', variables: ['a'] });
    await optimizer.addVariation('tagged', { id: 'b', template: 'y {{a}}' });
    await optimizer.startExperiment('tagged', { variations: ['b'] });
    const { selection } = await optimizer.getPrompt('tagged', { variables: { a: '1' }, subjectId: 's1' });
    await optimizer.recordOutcome(selection, { quality: 0.5, latencyMs: 3, example: { input: 'i', output: 'o' } });
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const templateKeys = keys.filter((k) => !k.endsWith(':templates'));
    expect(templateKeys.length).toBeGreaterThanOrEqual(8);
    for (const key of templateKeys) expect(key.startsWith(`${prefix}:{prompt:tagged}:`)).toBe(true);
    await store.deleteTemplate('tagged');
    expect(await store.listTemplates()).toEqual([]);
  });

  it('counts concurrent outcomes from many clients exactly (atomic Lua updates)', async () => {
    const prefix = `${PREFIX}:atomic`;
    const clients = Array.from({ length: 4 }, () => new Redis('redis://127.0.0.1:6379'));
    const stores = clients.map((client) => new RedisPromptStore({ redis: client, prefix }));
    await Promise.all(
      stores.map((store, i) =>
        Promise.all(
          Array.from({ length: 250 }, (_, j) =>
            store.recordOutcomes('t', [{ scope: 'e', arm: 'a', context: `c${(i + j) % 2}`, delta: { n: 1, st: 1, s: j % 2, qc: 1, qs: 0.25 } }]),
          ),
        ),
      ),
    );
    const stats = await stores[0]!.getStats('t', 'e');
    expect(stats.global['a']).toMatchObject({ outcomes: 1000, successTrials: 1000, successes: 500, qualityCount: 1000, qualitySum: 250 });
    expect((stats.contexts['c0']?.['a']?.outcomes ?? 0) + (stats.contexts['c1']?.['a']?.outcomes ?? 0)).toBe(1000);
    await Promise.all(clients.map((client) => client.quit()));
  });

  it('lets two service instances learn together and agree on sticky assignments', async () => {
    const prefix = `${PREFIX}:instances`;
    const a = new PromptOptimizer({ redis, prefix, random: createSeededRandom(1), sampleSize: 10, cacheTtlMs: 50, evaluateEveryOutcomes: 0 });
    const b = new PromptOptimizer({ redis, prefix, random: createSeededRandom(2), sampleSize: 10, cacheTtlMs: 50, evaluateEveryOutcomes: 0 });
    await a.registerTemplate('answer', { template: 'Answer: {{q}}', variables: ['q'] });
    await a.addVariation('answer', { id: 'good', template: 'Answer carefully: {{q}}' });
    await a.startExperiment('answer', { variations: ['good'], metric: 'success' });
    const env = createSeededRandom(3);
    for (let i = 0; i < 400; i++) {
      const instance = i % 2 === 0 ? a : b;
      const { selection } = await instance.getPrompt('answer', { variables: { q: 'x' } });
      await instance.recordOutcome(selection, { success: env() < (selection.arm === 'good' ? 0.9 : 0.3) });
      if (i % 50 === 49) {
        a.invalidate();
        b.invalidate();
      }
    }
    const report = await b.getReport('answer');
    const traffic = Object.fromEntries(report.experiment!.arms.map((arm) => [arm.id, arm.traffic]));
    expect(traffic['good']! + traffic['control']!).toBe(400);
    expect(traffic['good']).toBeGreaterThan(300);
    expect(report.experiment!.arms.find((arm) => arm.id === 'good')!.probabilityBest).toBeGreaterThan(0.99);
    const first = (await a.getPrompt('answer', { variables: { q: 'x' }, subjectId: 'user-7' })).selection.arm;
    for (let i = 0; i < 10; i++) expect((await b.getPrompt('answer', { variables: { q: 'x' }, subjectId: 'user-7' })).selection.arm).toBe(first);
    await a.close();
    await b.close();
    expect(redis.status).toBe('ready');
  });

  it('promotes once when two instances decide at the same time', async () => {
    const prefix = `${PREFIX}:race`;
    const a = new PromptOptimizer({ redis, prefix, evaluateEveryOutcomes: 0 });
    const b = new PromptOptimizer({ redis, prefix, evaluateEveryOutcomes: 0 });
    await a.registerTemplate('race', { template: 'A {{x}}', variables: ['x'] });
    await a.addVariation('race', { id: 'b', template: 'B {{x}}' });
    await a.startExperiment('race', { variations: ['b'] });
    const results = await Promise.allSettled([a.promote('race', 'b'), b.promote('race', 'b'), a.promote('race', 'control')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const report = await a.getReport('race');
    expect(report.history.filter((h) => h.type === 'promoted')).toHaveLength(1);
    expect(report.versions.length).toBeLessThanOrEqual(2);
    await a.close();
    await b.close();
  });

  it('expires sticky assignments of an experiment after the configured time', async () => {
    const prefix = `${PREFIX}:ttl`;
    const store = new RedisPromptStore({ redis, prefix, assignmentTtlMs: 60_000 });
    await store.assign('t', 'e1', 'user-1', 'a');
    const ttl = await redis.pttl(`${prefix}:{prompt:t}:assign:e1`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('creates its own connection from a URL and closes it', async () => {
    const store = new RedisPromptStore({ redis: 'redis://127.0.0.1:6379', prefix: `${PREFIX}:own` });
    await store.createVersion('t', { name: 't', template: 'a', variables: {}, tags: [], createdAt: 0, source: 'manual' }, []);
    expect(await store.getLabels('t')).toEqual({ latest: 1 });
    const ended = new Promise<void>((resolve) => (store.client.status === 'end' ? resolve() : store.client.once('end', () => resolve())));
    await store.close();
    await store.close();
    await ended;
    expect(store.client.status).toBe('end');
  });
});
