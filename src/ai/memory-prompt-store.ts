import type { OutcomeWrite, PromptState, PromptStore, ScopeStats } from './prompt-store.js';
import { decodeStats, statsKey } from './stats-codec.js';
import type { DecisionRecord, PromptExample, PromptExperiment, PromptVariation, TemplateVersion } from './types.js';

/** Options of {@link MemoryPromptStore}. */
export interface MemoryPromptStoreOptions {
  /** Latencies kept per arm for percentiles. Default `1000`. */
  maxLatencies?: number;
  /** Best-scored examples kept per scope. Default `20`. */
  maxExamples?: number;
}

interface TemplateState {
  versions: TemplateVersion[];
  labels: Record<string, number>;
  variations: Record<string, PromptVariation>;
  experiment?: PromptExperiment;
  stats: Map<string, Map<string, number>>;
  latencies: Map<string, number[]>;
  examples: Map<string, PromptExample[]>;
  assignments: Map<string, string>;
  history: DecisionRecord[];
}

const clone = <T>(value: T): T => structuredClone(value);

/**
 * An in-process {@link PromptStore} for tests and development: same behaviour as the Redis
 * store, nothing shared between processes.
 *
 * @example
 * ```ts
 * const optimizer = new PromptOptimizer({ store: new MemoryPromptStore() });
 * ```
 */
export class MemoryPromptStore implements PromptStore {
  private readonly templates = new Map<string, TemplateState>();
  private readonly maxLatencies: number;
  private readonly maxExamples: number;

  constructor(options: MemoryPromptStoreOptions = {}) {
    this.maxLatencies = options.maxLatencies ?? 1000;
    this.maxExamples = options.maxExamples ?? 20;
  }

  private state(name: string): TemplateState {
    let state = this.templates.get(name);
    if (state === undefined) {
      state = {
        versions: [],
        labels: {},
        variations: {},
        stats: new Map(),
        latencies: new Map(),
        examples: new Map(),
        assignments: new Map(),
        history: [],
      };
      this.templates.set(name, state);
    }
    return state;
  }

  createVersion(name: string, version: Omit<TemplateVersion, 'version'>, labels: readonly string[]): Promise<number> {
    const state = this.state(name);
    const number = state.versions.length + 1;
    state.versions.push(clone({ ...version, version: number }));
    state.labels['latest'] = number;
    for (const label of labels) state.labels[label] = number;
    return Promise.resolve(number);
  }

  getVersion(name: string, version: number): Promise<TemplateVersion | undefined> {
    const found = this.templates.get(name)?.versions[version - 1];
    return Promise.resolve(found === undefined ? undefined : clone(found));
  }

  listVersions(name: string): Promise<TemplateVersion[]> {
    return Promise.resolve(clone(this.templates.get(name)?.versions ?? []));
  }

  listTemplates(): Promise<string[]> {
    return Promise.resolve([...this.templates.entries()].filter(([, s]) => s.versions.length > 0).map(([name]) => name).sort());
  }

  getLabels(name: string): Promise<Record<string, number>> {
    return Promise.resolve({ ...this.templates.get(name)?.labels });
  }

  setLabel(name: string, label: string, version: number): Promise<boolean> {
    const state = this.templates.get(name);
    if (state === undefined || !Number.isInteger(version) || version < 1 || version > state.versions.length) {
      return Promise.resolve(false);
    }
    state.labels[label] = version;
    return Promise.resolve(true);
  }

  addVariation(name: string, variation: PromptVariation): Promise<boolean> {
    const state = this.state(name);
    if (variation.id in state.variations) return Promise.resolve(false);
    state.variations[variation.id] = clone(variation);
    return Promise.resolve(true);
  }

  getVariations(name: string): Promise<Record<string, PromptVariation>> {
    return Promise.resolve(clone(this.templates.get(name)?.variations ?? {}));
  }

