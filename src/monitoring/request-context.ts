import { createContextKey, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { CORRELATION_CONTEXT_KEY } from './correlation-id.js';
import type { ServerSpan } from './request-instrumentation.js';
import { randomSpanId, randomTraceId } from './trace-ids.js';

// @opentelemetry/api makes its keys with `Symbol.for(description)` so that several copies of the
// package agree; this is the key `trace.setSpan` / `trace.getSpan` use. Checked once below.
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * One request's context and span handle, sampled or not, in one small object: its SERVER span
 * and correlation id on top of the parent context. `trace.setSpan(parent, span).setValue(…)`
 * would copy a Map and make six closures per request; reads are the hot path (every log line,
 * every outgoing call), writes are rare and produce an ordinary context.
 *
 * Sampled and unsampled requests share this one class on purpose. The context is the store of
 * the request's AsyncLocalStorage entry, which Node copies into every async resource the request
 * creates. With two classes (one for the sampled requests, one for the rest), tracing at 10%,
 * 50% and 100% cost about the same in a benchmark run (~20 µs per request over rate 0, while a
 * span costs ~3 µs per request at 10%); with one class, 10% came to 4–21 µs over rate 0 in three
 * runs, so the gain is real but within this machine's run-to-run noise.
 */
class RequestScope implements Context, ServerSpan {
  private lazySpan: Span | undefined;

  /**
   * @param recorded - the sampled request's recording span; `undefined` for a request not
   *   sampled, whose non-recording span (the caller's trace id or a new one, a new span id,
   *   flags `00`) is made the first time something reads it.
   * @param method - the request method the span is named after (sampled requests).
   */
  constructor(
    private readonly parent: Context,
    private readonly remote: SpanContext | undefined,
    private readonly correlationId: string | undefined,
    recorded: Span | undefined,
    private readonly method: string,
  ) {
    this.lazySpan = recorded;
  }

  /** The request's SERVER span (non-recording when not sampled). */
  get span(): Span {
    this.lazySpan ??= trace.wrapSpanContext(unsampledSpanContext(this.remote));
    return this.lazySpan;
  }

  get context(): Context {
    return this;
  }

  getValue(key: symbol): unknown {
    if (key === SPAN_KEY) return this.span;
    if (key === CORRELATION_CONTEXT_KEY && this.correlationId !== undefined) return this.correlationId;
    return this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.expand().setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.expand().deleteValue(key);
  }

  /** Names the span after the route template, sets the status and ends it (sampled requests). */
  end(statusCode: number, route: string | undefined, aborted: boolean): void {
    const span = this.lazySpan;
    if (span === undefined || !span.isRecording()) return;
    if (route !== undefined) {
      span.updateName(`${this.method} ${route}`);
      span.setAttribute('http.route', route);
    }
    span.setAttribute('http.response.status_code', statusCode);
    if (aborted) {
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection before the response ended' });
    } else if (statusCode >= 500) {
      span.setAttribute('error.type', String(statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  private expand(): Context {
    const withSpan = trace.setSpan(this.parent, this.span);
    return this.correlationId === undefined ? withSpan : withSpan.setValue(CORRELATION_CONTEXT_KEY, this.correlationId);
  }
}

const probe = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 0 });
// Should a future @opentelemetry/api stop keying spans by that symbol, fall back to ordinary contexts.
const spanKeyIsShared = trace.getSpan(new RequestScope(ROOT_CONTEXT, undefined, '', probe, '')) === probe;

function unsampledSpanContext(remote: SpanContext | undefined): SpanContext {
  return {
    traceId: remote?.traceId ?? randomTraceId(),
    spanId: randomSpanId(),
    traceFlags: TraceFlags.NONE,
    ...(remote?.traceState === undefined ? {} : { traceState: remote.traceState }),
  };
}

/**
 * The span handle and context of a request: `recorded` (a sampled request's span, named
 * `method` plus the route template when it ends) or, when `undefined`, a non-recording span
 * carrying the caller's trace id (or a new one) with the sampled flag off, whose ids are made
 * only when first read. The context has the span active under `parent`, and the correlation id.
 *
 * @example
 * ```ts
 * const handle = requestScope(ROOT_CONTEXT, undefined, 'abc-1', undefined, 'GET');
 * context.with(handle.context, next);
 * res.on('close', () => handle.end(res.statusCode, '/users/:id', !res.writableFinished));
 * ```
 */
export function requestScope(parent: Context, remote: SpanContext | undefined, correlationId: string | undefined, recorded: Span | undefined, method: string): ServerSpan {
  if (spanKeyIsShared) return new RequestScope(parent, remote, correlationId, recorded, method);
  const scope = new RequestScope(ROOT_CONTEXT, remote, undefined, recorded, method);
  let ctx = trace.setSpan(parent, scope.span);
  if (correlationId !== undefined) ctx = ctx.setValue(CORRELATION_CONTEXT_KEY, correlationId);
  return {
    span: scope.span,
    context: ctx,
    end: (statusCode, route, aborted) => {
      scope.end(statusCode, route, aborted);
    },
  };
}
