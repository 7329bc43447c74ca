/**
 * Prompt optimisation: versioned `{{var}}` templates with movable labels, variations (hand-written,
 * rule-generated, LLM-proposed), bandit experiments that learn from recorded outcomes across
 * instances (Thompson sampling by default), reports, evaluators and LLM adapters.
 *
 * @example
 * ```ts
 * import { initializePromptOptimizer } from '@ux-flow/common/ai';
 * const optimizer = initializePromptOptimizer(redisClient, logger);
 * await optimizer.registerTemplate('summarize', { template: 'Summarize:\n{{text}}', variables: ['text'] });
 * const { prompt, selection } = await optimizer.getPrompt('summarize', { variables: { text } });
 * await optimizer.recordOutcome(selection, { quality: 0.8, success: true });
 * ```
 *
 * @module
 */
export { PromptOptimizer, initializePromptOptimizer } from './prompt-optimizer.js';
export type {
  ArmReport,
  GetPromptOptions,
  PromptMetrics,
  PromptMetricsInfo,
  PromptOptimizerEvents,
  PromptOptimizerOptions,
  PromptOutcome,
  PromptReport,
  PromptSelection,
  RenderedPrompt,
  StartExperimentOptions,
} from './prompt-optimizer.js';
export { PromptOptimizerError } from './prompt-optimizer-error.js';
export { PromptTemplateError } from './prompt-template-error.js';
export { MemoryPromptStore } from './memory-prompt-store.js';
export type { MemoryPromptStoreOptions } from './memory-prompt-store.js';
export { RedisPromptStore } from './redis-prompt-store.js';
export type { RedisPromptStoreOptions } from './redis-prompt-store.js';
export type { OutcomeWrite, PromptState, PromptStore, ScopeStats, StatsDelta } from './prompt-store.js';
export { compileTemplate, normalizeVariables, placeholdersOf, renderCompiled, renderTemplate } from './render-template.js';
export type { CompiledTemplate, TemplatePart } from './render-template.js';
export { variationRules } from './variation-rules.js';
export type { VariationContent, VariationRule, VariationRuleContext } from './variation-rules.js';
export { createSeededRandom, hashString, sampleBeta, sampleGamma, sampleNormal } from './random.js';
export type { RandomSource } from './random.js';
export { chooseArm, credibleInterval, decide, drawPosterior, emptyStats, posteriorMean, posteriorOf } from './bandit.js';
export type { AllocationArm, AllocationOptions, ArmDecision, Posterior, QualityModel } from './bandit.js';
export {
  combineEvaluators,
  jsonEvaluator,
  keywordsEvaluator,
  lengthEvaluator,
  regexEvaluator,
  similarityEvaluator,
  textSimilarity,
  validateJson,
} from './evaluators.js';
export type { Evaluation, EvaluationInput, Evaluator, JsonSchema } from './evaluators.js';
export { LlmJudgeEvaluator } from './llm-judge-evaluator.js';
export type { LlmJudgeOptions } from './llm-judge-evaluator.js';
export type {
  AllocationStrategy,
  ArmStats,
  DecisionRecord,
  ExperimentMetric,
  PromptContent,
  PromptExample,
  PromptExperiment,
  PromptMessage,
  PromptValues,
  PromptVariableSpec,
  PromptVariableType,
  PromptVariables,
  PromptVariation,
  TemplateDefinition,
  TemplateVersion,
} from './types.js';
export {
  AnthropicAdapter,
  GeminiAdapter,
  HttpAdapter,
  LlmError,
  LocalAdapter,
  OpenAIAdapter,
  parseRetryAfter,
} from './llm/index.js';
export type {
  AnthropicAdapterOptions,
  CompletionRequest,
  CompletionResult,
  CompletionUsage,
  GeminiAdapterOptions,
  HttpAdapterOptions,
  LlmAdapter,
  LlmMessage,
  LlmPricing,
  LocalAdapterOptions,
  OpenAIAdapterOptions,
  ProviderAnswer,
} from './llm/index.js';
