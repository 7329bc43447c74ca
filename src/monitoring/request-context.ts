import { createContextKey, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import { CORRELATION_CONTEXT_KEY } from './correlation-id.js';

// @opentelemetry/api makes its keys with `Symbol.for(description)` so that several copies of the
// package agree; this is the key `trace.setSpan` / `trace.getSpan` use. Checked once below.
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * The context a request runs in: its server span and correlation id on top of a parent context,
 * in one small object. `trace.setSpan(parent, span).setValue(…)` would copy a Map and make six
 * closures per request; reads are the hot path (every log line, every outgoing call), writes are
 * rare and produce an ordinary context.
 */
class RequestContext implements Context {
  constructor(
    private readonly parent: Context,
    private readonly span: Span,
    private readonly correlationId: string,
  ) {}

  getValue(key: symbol): unknown {
    if (key === SPAN_KEY) return this.span;
    if (key === CORRELATION_CONTEXT_KEY) return this.correlationId;
    return this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.expand().setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.expand().deleteValue(key);
  }

  private expand(): Context {
    return trace.setSpan(this.parent, this.span).setValue(CORRELATION_CONTEXT_KEY, this.correlationId);
  }
}

const probe = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 0 });
// Should a future @opentelemetry/api stop keying spans by that symbol, fall back to ordinary contexts.
const spanKeyIsShared = trace.getSpan(new RequestContext(ROOT_CONTEXT, probe, '')) === probe;

/**
 * `parent` with `span` as the active span and, when given, `correlationId` as the correlation id.
 *
 * @example
 * ```ts
 * context.with(requestContext(ROOT_CONTEXT, span, 'abc-1'), next);
 * ```
 */
export function requestContext(parent: Context, span: Span, correlationId: string | undefined): Context {
  if (correlationId === undefined) return trace.setSpan(parent, span);
  if (spanKeyIsShared) return new RequestContext(parent, span, correlationId);
  return trace.setSpan(parent, span).setValue(CORRELATION_CONTEXT_KEY, correlationId);
}
