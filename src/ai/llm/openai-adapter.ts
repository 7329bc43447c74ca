import { HttpAdapter, type HttpAdapterOptions, num, type ProviderAnswer } from './http-adapter.js';
import type { CompletionRequest } from './llm-adapter.js';
import { LlmError } from './llm-error.js';

/** Options of {@link OpenAIAdapter}. */
export interface OpenAIAdapterOptions extends HttpAdapterOptions {
  /** Sent as `OpenAI-Organization`. */
  organization?: string;
  /**
   * Body field for the token cap: `max_completion_tokens` (current OpenAI API) or `max_tokens`
   * (older OpenAI-compatible servers). Default `'max_completion_tokens'`.
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
}

/**
 * OpenAI Chat Completions (`POST /chat/completions`, Bearer key), or any compatible server via
 * `baseUrl`. Base URL default `https://api.openai.com/v1`.
 *
 * @example
 * ```ts
 * const llm = new OpenAIAdapter({ apiKey: process.env.OPENAI_API_KEY!, model: 'gpt-4o-mini' });
 * ```
 */
export class OpenAIAdapter extends HttpAdapter {
  readonly provider = 'openai';
  private readonly organization: string | undefined;
  private readonly maxTokensField: 'max_completion_tokens' | 'max_tokens';

  constructor(options: OpenAIAdapterOptions) {
    super(options, 'https://api.openai.com/v1');
    this.organization = options.organization;
    this.maxTokensField = options.maxTokensField ?? 'max_completion_tokens';
  }

  protected buildRequest(request: CompletionRequest): { path: string; headers: Record<string, string>; body: unknown } {
    return {
      path: '/chat/completions',
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        ...(this.organization === undefined ? {} : { 'openai-organization': this.organization }),
      },
      body: {
        model: this.model,
        messages: [
          ...(request.system === undefined ? [] : [{ role: 'system', content: request.system }]),
          ...request.messages.map((m) => ({ role: m.role, content: m.content })),
        ],
        [this.maxTokensField]: request.maxTokens ?? this.defaultMaxTokens,
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.stop === undefined ? {} : { stop: [...request.stop] }),
      },
    };
  }

  protected parseAnswer(body: unknown): ProviderAnswer {
    const answer = body as {
      choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string }[];
      usage?: { prompt_tokens?: number; completion_tokens?: number };
      model?: string;
    };
    const choice = answer.choices?.[0];
    if (choice === undefined) throw new LlmError(this.provider, 'answer has no "choices"', { status: 200, transient: false });
    return {
      text: choice.message?.content ?? choice.message?.refusal ?? '',
      inputTokens: num(answer.usage?.prompt_tokens),
      outputTokens: num(answer.usage?.completion_tokens),
      ...(typeof answer.model === 'string' ? { model: answer.model } : {}),
      ...(typeof choice.finish_reason === 'string' ? { finishReason: choice.finish_reason } : {}),
    };
  }
}
