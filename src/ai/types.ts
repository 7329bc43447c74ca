/** A chat message of a prompt template. */
export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The type a template variable accepts. Numbers and booleans render as their string form. */
export type PromptVariableType = 'string' | 'number' | 'boolean';

/** One declared variable of a template. */
export interface PromptVariableSpec {
  /** Accepted type. Default `'string'`. */
  type?: PromptVariableType;
  /** Whether rendering fails when it is missing. Default `true`. */
  required?: boolean;
  /** One line for humans and for LLM-proposed rewrites. */
  description?: string;
}

/** Declared variables: names, or names mapped to their spec. */
export type PromptVariables = readonly string[] | Readonly<Record<string, PromptVariableSpec | PromptVariableType>>;

/** Values passed to render a template. */
export type PromptValues = Readonly<Record<string, string | number | boolean | undefined>>;

/** The content of a prompt: plain text or chat messages (exactly one). */
export type PromptContent = { template: string; messages?: undefined } | { messages: readonly PromptMessage[]; template?: undefined };

/** What `registerTemplate` takes. */
export type TemplateDefinition = PromptContent & {
  /** Declared variables. Every `{{name}}` used must be declared. Default: none. */
  variables?: PromptVariables;
  /** What the prompt is for. */
  description?: string;
  /** Free tags (task type, team, …). */
  tags?: readonly string[];
  /** Labels that point at the new version, besides `latest`. Default `['production']` for the first version, none later. */
  labels?: readonly string[];
};

/** One immutable version of a template, as stored. */
export interface TemplateVersion {
  name: string;
  version: number;
  template?: string;
  messages?: PromptMessage[];
  variables: Record<string, Required<Pick<PromptVariableSpec, 'type' | 'required'>> & { description?: string }>;
  description?: string;
  tags: string[];
  createdAt: number;
  /** Where the content came from: `manual`, `rule:<name>`, `llm`, or `variation:<id>` when promoted. */
  source: string;
}

/** A variation (candidate rewrite) of a template, as stored. */
export interface PromptVariation {
  id: string;
  template?: string;
  messages?: PromptMessage[];
  /** `manual`, `rule:<name>[+<name>…]` or `llm`. */
  source: string;
  /** Version of the template it was derived from. */
  baseVersion: number;
  createdAt: number;
}

/** How traffic is split between the arms of an experiment. */
export type AllocationStrategy = 'thompson' | 'ucb1' | 'epsilon-greedy' | 'fixed';

/** What an experiment optimizes: mean quality in [0, 1], or the success rate. */
export type ExperimentMetric = 'quality' | 'success';

/** A running or finished experiment, as stored. */
export interface PromptExperiment {
  id: string;
  /** Arm ids: variation ids, and `control` for the labelled version. */
  arms: string[];
  /** Arms removed from allocation because they were far below the best. */
  retired: string[];
  strategy: AllocationStrategy;
  metric: ExperimentMetric;
  /** The `context` field whose value splits statistics, if any. */
  contextKey?: string;
  /** Fixed split weights by arm (strategy `fixed`). */
  weights?: Record<string, number>;
  /** Label the experiment serves from and moves on promotion. */
  label: string;
  /** The version `control` renders. */
  controlVersion: number;
  status: 'running' | 'stopped' | 'completed';
  winner?: string;
  startedAt: number;
  endedAt?: number;
}

/** Accumulated outcomes of one arm (in one context, or overall). */
export interface ArmStats {
  /** Outcomes recorded. */
  outcomes: number;
  /** Outcomes that reported `success`, and how many of them succeeded. */
  successTrials: number;
  successes: number;
  /** Outcomes that reported a quality (directly or through `scores`), their sum and sum of squares. */
  qualityCount: number;
  qualitySum: number;
  qualitySqSum: number;
  latencyCount: number;
  latencySumMs: number;
  tokens: number;
  costUsd: number;
  /** Per-criterion sums and counts (`relevance`, `clarity`, …). */
  scores: Record<string, { count: number; sum: number }>;
}

/** One entry of an experiment's decision history. */
export interface DecisionRecord {
  at: number;
  experimentId: string;
  type: 'started' | 'stopped' | 'promoted' | 'retired' | 'label-moved';
  arm?: string;
  version?: number;
  label?: string;
  probabilityBest?: number;
  expectedLoss?: number;
  reason: string;
}

/** A high-scoring input/output pair kept for few-shot examples. */
export interface PromptExample {
  input: string;
  output: string;
  quality: number;
}
