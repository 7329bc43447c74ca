import { defineScript, runPipeline, type ScriptCall } from '../core/define-script.js';
import { Keyspace } from '../core/keyspace.js';
import { once } from '../core/once.js';
import {
  closeRedisConnection,
  createRedisConnection,
  type RedisClient,
  type RedisConnectionInput,
} from '../core/redis-connection.js';
import { ValidationError } from '../core/validation-error.js';
import assignSubjectSource from './lua/assign-subject.lua';
import createVersionSource from './lua/create-version.lua';
import recordOutcomeSource from './lua/record-outcome.lua';
import setLabelSource from './lua/set-label.lua';
import updateExperimentSource from './lua/update-experiment.lua';
import startExperimentSource from './lua/start-experiment.lua';
import type { OutcomeWrite, PromptState, PromptStore, ScopeStats } from './prompt-store.js';
import { decodeStats } from './stats-codec.js';
import type { DecisionRecord, PromptExample, PromptExperiment, PromptVariation, TemplateVersion } from './types.js';

const createVersionScript = defineScript('prompt-create-version', createVersionSource, { numberOfKeys: 2 });
const setLabelScript = defineScript('prompt-set-label', setLabelSource, { numberOfKeys: 2 });
const recordOutcomeScript = defineScript('prompt-record-outcome', recordOutcomeSource, { numberOfKeys: 3 });
const updateExperimentScript = defineScript('prompt-update-experiment', updateExperimentSource, { numberOfKeys: 1 });
const startExperimentScript = defineScript('prompt-start-experiment', startExperimentSource, { numberOfKeys: 1 });
const assignSubjectScript = defineScript('prompt-assign-subject', assignSubjectSource, { numberOfKeys: 1 });

/** Options of {@link RedisPromptStore}. */
export interface RedisPromptStoreOptions {
  /** An ioredis client (kept open on close), a URL or connection options. Default `REDIS_URL`. */
  redis?: RedisConnectionInput;
  /** Key prefix. Keys are `prefix:{prompt:<name>}:…`, one Cluster slot per template. Default `'uxflow'`. */
  prefix?: string;
  /** Latencies kept per arm for percentiles. Default `1000`. */
  maxLatencies?: number;
  /** Best-scored examples kept per scope. Default `20`. */
  maxExamples?: number;
  /** Decision history entries kept per template. Default `1000`. */
  maxHistory?: number;
  /** Sticky assignments of an experiment expire this long after the last new one; `0` keeps them. Default 30 days. */
  assignmentTtlMs?: number;
}

/**
 * A {@link PromptStore} in Redis: every instance of a service reads the same templates and
 * labels and adds to the same statistics (Lua scripts, one hash tag per template).
 *
 * @example
 * ```ts
 * const store = new RedisPromptStore({ redis: new Redis(process.env.REDIS_URL), prefix: 'flow' });
 * const optimizer = new PromptOptimizer({ store });
 * ```
 */
export class RedisPromptStore implements PromptStore {
  /** The client in use. */
  readonly client: RedisClient;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly maxLatencies: number;
  private readonly maxExamples: number;
  private readonly maxHistory: number;
  private readonly assignmentTtlMs: number;
  private readonly registry: string;

  constructor(options: RedisPromptStoreOptions = {}) {
    this.prefix = options.prefix ?? 'uxflow';
    this.maxLatencies = positive('maxLatencies', options.maxLatencies ?? 1000);
    this.maxExamples = positive('maxExamples', options.maxExamples ?? 20);
    this.maxHistory = positive('maxHistory', options.maxHistory ?? 1000);
    this.assignmentTtlMs = options.assignmentTtlMs ?? 30 * 24 * 3_600_000;
    if (!Number.isInteger(this.assignmentTtlMs) || this.assignmentTtlMs < 0) {
      throw new ValidationError('assignmentTtlMs', 'must be a non-negative integer');
    }
    this.registry = new Keyspace(this.prefix, 'prompts').key('templates');
    const { client, owned } = createRedisConnection(options.redis);
    this.client = client;
    this.owned = owned;
  }

