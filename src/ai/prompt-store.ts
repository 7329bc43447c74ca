import type { ArmStats, DecisionRecord, PromptExample, PromptExperiment, PromptVariation, TemplateVersion } from './types.js';

/** Numeric increments of one outcome, by {@link ArmStats} field (scores as `score.<name>.count|sum`). */
export type StatsDelta = Readonly<Record<string, number>>;

/** One outcome to apply to an arm's statistics. */
export interface OutcomeWrite {
  /** Statistics scope: an experiment id, or `versions` for traffic outside experiments. */
  scope: string;
  /** Arm id within the scope (variation id, `control`, or `v<version>`). */
  arm: string;
  /** Context value, when the experiment splits by context. */
  context?: string;
  delta: StatsDelta;
  /** Latency to keep for percentiles. */
  latencyMs?: number;
  /** An example to keep among the best-scored ones. */
  example?: PromptExample;
}

/** All statistics of one scope: per arm overall, and per arm per context. */
export interface ScopeStats {
  global: Record<string, ArmStats>;
  contexts: Record<string, Record<string, ArmStats>>;
}

/** What the optimizer caches per template. */
export interface PromptState {
  labels: Record<string, number>;
  experiment: PromptExperiment | undefined;
  variations: Record<string, PromptVariation>;
  /** Statistics of the current experiment (empty without one). */
  stats: ScopeStats;
}

/**
 * Where the optimizer keeps templates, labels, variations, experiments and statistics.
 * `RedisPromptStore` shares them between service instances; `MemoryPromptStore` is for tests and
 * development. Both pass the same conformance suite.
 *
 * @example
 * ```ts
 * const optimizer = new PromptOptimizer({ store: new MemoryPromptStore() });
 * ```
 */
export interface PromptStore {
  /** Stores a new immutable version, moves `latest` and `labels` to it, and returns its number. Atomic. */
  createVersion(name: string, version: Omit<TemplateVersion, 'version'>, labels: readonly string[]): Promise<number>;
  /** One stored version, or `undefined` when it does not exist. */
  getVersion(name: string, version: number): Promise<TemplateVersion | undefined>;
  /** Every version of a template, oldest first. */
  listVersions(name: string): Promise<TemplateVersion[]>;
  /** Names of every stored template. */
  listTemplates(): Promise<string[]>;
  /** Label → version number (`latest`, `production`, custom labels). */
  getLabels(name: string): Promise<Record<string, number>>;
  /** Points `label` at `version`; false when that version does not exist. */
  setLabel(name: string, label: string, version: number): Promise<boolean>;
  /** Adds a variation; false when the id is taken (variations are immutable). */
  addVariation(name: string, variation: PromptVariation): Promise<boolean>;
  /** Variation id → variation, for every variation of a template. */
  getVariations(name: string): Promise<Record<string, PromptVariation>>;
  /** The current (latest started) experiment of a template. */
  getExperiment(name: string): Promise<PromptExperiment | undefined>;
  /**
   * Stores `experiment` as the template's current experiment, replacing a finished one. Atomic:
   * returns false, storing nothing, while another experiment is still running.
   */
  putExperiment(name: string, experiment: PromptExperiment): Promise<boolean>;
  /**
   * Replaces the running experiment `expectedId` with `next`, atomically; false when it was
   * replaced or ended meanwhile (another instance got there first).
   */
  updateRunningExperiment(name: string, expectedId: string, next: PromptExperiment): Promise<boolean>;
  /** Applies outcomes atomically (each one adds to its arm's global and context statistics). */
  recordOutcomes(name: string, writes: readonly OutcomeWrite[]): Promise<void>;
  /** Per-arm (and per-context) statistics of one scope. */
  getStats(name: string, scope: string): Promise<ScopeStats>;
  /** Most recent latencies of an arm (bounded), newest first. */
  getLatencies(name: string, scope: string, arm: string): Promise<number[]>;
  /** Best-scored examples of a scope, best first. */
  getExamples(name: string, scope: string, limit: number): Promise<PromptExample[]>;
  /**
   * Sticky assignment: stores `arm` for the subject unless one exists that is among `activeArms`
   * (any, when not given), and returns the one in force. Atomic.
   */
  assign(name: string, experimentId: string, subjectId: string, arm: string, activeArms?: readonly string[]): Promise<string>;
  /** The arm a subject is stuck to in an experiment, if any. */
  getAssignment(name: string, experimentId: string, subjectId: string): Promise<string | undefined>;
  /** Appends a decision (promotion, retirement, stop) to the template's bounded history. */
  appendHistory(name: string, record: DecisionRecord): Promise<void>;
  /** The decision history, oldest first. */
  getHistory(name: string): Promise<DecisionRecord[]>;
  /**
   * Labels, current experiment, variations and the experiment's statistics, in as few round trips
   * as possible. `experimentHint` (the id last seen) lets a store fetch the statistics at once.
   */
  getState(name: string, experimentHint?: string): Promise<PromptState>;
  /** Releases connections the store owns. Idempotent. */
  close(): Promise<void>;
}
