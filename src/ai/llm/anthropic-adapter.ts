import { HttpAdapter, type HttpAdapterOptions, num, type ProviderAnswer } from './http-adapter.js';
import type { CompletionRequest } from './llm-adapter.js';
import { LlmError } from './llm-error.js';

/** Options of {@link AnthropicAdapter}. */
export interface AnthropicAdapterOptions extends HttpAdapterOptions {
  /** `anthropic-version` header. Default `'2023-06-01'`. */
  apiVersion?: string;
}

/**
 * Anthropic Messages API (`POST /v1/messages`, `x-api-key`, `anthropic-version`). Base URL
 * default `https://api.anthropic.com`.
 *
 * @example
 * ```ts
 * const llm = new AnthropicAdapter({ apiKey: process.env.ANTHROPIC_API_KEY!, model: 'claude-sonnet-4-5' });
 * const { text } = await llm.complete({ system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] });
 * ```
 */
export class AnthropicAdapter extends HttpAdapter {
  readonly provider = 'anthropic';
  private readonly apiVersion: string;

  constructor(options: AnthropicAdapterOptions) {
    super(options, 'https://api.anthropic.com');
    this.apiVersion = options.apiVersion ?? '2023-06-01';
  }

  protected buildRequest(request: CompletionRequest): { path: string; headers: Record<string, string>; body: unknown } {
    return {
      path: '/v1/messages',
      headers: { 'x-api-key': this.apiKey, 'anthropic-version': this.apiVersion },
      body: {
        model: this.model,
        max_tokens: request.maxTokens ?? this.defaultMaxTokens,
        ...(request.system === undefined ? {} : { system: request.system }),
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.stop === undefined ? {} : { stop_sequences: [...request.stop] }),
      },
    };
  }

  protected parseAnswer(body: unknown): ProviderAnswer {
    const answer = body as {
      content?: { type?: string; text?: string }[];
      usage?: { input_tokens?: number; output_tokens?: number };
      model?: string;
      stop_reason?: string;
    };
    if (!Array.isArray(answer.content)) throw new LlmError(this.provider, 'answer has no "content"', { status: 200, transient: false });
    return {
      text: answer.content
        .filter((block) => block.type === 'text')
        .map((block) => block.text ?? '')
        .join(''),
      inputTokens: num(answer.usage?.input_tokens),
      outputTokens: num(answer.usage?.output_tokens),
      ...(typeof answer.model === 'string' ? { model: answer.model } : {}),
      ...(typeof answer.stop_reason === 'string' ? { finishReason: answer.stop_reason } : {}),
    };
  }
}
