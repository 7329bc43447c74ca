import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from '../core/clock.js';
import { configValue } from '../core/config.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import type { RedisConnectionInput } from '../core/redis-connection.js';
import { ValidationError } from '../core/validation-error.js';
import {
  type AllocationArm,
  type ArmDecision,
  chooseArm,
  credibleInterval,
  decide,
  emptyStats,
  metricCount,
  metricMean,
  type Posterior,
  posteriorOf,
  type QualityModel,
} from './bandit.js';
import type { LlmAdapter } from './llm/llm-adapter.js';
import { MemoryPromptStore } from './memory-prompt-store.js';
import { PromptOptimizerError } from './prompt-optimizer-error.js';
import type { OutcomeWrite, PromptState, PromptStore, ScopeStats } from './prompt-store.js';
import { PromptTemplateError } from './prompt-template-error.js';
import type { RandomSource } from './random.js';
import { RedisPromptStore } from './redis-prompt-store.js';
import { applyDelta } from './stats-codec.js';
import { type CompiledTemplate, compileTemplate, normalizeVariables, placeholdersOf, renderCompiled } from './render-template.js';
import type {
  AllocationStrategy,
  ArmStats,
  DecisionRecord,
  ExperimentMetric,
  PromptExample,
  PromptExperiment,
  PromptMessage,
  PromptValues,
  PromptVariation,
  TemplateDefinition,
  TemplateVersion,
} from './types.js';
import type { VariationContent, VariationRule } from './variation-rules.js';

/** What one served prompt or recorded outcome reports to {@link PromptMetrics}. */
export interface PromptMetricsInfo {
  template: string;
  arm: string;
  experiment?: string;
}

/**
 * A metrics hook the performance monitor (or any collector) implements; no prom-client import
 * here. A throwing hook is logged, never propagated.
 */
export interface PromptMetrics {
  /** Called each time `getPrompt` serves a prompt. */
  onPromptServed(info: PromptMetricsInfo): void;
  /** Called each time an outcome is recorded for a served prompt. */
  onOutcomeRecorded(
    info: PromptMetricsInfo & { quality?: number; success?: boolean; latencyMs?: number; tokens?: number; costUsd?: number },
  ): void;
}

/** Options of {@link PromptOptimizer}. */
export interface PromptOptimizerOptions {
  /** Counters and histograms of served prompts and outcomes. Default none. */
  metrics?: PromptMetrics;
  /** Where templates and statistics live. Default: a {@link RedisPromptStore} on `redis` when given, else a {@link MemoryPromptStore}. */
  store?: PromptStore;
  /** Redis for the default store (a client stays open on close). */
  redis?: RedisConnectionInput;
  /** Key prefix of the default Redis store. Default `'uxflow'`. */
  prefix?: string;
  /** Default a silent logger. */
  logger?: Logger;
  /** Default the system clock. */
  clock?: Clock;
  /** Uniform [0, 1) source for allocation and decisions; inject `createSeededRandom(seed)` for reproducible runs. Default `Math.random`. */
  random?: RandomSource;
  /** Run experiments; when false `getPrompt` serves the labelled version only. Default `ENABLE_PROMPT_OPTIMIZATION` (true). */
  enabled?: boolean;
  /** Outcomes each arm needs before allocation adapts (equal split until then). Default `OPTIMIZATION_SAMPLE_SIZE` (10). */
  sampleSize?: number;
  /** Metric mean an arm must reach to be promoted. Default `AI_QUALITY_THRESHOLD` (0.7). */
  qualityThreshold?: number;
  /** Probability to be best that triggers promotion. Default `0.95`. */
  promoteThreshold?: number;
  /** Promote automatically when an arm qualifies. Default `true`. */
  autoPromote?: boolean;
  /**
   * Traffic share every active arm keeps after warm-up, in [0, 1/arms]. Default `0.001` per arm: with
   * 10 arms a 1% floor would spend 9% of traffic on losers (about +90 regret in the reference simulation).
   */
  minArmShare?: number;
  /** Exploration rate of `epsilon-greedy`. Default `0.1`. */
  epsilon?: number;
  /** Thompson model for the quality metric. Default `'beta'` (fractional successes). */
  qualityModel?: QualityModel;
  /** How long `getPrompt` serves cached templates and statistics without asking the store. Default `1000` ms. */
  cacheTtlMs?: number;
  /** Serve the stale cache while it refreshes in the background. Default `true`. */
  staleWhileRevalidate?: boolean;
  /** Posterior draws for probability to be best and expected loss. Default `10000`. */
  decisionDraws?: number;
  /** Outcomes recorded by this instance between automatic evaluations of a template. `0` disables. Default `100`. */
  evaluateEveryOutcomes?: number;
  /** Retire an arm whose probability to be best falls below this. `0` disables. Default `0.001`. */
  retireBelowProbability?: number;
  /** Outcomes an arm needs before it can be retired. Default `10 × sampleSize`. */
  retireMinOutcomes?: number;
  /** Weight, in pseudo-outcomes, of the global statistics as prior of a context's. Default `sampleSize`. */
  contextPriorWeight?: number;
  /** Label `getPrompt` serves and experiments move. Default `'production'`. */
  defaultLabel?: string;
}

/** Options of {@link PromptOptimizer.getPrompt}. */
export interface GetPromptOptions {
  /** Values of the template's declared variables. */
  variables?: PromptValues;
  /** Request attributes; the experiment's `contextKey` picks the statistics to use. */
  context?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Gives the same subject the same arm for the whole experiment. */
  subjectId?: string;
  /** Label to serve. Default the optimizer's `defaultLabel`. */
  label?: string;
  /** Serve this exact version (no experiment). */
  version?: number;
}

/** The handle of what was served; pass it back to {@link PromptOptimizer.recordOutcome}. JSON-safe. */
export interface PromptSelection {
  template: string;
  /** Version rendered (for a variation: the version it derives from). */
  version: number;
  /** Variation id, when a variation was served. */
  variation?: string;
  /** Experiment id, when served within one. */
  experiment?: string;
  /** Arm id: a variation id, `control`, or `v<version>` outside experiments. */
  arm: string;
  /** Context value used for statistics. */
  context?: string;
  label: string;
}

/** What {@link PromptOptimizer.getPrompt} returns. */
export interface RenderedPrompt {
  /** The rendered text, for plain-text templates. */
  prompt?: string;
  /** The rendered messages, for chat templates. */
  messages?: PromptMessage[];
  selection: PromptSelection;
}

/** What a served prompt led to. Quality and scores are in [0, 1]. */
export interface PromptOutcome {
  /** Overall quality. Default: the mean of `scores`. */
  quality?: number;
  /** Per-criterion scores (`relevance`, `clarity`, `completeness`, …). */
  scores?: Readonly<Record<string, number>>;
  success?: boolean;
  latencyMs?: number;
  /** Total tokens, or input and output. */
  tokens?: number | { input: number; output: number };
  costUsd?: number;
  /** Input and output to keep as a few-shot example when it scores among the best. */
  example?: { input: string; output: string };
}