  private keys(name: string): Keyspace {
    return new Keyspace(this.prefix, `prompt:${name}`);
  }

  async createVersion(name: string, version: Omit<TemplateVersion, 'version'>, labels: readonly string[]): Promise<number> {
    const keys = this.keys(name);
    const number = await createVersionScript.run<number>(
      this.client,
      [keys.key('versions'), keys.key('labels')],
      [JSON.stringify(version), ...labels],
    );
    await this.client.sadd(this.registry, name);
    return number;
  }

  async getVersion(name: string, version: number): Promise<TemplateVersion | undefined> {
    const raw = await this.client.hget(this.keys(name).key('versions'), String(version));
    return raw === null ? undefined : { ...(JSON.parse(raw) as Omit<TemplateVersion, 'version'>), version };
  }

  async listVersions(name: string): Promise<TemplateVersion[]> {
    const all = await this.client.hgetall(this.keys(name).key('versions'));
    return Object.entries(all)
      .map(([number, raw]) => ({ ...(JSON.parse(raw) as Omit<TemplateVersion, 'version'>), version: Number(number) }))
      .sort((a, b) => a.version - b.version);
  }

  async listTemplates(): Promise<string[]> {
    return (await this.client.smembers(this.registry)).sort();
  }

  async getLabels(name: string): Promise<Record<string, number>> {
    return numbers(await this.client.hgetall(this.keys(name).key('labels')));
  }

  async setLabel(name: string, label: string, version: number): Promise<boolean> {
    const keys = this.keys(name);
    const moved = await setLabelScript.run<number>(this.client, [keys.key('versions'), keys.key('labels')], [label, version]);
    return moved === 1;
  }

  async addVariation(name: string, variation: PromptVariation): Promise<boolean> {
    return (await this.client.hsetnx(this.keys(name).key('variations'), variation.id, JSON.stringify(variation))) === 1;
  }

  async getVariations(name: string): Promise<Record<string, PromptVariation>> {
    const all = await this.client.hgetall(this.keys(name).key('variations'));
    return Object.fromEntries(Object.entries(all).map(([id, raw]) => [id, JSON.parse(raw) as PromptVariation]));
  }

  async getExperiment(name: string): Promise<PromptExperiment | undefined> {
    const raw = await this.client.get(this.keys(name).key('experiment'));
    return raw === null ? undefined : (JSON.parse(raw) as PromptExperiment);
  }

  async putExperiment(name: string, experiment: PromptExperiment): Promise<boolean> {
    const stored = await startExperimentScript.run<number>(this.client, [this.keys(name).key('experiment')], [JSON.stringify(experiment)]);
    return stored === 1;
  }

  async updateRunningExperiment(name: string, expectedId: string, next: PromptExperiment): Promise<boolean> {
    const replaced = await updateExperimentScript.run<number>(this.client, [this.keys(name).key('experiment')], [expectedId, JSON.stringify(next)]);
    return replaced === 1;
  }

  async recordOutcomes(name: string, writes: readonly OutcomeWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const keys = this.keys(name);
    const calls: ScriptCall[] = writes.map((write) => {
      if (write.arm.includes('|') || (write.context ?? '').includes('|')) {
        throw new ValidationError('context', 'and arm ids must not contain "|"');
      }
      const args: (string | number)[] = [
        write.arm,
        write.context ?? '',
        write.latencyMs ?? '',
        this.maxLatencies,
        write.example === undefined ? '' : JSON.stringify(write.example),
        write.example?.quality ?? 0,
        this.maxExamples,
      ];
      for (const [field, value] of Object.entries(write.delta)) args.push(field, value);
      return {
        script: recordOutcomeScript,
        keys: [keys.key('stats', write.scope), keys.key('lat', write.scope, write.arm), keys.key('examples', write.scope)],
        args,
      };
    });
    if (calls.length === 1) {
      const call = calls[0] as ScriptCall;
      await call.script.run(this.client, call.keys, call.args);
      return;
    }
    const results = await runPipeline(this.client, calls);
    for (const result of results) if (result instanceof Error) throw result;
  }

