import { HttpAdapter, type HttpAdapterOptions, num, type ProviderAnswer } from './http-adapter.js';
import type { CompletionRequest } from './llm-adapter.js';
import { LlmError } from './llm-error.js';

/** Options of {@link GeminiAdapter}. */
export interface GeminiAdapterOptions extends HttpAdapterOptions {
  /** API version path segment. Default `'v1beta'`. */
  apiVersion?: string;
}

/**
 * Google Gemini `generateContent` (`POST /v1beta/models/{model}:generateContent`,
 * `x-goog-api-key`). Base URL default `https://generativelanguage.googleapis.com`.
 *
 * @example
 * ```ts
 * const llm = new GeminiAdapter({ apiKey: process.env.GEMINI_API_KEY!, model: 'gemini-2.0-flash' });
 * ```
 */
export class GeminiAdapter extends HttpAdapter {
  readonly provider = 'gemini';
  private readonly apiVersion: string;

  constructor(options: GeminiAdapterOptions) {
    super(options, 'https://generativelanguage.googleapis.com');
    this.apiVersion = options.apiVersion ?? 'v1beta';
  }

  protected buildRequest(request: CompletionRequest): { path: string; headers: Record<string, string>; body: unknown } {
    const generationConfig = {
      maxOutputTokens: request.maxTokens ?? this.defaultMaxTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.stop === undefined ? {} : { stopSequences: [...request.stop] }),
    };
    return {
      path: `/${this.apiVersion}/models/${encodeURIComponent(this.model)}:generateContent`,
      headers: { 'x-goog-api-key': this.apiKey },
      body: {
        contents: request.messages.map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] })),
        ...(request.system === undefined ? {} : { systemInstruction: { parts: [{ text: request.system }] } }),
        generationConfig,
      },
    };
  }

  protected parseAnswer(body: unknown): ProviderAnswer {
    const answer = body as {
      candidates?: { content?: { parts?: { text?: string }[] }; finishReason?: string }[];
      usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number };
      modelVersion?: string;
      promptFeedback?: { blockReason?: string };
    };
    const candidate = answer.candidates?.[0];
    if (candidate === undefined) {
      const reason = answer.promptFeedback?.blockReason;
      throw new LlmError(this.provider, reason === undefined ? 'answer has no candidates' : `prompt blocked (${reason})`, {
        status: 200,
        transient: false,
      });
    }
    return {
      text: (candidate.content?.parts ?? []).map((part) => part.text ?? '').join(''),
      inputTokens: num(answer.usageMetadata?.promptTokenCount),
      outputTokens: num(answer.usageMetadata?.candidatesTokenCount),
      ...(typeof answer.modelVersion === 'string' ? { model: answer.modelVersion } : {}),
      ...(typeof candidate.finishReason === 'string' ? { finishReason: candidate.finishReason } : {}),
    };
  }
}