/** Options of {@link PromptOptimizer.startExperiment}. */
export interface StartExperimentOptions {
  /** Variation ids competing. `control` (the labelled version) is added unless `includeControl` is false. */
  variations: readonly string[];
  /** Default `'thompson'`. */
  strategy?: AllocationStrategy;
  /** Field of `getPrompt`'s `context` whose value gets its own statistics. */
  contextKey?: string;
  /** Default `'quality'`. */
  metric?: ExperimentMetric;
  /** Split weights for `fixed`, by arm id. Default equal. */
  weights?: Readonly<Record<string, number>>;
  /** Default `true`. */
  includeControl?: boolean;
  /** Label served and moved on promotion. Default the optimizer's `defaultLabel`. */
  label?: string;
}

/** Per-arm or per-version figures of a report. */
export interface ArmReport {
  id: string;
  traffic: number;
  quality: { mean: number; interval: [number, number] } | undefined;
  successRate: number | undefined;
  latencyMs: { p50: number; p95: number } | undefined;
  tokens: { total: number; mean: number };
  costUsd: { total: number; mean: number };
  scores: Record<string, number>;
  probabilityBest?: number;
  expectedLoss?: number;
  retired?: boolean;
  /** Per-context figures (experiments with a `contextKey`). */
  contexts?: Record<string, { traffic: number; mean: number | undefined }>;
}

/** What {@link PromptOptimizer.getReport} returns. */
export interface PromptReport {
  name: string;
  labels: Record<string, number>;
  versions: (ArmReport & { version: number; source: string; createdAt: number; labels: string[] })[];
  experiment?: Omit<PromptExperiment, 'weights' | 'arms'> & { arms: ArmReport[]; armIds: string[] };
  history: DecisionRecord[];
}

/** Events of {@link PromptOptimizer}. */
export interface PromptOptimizerEvents {
  promoted: [{ template: string; experiment: string; arm: string; version: number; label: string; probabilityBest: number }];
  retired: [{ template: string; experiment: string; arm: string; probabilityBest: number; expectedLoss: number }];
  error: [Error];
}

interface WriteQueue {
  writes: OutcomeWrite[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
  draining: Promise<void> | undefined;
}

interface CachedState {
  state: PromptState;
  /** Allocation arms by context, valid until the statistics change. */
  arms?: Map<string, AllocationArm[]>;
  loadedAt: number;
  refreshing?: Promise<PromptState>;
}

const VERSION_SCOPE = 'versions';
const CONTROL = 'control';
const ID = /^[A-Za-z0-9_.:-]{1,100}$/;

/**
 * Versioned prompt templates with experiments that learn in production: serve a prompt, record
 * what it led to, and traffic shifts to what works (Thompson sampling by default), across every
 * instance sharing the store.
 *
 * @example
 * ```ts
 * const optimizer = new PromptOptimizer({ redis, logger });
 * await optimizer.registerTemplate('summarize', { template: 'Summarize:\n{{text}}', variables: ['text'] });
 * await optimizer.addVariation('summarize', { id: 'bullets', template: 'Summarize in 3 bullets:\n{{text}}' });
 * await optimizer.startExperiment('summarize', { variations: ['bullets'] });
 * const { prompt, selection } = await optimizer.getPrompt('summarize', { variables: { text } });
 * await optimizer.recordOutcome(selection, { quality: 0.9, latencyMs: 820 });
 * ```
 */
export class PromptOptimizer extends EventEmitter<PromptOptimizerEvents> {
  /** The store in use. */
  readonly store: PromptStore;
  private readonly ownsStore: boolean;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly metrics: PromptMetrics | undefined;
  private readonly settings: {
    enabled: boolean;
    sampleSize: number;
    qualityThreshold: number;
    promoteThreshold: number;
    autoPromote: boolean;
    minArmShare: number;
    epsilon: number;
    qualityModel: QualityModel;
    cacheTtlMs: number;
    staleWhileRevalidate: boolean;
    decisionDraws: number;
    evaluateEveryOutcomes: number;
    retireBelowProbability: number;
    retireMinOutcomes: number;
    contextPriorWeight: number;
    defaultLabel: string;
  };
  private readonly cache = new Map<string, CachedState>();
  private readonly versions = new Map<string, { version: TemplateVersion; compiled: CompiledTemplate }>();
  private readonly compiledVariations = new Map<string, CompiledTemplate>();
  private readonly sticky = new Map<string, string>();
  private readonly sinceEvaluation = new Map<string, number>();
  private readonly evaluating = new Map<string, Promise<unknown>>();
  private readonly writeQueues = new Map<string, WriteQueue>();