  getExperiment(name: string): Promise<PromptExperiment | undefined> {
    const experiment = this.templates.get(name)?.experiment;
    return Promise.resolve(experiment === undefined ? undefined : clone(experiment));
  }

  putExperiment(name: string, experiment: PromptExperiment): Promise<boolean> {
    const state = this.state(name);
    if (state.experiment?.status === 'running') return Promise.resolve(false);
    state.experiment = clone(experiment);
    return Promise.resolve(true);
  }

  updateRunningExperiment(name: string, expectedId: string, next: PromptExperiment): Promise<boolean> {
    const state = this.templates.get(name);
    if (state?.experiment?.id !== expectedId || state.experiment.status !== 'running') return Promise.resolve(false);
    state.experiment = clone(next);
    return Promise.resolve(true);
  }

  recordOutcomes(name: string, writes: readonly OutcomeWrite[]): Promise<void> {
    const state = this.state(name);
    for (const write of writes) {
      let flat = state.stats.get(write.scope);
      if (flat === undefined) {
        flat = new Map<string, number>();
        state.stats.set(write.scope, flat);
      }
      for (const [field, value] of Object.entries(write.delta)) {
        const globalKey = statsKey(write.arm, '', field);
        flat.set(globalKey, (flat.get(globalKey) ?? 0) + value);
        if (write.context !== undefined) {
          const contextKey = statsKey(write.arm, write.context, field);
          flat.set(contextKey, (flat.get(contextKey) ?? 0) + value);
        }
      }
      if (write.latencyMs !== undefined) {
        const key = `${write.scope}|${write.arm}`;
        const list = state.latencies.get(key) ?? [];
        list.unshift(write.latencyMs);
        if (list.length > this.maxLatencies) list.length = this.maxLatencies;
        state.latencies.set(key, list);
      }
      if (write.example !== undefined) {
        const list = state.examples.get(write.scope) ?? [];
        list.push(clone(write.example));
        list.sort((a, b) => b.quality - a.quality);
        if (list.length > this.maxExamples) list.length = this.maxExamples;
        state.examples.set(write.scope, list);
      }
    }
    return Promise.resolve();
  }

  getStats(name: string, scope: string): Promise<ScopeStats> {
    const flat = this.templates.get(name)?.stats.get(scope);
    return Promise.resolve(decodeStats(Object.fromEntries(flat ?? [])));
  }

  getLatencies(name: string, scope: string, arm: string): Promise<number[]> {
    return Promise.resolve([...(this.templates.get(name)?.latencies.get(`${scope}|${arm}`) ?? [])]);
  }

  getExamples(name: string, scope: string, limit: number): Promise<PromptExample[]> {
    return Promise.resolve(clone((this.templates.get(name)?.examples.get(scope) ?? []).slice(0, limit)));
  }

  assign(name: string, experimentId: string, subjectId: string, arm: string, activeArms?: readonly string[]): Promise<string> {
    const assignments = this.state(name).assignments;
    const key = `${experimentId}|${subjectId}`;
    const existing = assignments.get(key);
    if (existing !== undefined && (activeArms === undefined || activeArms.includes(existing))) return Promise.resolve(existing);
    assignments.set(key, arm);
    return Promise.resolve(arm);
  }

  getAssignment(name: string, experimentId: string, subjectId: string): Promise<string | undefined> {
    return Promise.resolve(this.templates.get(name)?.assignments.get(`${experimentId}|${subjectId}`));
  }

  appendHistory(name: string, record: DecisionRecord): Promise<void> {
    this.state(name).history.push(clone(record));
    return Promise.resolve();
  }

  getHistory(name: string): Promise<DecisionRecord[]> {
    return Promise.resolve(clone(this.templates.get(name)?.history ?? []));
  }

  async getState(name: string): Promise<PromptState> {
    const experiment = await this.getExperiment(name);
    return {
      labels: await this.getLabels(name),
      experiment,
      variations: await this.getVariations(name),
      stats: experiment === undefined ? { global: {}, contexts: {} } : await this.getStats(name, experiment.id),
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
