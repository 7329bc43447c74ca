import type { BackoffOptions } from '../../core/backoff.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { retry } from '../../core/retry.js';
import { ValidationError } from '../../core/validation-error.js';
import { LlmError } from './llm-error.js';
import type { CompletionRequest, CompletionResult, LlmAdapter, LlmPricing } from './llm-adapter.js';

/** Options shared by the HTTP adapters. */
export interface HttpAdapterOptions {
  /** The provider's API key. */
  apiKey: string;
  /** Model name, e.g. `claude-sonnet-4-5`, `gpt-4o-mini`, `gemini-2.0-flash`. */
  model: string;
  /** API root (a proxy, a gateway, a local server). Default: the provider's public endpoint. */
  baseUrl?: string;
  /** `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Time budget per attempt. Default `60000` ms. */
  timeoutMs?: number;
  /** Attempts per call, the first included; 429, 5xx, network errors and timeouts are retried. Default `3`. */
  attempts?: number;
  /** Waits between attempts. Default exponential from 500 ms, full jitter, capped at 20 s. */
  backoff?: BackoffOptions;
  /** A Retry-After longer than this fails the call at once instead of waiting. Default `60000` ms. */
  maxRetryAfterMs?: number;
  /** Generated-token cap when the request has none. Default `1024`. */
  maxTokens?: number;
  /** Extra headers on every request. */
  headers?: Readonly<Record<string, string>>;
  /** Prices to compute `costUsd`. */
  pricing?: LlmPricing;
  /** Time source for latency and waits. Default the system clock. */
  clock?: Clock;
}

/** A parsed provider answer. */
export interface ProviderAnswer {
  text: string;
  inputTokens: number;
  outputTokens: number;
  model?: string;
  finishReason?: string;
}

/** The common machinery of the HTTP adapters: timeouts, retries with Retry-After, errors. */
export abstract class HttpAdapter implements LlmAdapter {
  abstract readonly provider: string;
  readonly model: string;
  protected readonly apiKey: string;
  protected readonly baseUrl: string;
  protected readonly defaultMaxTokens: number;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoff: BackoffOptions;
  private readonly maxRetryAfterMs: number;
  private readonly extraHeaders: Readonly<Record<string, string>>;
  private readonly pricing: LlmPricing | undefined;
  private readonly clock: Clock;

  protected constructor(options: HttpAdapterOptions, defaultBaseUrl: string) {
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new ValidationError('apiKey', 'must be a non-empty string');
    if (typeof options.model !== 'string' || options.model === '') throw new ValidationError('model', 'must be a non-empty string');
    this.model = options.model;
    this.apiKey = options.apiKey;
    const baseUrl = options.baseUrl ?? defaultBaseUrl;
    try {
      const url = new URL(baseUrl);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    } catch (cause) {
      throw new ValidationError('baseUrl', 'must be an http(s) URL', { cause });
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1) throw new ValidationError('timeoutMs', 'must be a positive integer');
    this.attempts = options.attempts ?? 3;
    if (!Number.isInteger(this.attempts) || this.attempts < 1) throw new ValidationError('attempts', 'must be an integer >= 1');
    this.backoff = options.backoff ?? { type: 'exponential', delayMs: 500, maxDelayMs: 20_000, jitter: 'full' };
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.defaultMaxTokens = options.maxTokens ?? 1024;
    if (!Number.isInteger(this.defaultMaxTokens) || this.defaultMaxTokens < 1) throw new ValidationError('maxTokens', 'must be a positive integer');
    this.extraHeaders = { ...options.headers };
    this.pricing = options.pricing;
    this.clock = options.clock ?? systemClock;
  }

  /** The request path (after `baseUrl`), headers and body for one request. */
  protected abstract buildRequest(request: CompletionRequest): { path: string; headers: Record<string, string>; body: unknown };
  /** Reads a 2xx answer. */
  protected abstract parseAnswer(body: unknown): ProviderAnswer;

  /**
   * Sends one completion. Transient failures are retried; when attempts run out the call rejects
   * with a `RetryError` whose `cause` is the last {@link LlmError}; other failures reject with the
   * {@link LlmError} itself.
   */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    if (!Array.isArray(request.messages) || request.messages.length === 0) {
      throw new ValidationError('messages', 'must hold at least one message');
    }
    const started = this.clock.monotonic();
    const { path, headers, body } = this.buildRequest(request);
    const payload = JSON.stringify(body);
    const answer = await retry(
      async ({ signal }) => this.send(`${this.baseUrl}${path}`, { ...this.extraHeaders, ...headers }, payload, signal),
      {
        attempts: this.attempts,
        backoff: this.backoff,
        clock: this.clock,
        isTransient: (error) => LlmError.isInstance(error) && error.transient,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      },
    );
    const result: CompletionResult = {
      text: answer.text,
      usage: { inputTokens: answer.inputTokens, outputTokens: answer.outputTokens },
      latencyMs: this.clock.monotonic() - started,
      model: answer.model ?? this.model,
      ...(answer.finishReason === undefined ? {} : { finishReason: answer.finishReason }),
    };
    if (this.pricing !== undefined) {
      result.costUsd =
        (answer.inputTokens * this.pricing.inputPerMillionUsd + answer.outputTokens * this.pricing.outputPerMillionUsd) / 1_000_000;
    }
    return result;
  }

  private async send(url: string, headers: Record<string, string>, payload: string, signal: AbortSignal): Promise<ProviderAnswer> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (cause) {
      if (signal.aborted) throw cause;
      const timedOut = timeout.aborted;
      throw new LlmError(this.provider, timedOut ? `request timed out after ${this.timeoutMs} ms` : 'network error', {
        status: 0,
        transient: true,
      }, { cause });
    }
    const text = await response.text();
    if (!response.ok) {
      const retryAfterMs = parseRetryAfter(response.headers, this.clock.now());
      const transient = (response.status === 429 || response.status >= 500 || response.status === 408) &&
        (retryAfterMs === undefined || retryAfterMs <= this.maxRetryAfterMs);
      const { message, type } = errorMessage(text);
      throw new LlmError(this.provider, `HTTP ${response.status}${message === undefined ? '' : `: ${message}`}`, {
        status: response.status,
        transient,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(type === undefined ? {} : { type }),
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new LlmError(this.provider, 'answer is not JSON', { status: response.status, transient: false }, { cause });
    }
    return this.parseAnswer(body);
  }
}

/** Reads `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date), in ms. */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Number(ms);
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function errorMessage(text: string): { message?: string; type?: string } {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; status?: unknown } | string };
    if (typeof body.error === 'string') return { message: body.error };
    const message = typeof body.error?.message === 'string' ? body.error.message : undefined;
    const type = typeof body.error?.type === 'string' ? body.error.type : typeof body.error?.status === 'string' ? body.error.status : undefined;
    return { ...(message === undefined ? {} : { message }), ...(type === undefined ? {} : { type }) };
  } catch {
    return text === '' ? {} : { message: text.slice(0, 200) };
  }
}

/** Reads a number field, 0 when absent. */
export function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