  constructor(options: PromptOptimizerOptions = {}) {
    super();
    this.logger = options.logger ?? createSilentLogger();
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.metrics = options.metrics;
    const sampleSize = configValue('OPTIMIZATION_SAMPLE_SIZE', options.sampleSize);
    const settings = {
      enabled: configValue('ENABLE_PROMPT_OPTIMIZATION', options.enabled),
      sampleSize,
      qualityThreshold: configValue('AI_QUALITY_THRESHOLD', options.qualityThreshold),
      promoteThreshold: options.promoteThreshold ?? 0.95,
      autoPromote: options.autoPromote ?? true,
      minArmShare: options.minArmShare ?? 0.001,
      epsilon: options.epsilon ?? 0.1,
      qualityModel: options.qualityModel ?? 'beta',
      cacheTtlMs: options.cacheTtlMs ?? 1000,
      staleWhileRevalidate: options.staleWhileRevalidate ?? true,
      decisionDraws: options.decisionDraws ?? 10_000,
      evaluateEveryOutcomes: options.evaluateEveryOutcomes ?? 100,
      retireBelowProbability: options.retireBelowProbability ?? 0.001,
      retireMinOutcomes: options.retireMinOutcomes ?? 10 * sampleSize,
      contextPriorWeight: options.contextPriorWeight ?? sampleSize,
      defaultLabel: options.defaultLabel ?? 'production',
    } satisfies PromptOptimizer['settings'];
    checkInteger('sampleSize', settings.sampleSize, 1);
    checkRange('qualityThreshold', settings.qualityThreshold, 0, 1);
    checkRange('promoteThreshold', settings.promoteThreshold, 0.5, 1);
    checkRange('minArmShare', settings.minArmShare, 0, 0.5);
    checkRange('epsilon', settings.epsilon, 0, 1);
    checkRange('retireBelowProbability', settings.retireBelowProbability, 0, 0.5);
    checkInteger('cacheTtlMs', settings.cacheTtlMs, 0);
    checkInteger('decisionDraws', settings.decisionDraws, 100);
    checkInteger('evaluateEveryOutcomes', settings.evaluateEveryOutcomes, 0);
    checkInteger('retireMinOutcomes', settings.retireMinOutcomes, 1);
    checkRange('contextPriorWeight', settings.contextPriorWeight, 0, Number.MAX_SAFE_INTEGER);
    if (settings.qualityModel !== 'beta' && settings.qualityModel !== 'gaussian') {
      throw new ValidationError('qualityModel', 'must be "beta" or "gaussian"');
    }
    checkId('defaultLabel', settings.defaultLabel);
    this.settings = settings;
    if (options.store !== undefined) {
      this.store = options.store;
      this.ownsStore = false;
    } else if (options.redis !== undefined) {
      this.store = new RedisPromptStore({ redis: options.redis, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
      this.ownsStore = true;
    } else {
      this.store = new MemoryPromptStore();
      this.ownsStore = true;
    }
  }

  // ---------------------------------------------------------------- templates

  /**
   * Stores a new immutable version of a template and returns its number. `latest` always moves
   * to it; the first version also gets `production` unless `labels` says otherwise. Registering
   * content identical to the `latest` version (template or messages, variables, description,
   * tags) creates nothing and returns that version's number, so services can register their
   * templates at every start-up; labels named in `labels` are still moved to it.
   *
   * @example
   * ```ts
   * const v = await optimizer.registerTemplate('triage', {
   *   messages: [{ role: 'system', content: 'You triage tickets.' }, { role: 'user', content: '{{ticket}}' }],
   *   variables: { ticket: 'string' },
   *   labels: ['staging'],
   * });
   * ```
   */
  async registerTemplate(name: string, definition: TemplateDefinition): Promise<number> {
    checkId('name', name);
    const variables = normalizeVariables(definition.variables, name);
    compileTemplate(definition, variables, name);
    for (const label of definition.labels ?? []) checkLabel(label);
    const existing = await this.store.getLabels(name);
    const labels = definition.labels ?? (existing['latest'] === undefined ? [this.settings.defaultLabel] : []);
    const version: Omit<TemplateVersion, 'version'> = {
      name,
      ...(definition.template === undefined ? { messages: definition.messages.map((m) => ({ role: m.role, content: m.content })) } : { template: definition.template }),
      variables,
      ...(definition.description === undefined ? {} : { description: definition.description }),
      tags: [...(definition.tags ?? [])],
      createdAt: this.clock.now(),
      source: 'manual',
    };
    const latestNumber = existing['latest'];
    const latest = latestNumber === undefined ? undefined : await this.store.getVersion(name, latestNumber);
    if (latest !== undefined && sameVersion(latest, version)) {
      // Registering unchanged content again (a service restart) keeps the current version.
      for (const label of definition.labels ?? []) {
        if (existing[label] !== latest.version) await this.setLabel(name, label, latest.version);
      }
      return latest.version;
    }
    const number = await this.store.createVersion(name, version, labels);
    this.cache.delete(name);
    this.logger.info({ template: name, version: number, labels: ['latest', ...labels] }, 'prompt template version registered');
    return number;
  }

  /**
   * Moves a label (`production`, `staging`, or any name; not `latest`) to a version.
   *
   * @example
   * ```ts
   * await optimizer.setLabel('triage', 'production', 3); // roll back or forward
   * ```
   */
  async setLabel(name: string, label: string, version: number): Promise<void> {
    checkLabel(label);
    if (!(await this.store.setLabel(name, label, version))) {
      throw new PromptOptimizerError(`Template "${name}" has no version ${version}`, { details: { template: name, version } });
    }
    this.cache.delete(name);
    await this.store.appendHistory(name, {
      at: this.clock.now(),
      experimentId: '',
      type: 'label-moved',
      label,
      version,
      reason: 'set by hand',
    });
  }

  /** One version of a template, as stored. Throws for an unknown one. */
  async getVersion(name: string, version: number): Promise<TemplateVersion> {
    return (await this.loadVersion(name, version)).version;
  }

  /** Every version of a template, oldest first. */
  listVersions(name: string): Promise<TemplateVersion[]> {
    return this.store.listVersions(name);
  }

  // ---------------------------------------------------------------- serving

  /**
   * Renders the prompt to use now. Within a running experiment an arm is chosen (sticky per
   * `subjectId` when given); otherwise the labelled version. Missing or extra variables throw
   * {@link PromptTemplateError} naming the variable. Served from a local cache on the hot path.
   *
   * @example
   * ```ts
   * const { messages, selection } = await optimizer.getPrompt('triage', {
   *   variables: { ticket: body }, context: { segment: 'enterprise' }, subjectId: userId,
   * });
   * ```
   */
  async getPrompt(name: string, options: GetPromptOptions = {}): Promise<RenderedPrompt> {
    const rendered = await this.serve(name, options);
    if (this.metrics !== undefined) {
      const { selection } = rendered;
      this.observe(() => {
        this.metrics?.onPromptServed({
          template: name,
          arm: selection.arm,
          ...(selection.experiment === undefined ? {} : { experiment: selection.experiment }),
        });
      });
    }
    return rendered;
  }

  private async serve(name: string, options: GetPromptOptions): Promise<RenderedPrompt> {
    const label = options.label ?? this.settings.defaultLabel;
    if (options.version !== undefined) {
      const { compiled } = await this.loadVersion(name, options.version);
      const rendered = renderCompiled(compiled, options.variables, name);
      return { ...rendered, selection: { template: name, version: options.version, arm: `v${options.version}`, label } };
    }
    const state = this.freshState(name) ?? (await this.loadState(name));
    const experiment = state.experiment;
    if (this.settings.enabled && experiment?.status === 'running' && experiment.label === label) {
      const contextValue = contextOf(experiment, options.context);
      const arm =
        options.subjectId === undefined
          ? this.chooseFor(name, experiment, state.stats, contextValue)
          : await this.stickyArm(name, experiment, state.stats, contextValue, options.subjectId);
      const selection: PromptSelection = {
        template: name,
        version: experiment.controlVersion,
        experiment: experiment.id,
        arm,
        label,
        ...(contextValue === undefined ? {} : { context: contextValue }),
      };
      if (arm === CONTROL) {
        const compiled = this.versions.get(`${name}@${experiment.controlVersion}`)?.compiled ?? (await this.loadVersion(name, experiment.controlVersion)).compiled;
        return { ...renderCompiled(compiled, options.variables, name), selection };
      }
      const variation = state.variations[arm];
      if (variation === undefined) throw new PromptOptimizerError(`Variation "${arm}" of "${name}" is missing from the store`);
      const compiled = this.compiledVariations.get(`${name}#${arm}`) ?? (await this.compileVariation(name, variation));
      selection.version = variation.baseVersion;
      selection.variation = arm;
      return { ...renderCompiled(compiled, options.variables, name), selection };
    }
    const version = state.labels[label];
    if (version === undefined) {
      throw new PromptOptimizerError(
        state.labels['latest'] === undefined ? `Unknown prompt template "${name}"` : `Template "${name}" has no label "${label}"`,
        { details: { template: name, label } },
      );
    }
    const compiled = this.versions.get(`${name}@${version}`)?.compiled ?? (await this.loadVersion(name, version)).compiled;
    return { ...renderCompiled(compiled, options.variables, name), selection: { template: name, version, arm: `v${version}`, label } };
  }

  /**
   * Records what a served prompt led to. Statistics update atomically in the store, so every
   * instance learns from it; this instance's cache sees it once the write is done. Outcomes
   * recorded while a write is in flight share the next pipelined round trip.
   *
   * @example
   * ```ts
   * await optimizer.recordOutcome(selection, { scores: { relevance: 0.9, clarity: 0.8 }, success: true, latencyMs: 640, tokens: 412 });
   * ```
   */
  async recordOutcome(selection: PromptSelection, outcome: PromptOutcome): Promise<void> {
    await this.recordOutcomes([{ selection, outcome }]);
  }

  /**
   * Records many outcomes in one round trip (pipelined), e.g. from a batch evaluation.
   *
   * @example
   * ```ts
   * await optimizer.recordOutcomes(results.map((r) => ({ selection: r.selection, outcome: { success: r.ok } })));
   * ```
   */
  async recordOutcomes(entries: readonly { selection: PromptSelection; outcome: PromptOutcome }[]): Promise<void> {
    const byTemplate = new Map<string, OutcomeWrite[]>();
    for (const { selection, outcome } of entries) {
      const write = toWrite(selection, outcome);
      const list = byTemplate.get(selection.template) ?? [];
      list.push(write);
      byTemplate.set(selection.template, list);
    }
    await Promise.all(
      [...byTemplate].map(async ([name, writes]) => {
        await this.enqueueWrites(name, writes);
        const cached = this.cache.get(name);
        if (cached !== undefined) {
          for (const write of writes) applyLocally(cached.state, write);
          cached.arms?.clear();
        }
        this.countForEvaluation(name, writes.length);
      }),
    );
    if (this.metrics !== undefined) {
      for (const { selection, outcome } of entries) {
        const tokens = outcome.tokens === undefined ? undefined : typeof outcome.tokens === 'number' ? outcome.tokens : outcome.tokens.input + outcome.tokens.output;
        const quality = outcome.quality ?? meanOf(outcome.scores);
        this.observe(() => {
          this.metrics?.onOutcomeRecorded({
            template: selection.template,
            arm: selection.arm,
            ...(selection.experiment === undefined ? {} : { experiment: selection.experiment }),
            ...(quality === undefined ? {} : { quality }),
            ...(outcome.success === undefined ? {} : { success: outcome.success }),
            ...(outcome.latencyMs === undefined ? {} : { latencyMs: outcome.latencyMs }),
            ...(tokens === undefined ? {} : { tokens }),
            ...(outcome.costUsd === undefined ? {} : { costUsd: outcome.costUsd }),
          });
        });
      }
    }
  }

  private observe(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.logger.warn({ err: error }, 'prompt optimizer metrics hook threw');
    }
  }

  // ---------------------------------------------------------------- variations and experiments

  /**
   * Adds a hand-written variation of a template. It must use only the template's declared
   * variables; ids are immutable: adding the same id with the same content and source again
   * returns the stored variation (safe at every start-up), with different content it throws a
   * {@link PromptOptimizerError}.
   *
   * @example
   * ```ts
   * await optimizer.addVariation('summarize', { id: 'short', template: 'TL;DR of:\n{{text}}' });
   * ```
   */
  async addVariation(
    name: string,
    variation: { id: string; source?: string } & ({ template: string; messages?: undefined } | { messages: readonly PromptMessage[]; template?: undefined }),
  ): Promise<PromptVariation> {
    checkId('id', variation.id);
    if (variation.id === CONTROL) throw new ValidationError('id', `"${CONTROL}" is reserved for the labelled version`);
    const base = await this.baseVersion(name);
    compileTemplate(variation, base.version.variables, name);
    const stored: PromptVariation = {
      id: variation.id,
      ...(variation.template === undefined
        ? { messages: variation.messages.map((m) => ({ role: m.role, content: m.content })) }
        : { template: variation.template }),
      source: variation.source ?? 'manual',
      baseVersion: base.version.version,
      createdAt: this.clock.now(),
    };
    if (!(await this.store.addVariation(name, stored))) {
      // Adding the same content again (a service restart) returns what is stored.
      const existing = (await this.store.getVariations(name))[variation.id];
      if (existing !== undefined && existing.source === stored.source && sameContent(contentOf(existing), contentOf(stored))) return existing;
      throw new PromptOptimizerError(`Template "${name}" already has a different variation "${variation.id}"`, {
        details: { template: name, variation: variation.id },
      });
    }
    this.cache.delete(name);
    return stored;
  }

  /**
   * Generates one variation per rule from the labelled version (add a role, step-by-step,
   * output format, trim verbosity, few-shot examples from the best-scored outcomes).
   *
   * @example
   * ```ts
   * const added = await optimizer.generateVariations('summarize', { rules: [variationRules.stepByStep(), variationRules.fewShot(3)] });
   * ```
   */
  async generateVariations(name: string, options: { rules: readonly VariationRule[] }): Promise<PromptVariation[]> {
    const base = await this.baseVersion(name);
    const experiment = (await this.loadState(name)).experiment;
    const examples = [
      ...(experiment === undefined ? [] : await this.store.getExamples(name, experiment.id, 20)),
      ...(await this.store.getExamples(name, VERSION_SCOPE, 20)),
    ].sort((a, b) => b.quality - a.quality);
    const existing = await this.store.getVariations(name);
    const added: PromptVariation[] = [];
    for (const rule of options.rules) {
      const content = rule.apply(contentOf(base.version), { examples });
      if (sameContent(content, contentOf(base.version))) continue;
      const id = freeId(`rule-${rule.name}`, existing);
      const variation = await this.addVariation(name, { id, source: `rule:${rule.name}`, ...asContent(content) });
      existing[id] = variation;
      added.push(variation);
    }
    return added;
  }

  /**
   * Asks an LLM for `count` rewrites of the labelled version. Proposals that drop a required
   * variable or invent one are discarded (and logged).
   *
   * @example
   * ```ts
   * const proposed = await optimizer.proposeVariations('summarize', { llm: new AnthropicAdapter({ apiKey, model }), count: 3 });
   * ```
   */
  async proposeVariations(
    name: string,
    options: { llm: LlmAdapter; count?: number; goal?: string; temperature?: number },
  ): Promise<PromptVariation[]> {
    const count = options.count ?? 3;
    checkInteger('count', count, 1);
    const base = await this.baseVersion(name);
    const variables = base.version.variables;
    const original = contentOf(base.version);
    const editable = original.template ?? (original.messages ?? []).find((m) => m.role === 'system')?.content ?? original.messages?.[0]?.content ?? '';
    const used = placeholdersOf(editable);
    const result = await options.llm.complete({
      system:
        'You improve prompts for language models. Keep every {{placeholder}} exactly as written and do not add new ones. ' +
        'Reply with only a JSON array of strings, each a complete rewritten prompt.',
      messages: [
        {
          role: 'user',
          content:
            `Write ${count} improved versions of this prompt${options.goal === undefined ? '' : ` (goal: ${options.goal})`}.\n` +
            `Placeholders that must stay: ${used.map((v) => `{{${v}}}`).join(', ') || '(none)'}.\n\nPROMPT:\n${editable}`,
        },
      ],
      maxTokens: 4000,
      ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    });
    const proposals = parseJsonArray(result.text);
    const existing = await this.store.getVariations(name);
    const added: PromptVariation[] = [];
    for (const text of proposals.slice(0, count)) {
      const placeholders = placeholdersOf(text);
      const missing = used.filter((v) => !placeholders.includes(v));
      const unknown = placeholders.filter((v) => !(v in variables));
      if (missing.length > 0 || unknown.length > 0 || text.trim() === '') {
        this.logger.warn({ template: name, missing, unknown }, 'discarded an LLM-proposed prompt variation');
        continue;
      }
      const content: VariationContent =
        original.template !== undefined ? { template: text } : { messages: replaceEditable(original.messages ?? [], text) };
      try {
        const id = freeId('llm', existing);
        const variation = await this.addVariation(name, { id, source: 'llm', ...asContent(content) });
        existing[id] = variation;
        added.push(variation);
      } catch (error) {
        if (!PromptTemplateError.isInstance(error)) throw error;
        this.logger.warn({ template: name, err: error }, 'discarded an LLM-proposed prompt variation');
      }
    }
    return added;
  }

  /**
   * Starts an experiment between variations (and `control`, the labelled version). Only one runs
   * per template at a time.
   *
   * @example
   * ```ts
   * await optimizer.startExperiment('summarize', { variations: ['short', 'bullets'], metric: 'quality', contextKey: 'taskType' });
   * ```
   */
  async startExperiment(name: string, options: StartExperimentOptions): Promise<PromptExperiment> {
    const strategy = options.strategy ?? 'thompson';
    if (!['thompson', 'ucb1', 'epsilon-greedy', 'fixed'].includes(strategy)) {
      throw new ValidationError('strategy', 'must be thompson, ucb1, epsilon-greedy or fixed');
    }
    const metric = options.metric ?? 'quality';
    if (metric !== 'quality' && metric !== 'success') throw new ValidationError('metric', 'must be "quality" or "success"');
    const label = options.label ?? this.settings.defaultLabel;
    const state = await this.store.getState(name);
    const controlVersion = state.labels[label];
    if (controlVersion === undefined) throw new PromptOptimizerError(`Template "${name}" has no label "${label}"`);
    if (state.experiment?.status === 'running') {
      throw new PromptOptimizerError(`Template "${name}" already runs experiment "${state.experiment.id}"; stop it first`);
    }
    for (const id of options.variations) {
      if (state.variations[id] === undefined) throw new PromptOptimizerError(`Template "${name}" has no variation "${id}"`);
    }
    const arms = [...new Set([...(options.includeControl === false ? [] : [CONTROL]), ...options.variations])];
    if (arms.length < 2) throw new ValidationError('variations', 'must give at least two arms (control included)');
    if (options.contextKey !== undefined && options.contextKey === '') throw new ValidationError('contextKey', 'must not be empty');
    if (options.weights !== undefined) {
      for (const [arm, weight] of Object.entries(options.weights)) {
        if (!arms.includes(arm)) throw new ValidationError(`weights.${arm}`, 'is not an arm of the experiment');
        checkRange(`weights.${arm}`, weight, 0, Number.MAX_VALUE);
      }
    }
    const experiment: PromptExperiment = {
      id: `${this.clock.now().toString(36)}-${Math.floor(this.random() * 2 ** 32).toString(36)}`,
      arms,
      retired: [],
      strategy,
      metric,
      ...(options.contextKey === undefined ? {} : { contextKey: options.contextKey }),
      ...(options.weights === undefined ? {} : { weights: { ...options.weights } }),
      label,
      controlVersion,
      status: 'running',
      startedAt: this.clock.now(),
    };
    // The check above is a fast path; this one is atomic, for instances starting at the same time.
    if (!(await this.store.putExperiment(name, experiment))) {
      throw new PromptOptimizerError(`Template "${name}" already runs an experiment; stop it first`);
    }
    await this.store.appendHistory(name, {
      at: experiment.startedAt,
      experimentId: experiment.id,
      type: 'started',
      reason: `${strategy} on ${metric} between ${arms.join(', ')}`,
    });
    this.cache.delete(name);
    this.logger.info({ template: name, experiment: experiment.id, arms, strategy, metric }, 'prompt experiment started');
    return experiment;
  }

  /**
   * Stops the running experiment; `getPrompt` serves the labelled version again.
   *
   * @example
   * ```ts
   * await optimizer.stopExperiment('summarize');
   * ```
   */
  async stopExperiment(name: string, reason = 'stopped by hand'): Promise<void> {
    const experiment = await this.store.getExperiment(name);
    if (experiment?.status !== 'running') throw new PromptOptimizerError(`Template "${name}" has no running experiment`);
    const at = this.clock.now();
    if (!(await this.store.updateRunningExperiment(name, experiment.id, { ...experiment, status: 'stopped', endedAt: at }))) {
      throw new PromptOptimizerError(`Experiment "${experiment.id}" of "${name}" ended meanwhile`);
    }
    await this.store.appendHistory(name, { at, experimentId: experiment.id, type: 'stopped', reason });
    this.cache.delete(name);
    this.logger.info({ template: name, experiment: experiment.id, reason }, 'prompt experiment stopped');
  }

  /**
   * Makes an arm the served prompt: a variation becomes a new version and the experiment's label
   * moves to it; the experiment completes. Called automatically when an arm qualifies.
   *
   * @example
   * ```ts
   * const version = await optimizer.promote('summarize', 'bullets');
   * ```
   */
  async promote(name: string, arm: string, reason = 'promoted by hand'): Promise<number> {
    const version = await this.promoteIfRunning(name, arm, reason);
    if (version === undefined) throw new PromptOptimizerError(`Template "${name}" has no running experiment`);
    return version;
  }

  /** Promotes `arm`; undefined when no experiment runs (or another instance ended it first). */
  private async promoteIfRunning(name: string, arm: string, reason: string, probabilityBest?: number): Promise<number | undefined> {
    const experiment = await this.store.getExperiment(name);
    if (experiment?.status !== 'running') return undefined;
    if (!experiment.arms.includes(arm)) throw new PromptOptimizerError(`"${arm}" is not an arm of experiment "${experiment.id}"`);
    const variation = arm === CONTROL ? undefined : (await this.store.getVariations(name))[arm];
    if (arm !== CONTROL && variation === undefined) throw new PromptOptimizerError(`Template "${name}" has no variation "${arm}"`);
    const at = this.clock.now();
    // Claim the experiment first, atomically, so two instances never promote twice.
    if (!(await this.store.updateRunningExperiment(name, experiment.id, { ...experiment, status: 'completed', winner: arm, endedAt: at }))) {
      return undefined;
    }
    let version = experiment.controlVersion;
    if (variation !== undefined) {
      const base = await this.loadVersion(name, variation.baseVersion);
      version = await this.store.createVersion(
        name,
        {
          name,
          ...asContent(contentOf(variation)),
          variables: base.version.variables,
          ...(base.version.description === undefined ? {} : { description: base.version.description }),
          tags: base.version.tags,
          createdAt: at,
          source: `variation:${arm}`,
        },
        [experiment.label],
      );
    } else if (!(await this.store.setLabel(name, experiment.label, version))) {
      throw new PromptOptimizerError(`Template "${name}" has no version ${version}`);
    }
    await this.store.appendHistory(name, {
      at,
      experimentId: experiment.id,
      type: 'promoted',
      arm,
      version,
      label: experiment.label,
      ...(probabilityBest === undefined ? {} : { probabilityBest }),
      reason,
    });
    this.cache.delete(name);
    this.logger.info(
      { template: name, experiment: experiment.id, arm, version, label: experiment.label, probabilityBest },
      'prompt variation promoted',
    );
    this.safeEmit('promoted', {
      template: name,
      experiment: experiment.id,
      arm,
      version,
      label: experiment.label,
      probabilityBest: probabilityBest ?? Number.NaN,
    });
    return version;
  }

  /**
   * Computes probability to be best and expected loss of each active arm, then retires arms far
   * below and promotes a winner when one qualifies. Runs automatically every
   * `evaluateEveryOutcomes` outcomes; call it yourself for a decision now.
   *
   * @example
   * ```ts
   * const decisions = await optimizer.evaluate('summarize');
   * ```
   */
  async evaluate(name: string): Promise<ArmDecision[]> {
    const state = await this.store.getState(name, this.cache.get(name)?.state.experiment?.id);
    this.cache.set(name, { state, loadedAt: this.clock.monotonic() });
    const experiment = state.experiment;
    if (experiment?.status !== 'running') return [];
    const active = experiment.arms.filter((arm) => !experiment.retired.includes(arm));
    const posteriors = active.map((id) => ({
      id,
      posterior: posteriorOf(state.stats.global[id] ?? emptyStats(), experiment.metric, this.settings.qualityModel),
    }));
    const decisions = decide(posteriors, this.settings.decisionDraws, this.random);
    const warm = active.every((id) => metricCount(state.stats.global[id] ?? emptyStats(), experiment.metric) >= this.settings.sampleSize);
    if (!warm) return decisions;
    const retire = decisions.filter(
      (d) =>
        this.settings.retireBelowProbability > 0 &&
        d.probabilityBest < this.settings.retireBelowProbability &&
        metricCount(state.stats.global[d.id] ?? emptyStats(), experiment.metric) >= this.settings.retireMinOutcomes,
    );
    const keep = active.length - retire.length;
    if (retire.length > 0 && keep >= 2) {
      const at = this.clock.now();
      const next = { ...experiment, retired: [...experiment.retired, ...retire.map((d) => d.id)] };
      if (!(await this.store.updateRunningExperiment(name, experiment.id, next))) return decisions;
      experiment.retired = next.retired;
      for (const d of retire) {
        await this.store.appendHistory(name, {
          at,
          experimentId: experiment.id,
          type: 'retired',
          arm: d.id,
          probabilityBest: d.probabilityBest,
          expectedLoss: d.expectedLoss,
          reason: `probability to be best ${d.probabilityBest} < ${this.settings.retireBelowProbability}`,
        });
        this.logger.info({ template: name, experiment: experiment.id, arm: d.id, probabilityBest: d.probabilityBest }, 'prompt arm retired');
        this.safeEmit('retired', {
          template: name,
          experiment: experiment.id,
          arm: d.id,
          probabilityBest: d.probabilityBest,
          expectedLoss: d.expectedLoss,
        });
      }
      this.cache.delete(name);
    }
    const best = decisions.reduce<ArmDecision | undefined>((a, d) => (a === undefined || d.probabilityBest > a.probabilityBest ? d : a), undefined);
    if (best !== undefined && this.settings.autoPromote && best.probabilityBest >= this.settings.promoteThreshold) {
      const mean = metricMean(state.stats.global[best.id] ?? emptyStats(), experiment.metric) ?? 0;
      if (mean >= this.settings.qualityThreshold) {
        await this.promoteIfRunning(
          name,
          best.id,
          `probability to be best ${best.probabilityBest.toFixed(3)} >= ${this.settings.promoteThreshold}, ${experiment.metric} ${mean.toFixed(3)} >= ${this.settings.qualityThreshold}`,
          best.probabilityBest,
        );
      }
    }
    return decisions;
  }

  // ---------------------------------------------------------------- reports

  /**
   * Per version and per experiment arm: traffic, mean quality with a 95% credible interval,
   * success rate, latency p50/p95, tokens and cost, probability to be best, and the decision history.
   *
   * @example
   * ```ts
   * const report = await optimizer.getReport('summarize');
   * console.table(report.experiment?.arms);
   * ```
   */
  async getReport(name: string): Promise<PromptReport> {
    const [state, versions, versionStats, history] = await Promise.all([
      this.store.getState(name),
      this.store.listVersions(name),
      this.store.getStats(name, VERSION_SCOPE),
      this.store.getHistory(name),
    ]);
    if (versions.length === 0) throw new PromptOptimizerError(`Unknown prompt template "${name}"`);
    const labelsOf = (version: number): string[] =>
      Object.entries(state.labels)
        .filter(([, v]) => v === version)
        .map(([label]) => label)
        .sort();
    const report: PromptReport = {
      name,
      labels: state.labels,
      versions: await Promise.all(
        versions.map(async (v) => ({
          ...(await this.armReport(name, VERSION_SCOPE, `v${v.version}`, versionStats, 'quality')),
          version: v.version,
          source: v.source,
          createdAt: v.createdAt,
          labels: labelsOf(v.version),
        })),
      ),
      history,
    };
    const experiment = state.experiment;
    if (experiment !== undefined) {
      const active = experiment.arms.filter((arm) => !experiment.retired.includes(arm));
      const decisions = decide(
        active.map((id) => ({ id, posterior: posteriorOf(state.stats.global[id] ?? emptyStats(), experiment.metric, this.settings.qualityModel) })),
        this.settings.decisionDraws,
        this.random,
      );
      const arms = await Promise.all(
        experiment.arms.map(async (id) => {
          const decision = decisions.find((d) => d.id === id);
          return {
            ...(await this.armReport(name, experiment.id, id, state.stats, experiment.metric)),
            probabilityBest: decision?.probabilityBest ?? 0,
            expectedLoss: decision?.expectedLoss ?? Number.NaN,
            retired: experiment.retired.includes(id),
          };
        }),
      );
      const { arms: armIds, ...rest } = experiment;
      delete rest.weights;
      report.experiment = { ...rest, armIds, arms };
    }
    return report;
  }

  /** Clears the local cache (templates and statistics are read from the store again). */
  invalidate(name?: string): void {
    if (name === undefined) this.cache.clear();
    else this.cache.delete(name);
  }

  /** Waits for pending writes and background evaluations, then closes the store when the optimizer created it. Idempotent. */
  readonly close = once(async () => {
    await Promise.allSettled([...this.writeQueues.values()].flatMap((queue) => (queue.draining === undefined ? [] : [queue.draining])));
    await Promise.allSettled([...this.evaluating.values()]);
    if (this.ownsStore) await this.store.close();
  });

  // ---------------------------------------------------------------- internals

  private async armReport(name: string, scope: string, arm: string, stats: ScopeStats, metric: ExperimentMetric): Promise<ArmReport> {
    const s = stats.global[arm] ?? emptyStats();
    const latencies = await this.store.getLatencies(name, scope, arm);
    const quality =
      s.qualityCount === 0
        ? undefined
        : { mean: s.qualitySum / s.qualityCount, interval: credibleInterval(posteriorOf(s, 'quality', this.settings.qualityModel)) };
    const contexts: Record<string, { traffic: number; mean: number | undefined }> = {};
    for (const [context, arms] of Object.entries(stats.contexts)) {
      const cs = arms[arm];
      if (cs !== undefined) contexts[context] = { traffic: cs.outcomes, mean: metricMean(cs, metric) };
    }
    return {
      id: arm,
      traffic: s.outcomes,
      quality,
      successRate: s.successTrials === 0 ? undefined : s.successes / s.successTrials,
      latencyMs: latencies.length === 0 ? undefined : { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) },
      tokens: { total: s.tokens, mean: s.outcomes === 0 ? 0 : s.tokens / s.outcomes },
      costUsd: { total: s.costUsd, mean: s.outcomes === 0 ? 0 : s.costUsd / s.outcomes },
      scores: Object.fromEntries(Object.entries(s.scores).map(([k, v]) => [k, v.count === 0 ? 0 : v.sum / v.count])),
      ...(Object.keys(contexts).length === 0 ? {} : { contexts }),
    };
  }

