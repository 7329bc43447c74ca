/**
 * LLM adapters behind one small interface: Anthropic Messages, OpenAI Chat Completions, Gemini
 * generateContent (over an injectable `fetch`, with timeouts and retries on 429/5xx honouring
 * Retry-After), and a deterministic local adapter for development and tests.
 *
 * @example
 * ```ts
 * import { AnthropicAdapter } from '@ux-flow/common/ai';
 * const llm = new AnthropicAdapter({ apiKey: process.env.ANTHROPIC_API_KEY!, model: 'claude-sonnet-4-5' });
 * const { text, usage, latencyMs } = await llm.complete({ messages: [{ role: 'user', content: 'Hi' }] });
 * ```
 *
 * @module
 */
export { AnthropicAdapter } from './anthropic-adapter.js';
export type { AnthropicAdapterOptions } from './anthropic-adapter.js';
export { OpenAIAdapter } from './openai-adapter.js';
export type { OpenAIAdapterOptions } from './openai-adapter.js';
export { GeminiAdapter } from './gemini-adapter.js';
export type { GeminiAdapterOptions } from './gemini-adapter.js';
export { LocalAdapter } from './local-adapter.js';
export type { LocalAdapterOptions } from './local-adapter.js';
export { HttpAdapter, parseRetryAfter } from './http-adapter.js';
export type { HttpAdapterOptions, ProviderAnswer } from './http-adapter.js';
export { LlmError } from './llm-error.js';
export type {
  CompletionRequest,
  CompletionResult,
  CompletionUsage,
  LlmAdapter,
  LlmMessage,
  LlmPricing,
} from './llm-adapter.js';
