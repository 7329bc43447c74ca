/** One message of a completion request. */
export interface LlmMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** What {@link LlmAdapter.complete} takes. */
export interface CompletionRequest {
  /** System instructions, sent the way each provider expects them. */
  system?: string;
  /** The conversation, oldest first; at least one message. */
  messages: readonly LlmMessage[];
  /** Upper bound on generated tokens. Default: the adapter's `maxTokens` (1024). */
  maxTokens?: number;
  /** Sampling temperature. Default: the provider's. */
  temperature?: number;
  /** Sequences that stop generation. */
  stop?: readonly string[];
  /** Cancels the call (and its retries). */
  signal?: AbortSignal;
}

/** Token counts of one call. */
export interface CompletionUsage {
  inputTokens: number;
  outputTokens: number;
}

/** What {@link LlmAdapter.complete} returns. */
export interface CompletionResult {
  text: string;
  usage: CompletionUsage;
  /** Wall time of the whole call, retries included. */
  latencyMs: number;
  /** The model that answered. */
  model: string;
  /** Why generation stopped, as the provider says it (`end_turn`, `stop`, `STOP`, …). */
  finishReason?: string;
  /** Cost from the adapter's `pricing`, when given. */
  costUsd?: number;
}

/**
 * The one interface every model adapter implements: Anthropic, OpenAI, Gemini, or the local
 * deterministic one for development and tests.
 *
 * @example
 * ```ts
 * const llm: LlmAdapter = new AnthropicAdapter({ apiKey, model: 'claude-sonnet-4-5' });
 * const { text, usage } = await llm.complete({ system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
 * ```
 */
export interface LlmAdapter {
  /** `anthropic`, `openai`, `gemini`, `local`, … */
  readonly provider: string;
  /** The model the adapter calls. */
  readonly model: string;
  /** Sends one completion request; retries transient failures as configured. */
  complete(request: CompletionRequest): Promise<CompletionResult>;
}

/** Prices per million tokens, to fill {@link CompletionResult.costUsd}. */
export interface LlmPricing {
  inputPerMillionUsd: number;
  outputPerMillionUsd: number;
}