  private async stickyArm(
    name: string,
    experiment: PromptExperiment,
    stats: ScopeStats,
    context: string | undefined,
    subjectId: string,
  ): Promise<string> {
    const active = experiment.arms.filter((arm) => !experiment.retired.includes(arm));
    const stickyKey = `${name}|${experiment.id}|${subjectId}`;
    let assigned = this.sticky.get(stickyKey);
    if (assigned === undefined) {
      assigned = await this.store.getAssignment(name, experiment.id, subjectId);
      if (assigned !== undefined) this.remember(stickyKey, assigned);
    }
    if (assigned !== undefined && active.includes(assigned)) return assigned;
    const chosen = this.chooseFor(name, experiment, stats, context);
    const winner = await this.store.assign(name, experiment.id, subjectId, chosen, active);
    this.remember(stickyKey, winner);
    return winner;
  }

  /** Chooses an arm from the cached statistics; the allocation arms are memoized until stats change. */
  private chooseFor(name: string, experiment: PromptExperiment, stats: ScopeStats, context: string | undefined): string {
    const cached = this.cache.get(name);
    const memoKey = context ?? '';
    let arms = cached?.state.stats === stats ? cached.arms?.get(memoKey) : undefined;
    if (arms === undefined) {
      arms = this.allocationArms(experiment, stats, context);
      if (cached?.state.stats === stats) (cached.arms ??= new Map()).set(memoKey, arms);
    }
    return chooseArm(
      arms,
      {
        strategy: experiment.strategy,
        sampleSize: this.settings.sampleSize,
        minArmShare: Math.min(this.settings.minArmShare, 1 / arms.length),
        epsilon: this.settings.epsilon,
        ...(experiment.weights === undefined ? {} : { weights: experiment.weights }),
      },
      this.random,
    ).id;
  }