  async getStats(name: string, scope: string): Promise<ScopeStats> {
    return decodeStats(await this.client.hgetall(this.keys(name).key('stats', scope)));
  }

  async getLatencies(name: string, scope: string, arm: string): Promise<number[]> {
    return (await this.client.lrange(this.keys(name).key('lat', scope, arm), 0, -1)).map(Number);
  }

  async getExamples(name: string, scope: string, limit: number): Promise<PromptExample[]> {
    const raw = await this.client.zrevrange(this.keys(name).key('examples', scope), 0, limit - 1);
    return raw.map((entry) => JSON.parse(entry) as PromptExample);
  }

  async assign(name: string, experimentId: string, subjectId: string, arm: string, activeArms?: readonly string[]): Promise<string> {
    return assignSubjectScript.run<string>(this.client, [this.keys(name).key('assign', experimentId)], [
      subjectId,
      arm,
      this.assignmentTtlMs,
      ...(activeArms ?? []),
    ]);
  }

  async getAssignment(name: string, experimentId: string, subjectId: string): Promise<string | undefined> {
    return (await this.client.hget(this.keys(name).key('assign', experimentId), subjectId)) ?? undefined;
  }

  async appendHistory(name: string, record: DecisionRecord): Promise<void> {
    const key = this.keys(name).key('history');
    await this.client.multi().rpush(key, JSON.stringify(record)).ltrim(key, -this.maxHistory, -1).exec();
  }

  async getHistory(name: string): Promise<DecisionRecord[]> {
    return (await this.client.lrange(this.keys(name).key('history'), 0, -1)).map((raw) => JSON.parse(raw) as DecisionRecord);
  }

  async getState(name: string, experimentHint?: string): Promise<PromptState> {
    const keys = this.keys(name);
    const pipeline = this.client.pipeline().hgetall(keys.key('labels')).get(keys.key('experiment')).hgetall(keys.key('variations'));
    if (experimentHint !== undefined) pipeline.hgetall(keys.key('stats', experimentHint));
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const labels = numbers((replies[0]?.[1] ?? {}) as Record<string, string>);
    const rawExperiment = replies[1]?.[1] as string | null | undefined;
    const experiment = typeof rawExperiment === 'string' ? (JSON.parse(rawExperiment) as PromptExperiment) : undefined;
    const variations = Object.fromEntries(
      Object.entries((replies[2]?.[1] ?? {}) as Record<string, string>).map(([id, raw]) => [id, JSON.parse(raw) as PromptVariation]),
    );
    let stats: ScopeStats = { global: {}, contexts: {} };
    if (experiment !== undefined) {
      stats =
        experiment.id === experimentHint
          ? decodeStats((replies[3]?.[1] ?? {}) as Record<string, string>)
          : await this.getStats(name, experiment.id);
    }
    return { labels, experiment, variations, stats };
  }

  /** Deletes every key of one template (its versions, labels, statistics, history). */
  async deleteTemplate(name: string): Promise<void> {
    const pattern = this.keys(name).pattern();
    let cursor = '0';
    do {
      const [next, found] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) await this.client.del(...found);
    } while (cursor !== '0');
    await this.client.srem(this.registry, name);
  }

  /** Closes the connection when the store created it. Idempotent. */
  readonly close = once(async () => {
    await closeRedisConnection({ client: this.client, owned: this.owned });
  });
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ValidationError(name, `must be a positive integer (got ${value})`);
  return value;
}

function numbers(raw: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, Number(value)]));
}
