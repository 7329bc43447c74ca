import { type Clock, systemClock } from '../../core/clock.js';
import { ValidationError } from '../../core/validation-error.js';
import type { CompletionRequest, CompletionResult, LlmAdapter } from './llm-adapter.js';

/** Options of {@link LocalAdapter}. */
export interface LocalAdapterOptions {
  /** Produces the answer. Default: a deterministic echo of the last user message. */
  respond?: (request: CompletionRequest) => string | Promise<string>;
  /** Reported model name. Default `'local-echo'`. */
  model?: string;
  /** Time source for `latencyMs`. Default the system clock. */
  clock?: Clock;
  /**
   * How many recent requests {@link LocalAdapter.calls} keeps (oldest dropped first), so a
   * long-running development service does not grow without bound. Default `100`; `0` keeps none.
   */
  maxRecordedCalls?: number;
}

/** Rough token count (about 4 characters per token), for usage figures. */
function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

/**
 * A deterministic in-process model for development and tests: same request, same answer, no
 * network. Usage is estimated from text length.
 *
 * @example
 * ```ts
 * const llm = new LocalAdapter({ respond: (req) => (req.system?.includes('JSON') ? '{"ok":true}' : 'ok') });
 * ```
 */
export class LocalAdapter implements LlmAdapter {
  readonly provider = 'local';
  readonly model: string;
  /** The most recent requests received (at most `maxRecordedCalls`), oldest first, for assertions in tests. */
  readonly calls: CompletionRequest[] = [];
  private readonly maxRecordedCalls: number;
  private readonly respond: (request: CompletionRequest) => string | Promise<string>;
  private readonly clock: Clock;

  constructor(options: LocalAdapterOptions = {}) {
    this.model = options.model ?? 'local-echo';
    this.clock = options.clock ?? systemClock;
    const max = options.maxRecordedCalls ?? 100;
    if (!Number.isInteger(max) || max < 0) {
      throw new ValidationError('maxRecordedCalls', `must be a non-negative integer (got ${String(max)})`);
    }
    this.maxRecordedCalls = max;
    this.respond =
      options.respond ??
      ((request) => {
        const last = [...request.messages].reverse().find((m) => m.role === 'user');
        return `echo: ${last?.content ?? ''}`;
      });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const started = this.clock.monotonic();
    if (this.maxRecordedCalls > 0) {
      if (this.calls.length >= this.maxRecordedCalls) this.calls.splice(0, this.calls.length - this.maxRecordedCalls + 1);
      this.calls.push(request);
    }
    let text = await this.respond(request);
    const maxTokens = request.maxTokens;
    if (maxTokens !== undefined && estimateTokens(text) > maxTokens) text = text.slice(0, maxTokens * 4);
    const input = (request.system ?? '') + request.messages.map((m) => m.content).join('\n');
    return {
      text,
      usage: { inputTokens: estimateTokens(input), outputTokens: estimateTokens(text) },
      latencyMs: this.clock.monotonic() - started,
      model: this.model,
      finishReason: 'stop',
    };
  }
}