  private allocationArms(experiment: PromptExperiment, stats: ScopeStats, context: string | undefined): AllocationArm[] {
    const active = experiment.arms.filter((arm) => !experiment.retired.includes(arm));
    const local = context === undefined ? undefined : stats.contexts[context];
    return active.map((id) => {
      const global = stats.global[id] ?? emptyStats();
      const count = metricCount(global, experiment.metric);
      if (local === undefined) {
        return { id, count, localCount: count, mean: metricMean(global, experiment.metric), posterior: this.posterior(global, experiment.metric) };
      }
      const ctx = local[id] ?? emptyStats();
      const globalMean = metricMean(global, experiment.metric);
      const prior = globalMean === undefined ? undefined : { mean: globalMean, weight: Math.min(this.settings.contextPriorWeight, count) };
      const localCount = metricCount(ctx, experiment.metric);
      const posterior = this.posterior(ctx, experiment.metric, prior);
      return { id, count, localCount, mean: localCount === 0 ? globalMean : metricMean(ctx, experiment.metric), posterior };
    });
  }

  private posterior(stats: ArmStats, metric: ExperimentMetric, prior?: { mean: number; weight: number }): Posterior {
    return posteriorOf(stats, metric, this.settings.qualityModel, prior);
  }

  private remember(key: string, arm: string): void {
    if (this.sticky.size >= 10_000) {
      const oldest = this.sticky.keys().next();
      if (oldest.done !== true) this.sticky.delete(oldest.value);
    }
    this.sticky.set(key, arm);
  }

  /** The cached state when it can be served without waiting (fresh, or stale while revalidating). */
  private freshState(name: string): PromptState | undefined {
    const cached = this.cache.get(name);
    if (cached === undefined) return undefined;
    if (this.clock.monotonic() - cached.loadedAt < this.settings.cacheTtlMs) return cached.state;
    return undefined;
  }

  private async loadState(name: string): Promise<PromptState> {
    const cached = this.cache.get(name);
    const now = this.clock.monotonic();
    if (cached !== undefined && now - cached.loadedAt < this.settings.cacheTtlMs) return cached.state;
    if (cached !== undefined && this.settings.staleWhileRevalidate) {
      if (cached.refreshing === undefined) {
        cached.refreshing = this.refresh(name, cached);
        cached.refreshing.catch((error: unknown) => {
          this.logger.warn({ template: name, err: error }, 'prompt cache refresh failed; serving the stale copy');
        });
      }
      return cached.state;
    }
    if (cached?.refreshing !== undefined) return cached.refreshing;
    return this.refresh(name, cached);
  }

  private async refresh(name: string, cached: CachedState | undefined): Promise<PromptState> {
    try {
      const state = await this.store.getState(name, cached?.state.experiment?.id);
      const current = this.cache.get(name);
      if (current === undefined || current === cached) this.cache.set(name, { state, loadedAt: this.clock.monotonic() });
      if (state.labels['latest'] === undefined) this.cache.delete(name);
      return state;
    } finally {
      if (cached !== undefined) delete cached.refreshing;
    }
  }

  private async loadVersion(name: string, version: number): Promise<{ version: TemplateVersion; compiled: CompiledTemplate }> {
    const key = `${name}@${version}`;
    const cached = this.versions.get(key);
    if (cached !== undefined) return cached;
    const stored = await this.store.getVersion(name, version);
    if (stored === undefined) {
      throw new PromptOptimizerError(`Template "${name}" has no version ${version}`, { details: { template: name, version } });
    }
    const entry = { version: stored, compiled: compileTemplate(stored, stored.variables, name) };
    this.versions.set(key, entry);
    return entry;
  }

  private async compileVariation(name: string, variation: PromptVariation): Promise<CompiledTemplate> {
    const key = `${name}#${variation.id}`;
    const cached = this.compiledVariations.get(key);
    if (cached !== undefined) return cached;
    const base = await this.loadVersion(name, variation.baseVersion);
    const compiled = compileTemplate(variation, base.version.variables, name);
    this.compiledVariations.set(key, compiled);
    return compiled;
  }

  private async baseVersion(name: string): Promise<{ version: TemplateVersion; compiled: CompiledTemplate }> {
    const labels = await this.store.getLabels(name);
    const version = labels[this.settings.defaultLabel] ?? labels['latest'];
    if (version === undefined) throw new PromptOptimizerError(`Unknown prompt template "${name}"`, { details: { template: name } });
    return this.loadVersion(name, version);
  }

  /**
   * Natural batching: with no write in flight for the template, outcomes go to the store at once;
   * outcomes recorded while one is in flight go together in the next round trip (pipelined for
   * Redis). Each outcome is still applied atomically by its own script call.
   */
  private enqueueWrites(name: string, writes: readonly OutcomeWrite[]): Promise<void> {
    let queue = this.writeQueues.get(name);
    if (queue === undefined) {
      queue = { writes: [], waiters: [], draining: undefined };
      this.writeQueues.set(name, queue);
    }
    const target = queue;
    return new Promise<void>((resolve, reject) => {
      target.writes.push(...writes);
      target.waiters.push({ resolve, reject });
      target.draining ??= this.drainWrites(name, target);
    });
  }

  private async drainWrites(name: string, queue: WriteQueue): Promise<void> {
    try {
      while (queue.writes.length > 0) {
        const { writes, waiters } = queue;
        queue.writes = [];
        queue.waiters = [];
        try {
          await this.store.recordOutcomes(name, writes);
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      queue.draining = undefined;
    }
  }

  private countForEvaluation(name: string, added: number): void {
    const every = this.settings.evaluateEveryOutcomes;
    if (every === 0) return;
    const count = (this.sinceEvaluation.get(name) ?? 0) + added;
    if (count < every || this.evaluating.has(name)) {
      this.sinceEvaluation.set(name, count);
      return;
    }
    this.sinceEvaluation.set(name, 0);
    const running = this.evaluate(name)
      .catch((error: unknown) => {
        this.logger.error({ template: name, err: error }, 'prompt experiment evaluation failed');
        if (this.listenerCount('error') > 0) this.safeEmit('error', error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => this.evaluating.delete(name));
    this.evaluating.set(name, running);
  }

  private safeEmit<K extends keyof PromptOptimizerEvents>(event: K, ...args: PromptOptimizerEvents[K]): void {
    try {
      (this as EventEmitter).emit(event, ...args);
    } catch (error) {
      this.logger.error({ err: error, event }, 'a prompt optimizer listener threw');
    }
  }
}

/**
 * Creates a {@link PromptOptimizer} the way services already call it: an ioredis client (or none
 * for an in-memory store) and a pino-compatible logger.
 *
 * @example
 * ```ts
 * const optimizer = initializePromptOptimizer(redisClient, logger, { cacheTtlMs: 2000 });
 * ```
 */
export function initializePromptOptimizer(
  redisClient?: RedisConnectionInput,
  logger?: Logger,
  options: Omit<PromptOptimizerOptions, 'redis' | 'logger'> = {},
): PromptOptimizer {
  return new PromptOptimizer({
    ...options,
    ...(redisClient === undefined ? {} : { redis: redisClient }),
    ...(logger === undefined ? {} : { logger }),
  });
}

// ---------------------------------------------------------------- helpers

function contextOf(experiment: PromptExperiment, context: GetPromptOptions['context']): string | undefined {
  if (experiment.contextKey === undefined || context === undefined) return undefined;
  const value = context[experiment.contextKey];
  if (value === undefined) return undefined;
  const text = String(value);
  if (text.includes('|')) throw new ValidationError(`context.${experiment.contextKey}`, 'must not contain "|"');
  return text;
}

function toWrite(selection: PromptSelection, outcome: PromptOutcome): OutcomeWrite {
  if (typeof selection !== 'object' || typeof selection.template !== 'string' || typeof selection.arm !== 'string') {
    throw new ValidationError('selection', 'must be the selection returned by getPrompt');
  }
  const delta: Record<string, number> = { n: 1 };
  let quality = outcome.quality;
  if (outcome.scores !== undefined) {
    const values = Object.entries(outcome.scores);
    for (const [criterion, score] of values) {
      checkRange(`scores.${criterion}`, score, 0, 1);
      if (criterion.includes('|')) throw new ValidationError(`scores.${criterion}`, 'name must not contain "|"');
      delta[`score.${criterion}.count`] = 1;
      delta[`score.${criterion}.sum`] = score;
    }
    if (quality === undefined && values.length > 0) quality = values.reduce((sum, [, v]) => sum + v, 0) / values.length;
  }
  if (quality !== undefined) {
    checkRange('quality', quality, 0, 1);
    delta['qc'] = 1;
    delta['qs'] = quality;
    delta['qq'] = quality * quality;
  }
  if (outcome.success !== undefined) {
    delta['st'] = 1;
    delta['s'] = outcome.success ? 1 : 0;
  }
  if (outcome.latencyMs !== undefined) {
    checkRange('latencyMs', outcome.latencyMs, 0, Number.MAX_VALUE);
    delta['lc'] = 1;
    delta['ls'] = outcome.latencyMs;
  }
  if (outcome.tokens !== undefined) {
    const tokens = typeof outcome.tokens === 'number' ? outcome.tokens : outcome.tokens.input + outcome.tokens.output;
    checkRange('tokens', tokens, 0, Number.MAX_VALUE);
    delta['tk'] = tokens;
  }
  if (outcome.costUsd !== undefined) {
    checkRange('costUsd', outcome.costUsd, 0, Number.MAX_VALUE);
    delta['cu'] = outcome.costUsd;
  }
  const example: PromptExample | undefined =
    outcome.example !== undefined && quality !== undefined ? { input: outcome.example.input, output: outcome.example.output, quality } : undefined;
  return {
    scope: selection.experiment ?? VERSION_SCOPE,
    arm: selection.arm,
    ...(selection.context === undefined ? {} : { context: selection.context }),
    delta,
    ...(outcome.latencyMs === undefined ? {} : { latencyMs: outcome.latencyMs }),
    ...(example === undefined ? {} : { example }),
  };
}

function applyLocally(state: PromptState, write: OutcomeWrite): void {
  if (state.experiment?.id !== write.scope) return;
  const targets = [(state.stats.global[write.arm] ??= emptyStats())];
  if (write.context !== undefined) targets.push(((state.stats.contexts[write.context] ??= {})[write.arm] ??= emptyStats()));
  for (const stats of targets) {
    for (const [field, value] of Object.entries(write.delta)) applyDelta(stats, field, value);
  }
}

function meanOf(scores: Readonly<Record<string, number>> | undefined): number | undefined {
  if (scores === undefined) return undefined;
  const values = Object.values(scores);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

function contentOf(source: { template?: string | undefined; messages?: PromptMessage[] | undefined }): VariationContent {
  return source.template !== undefined ? { template: source.template } : { messages: (source.messages ?? []).map((m) => ({ ...m })) };
}

function asContent(content: VariationContent): { template: string; messages?: undefined } | { messages: PromptMessage[]; template?: undefined } {
  return content.template !== undefined ? { template: content.template } : { messages: content.messages ?? [] };
}

function sameContent(a: VariationContent, b: VariationContent): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sameVersion(a: Omit<TemplateVersion, 'version'>, b: Omit<TemplateVersion, 'version'>): boolean {
  return (
    sameContent(contentOf(a), contentOf(b)) &&
    JSON.stringify(a.variables) === JSON.stringify(b.variables) &&
    a.description === b.description &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags)
  );
}

function freeId(base: string, existing: Readonly<Record<string, unknown>>): string {
  if (!(base in existing)) return base;
  for (let i = 2; ; i++) if (!(`${base}-${i}` in existing)) return `${base}-${i}`;
}

function replaceEditable(messages: readonly PromptMessage[], text: string): PromptMessage[] {
  const index = Math.max(0, messages.findIndex((m) => m.role === 'system'));
  return messages.map((m, i) => (i === index ? { role: m.role, content: text } : { ...m }));
}

function parseJsonArray(text: string): string[] {
  const start = text.indexOf('[');
  const end = text.lastIndexOf(']');
  if (start < 0 || end <= start) return [];
  try {
    const parsed: unknown = JSON.parse(text.slice(start, end + 1));
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function checkId(field: string, value: string): void {
  if (typeof value !== 'string' || !ID.test(value)) throw new ValidationError(field, 'must be 1-100 characters of A-Z a-z 0-9 _ . : -');
}

function checkLabel(label: string): void {
  checkId('label', label);
  if (label === 'latest') throw new ValidationError('label', '"latest" is kept automatically and cannot be set');
}

function checkInteger(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new ValidationError(field, `must be an integer >= ${min} (got ${value})`);
}

function checkRange(field: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ValidationError(field, `must be a number in [${min}, ${max}] (got ${String(value)})`);
  }
}
