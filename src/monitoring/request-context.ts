import { createContextKey, ROOT_CONTEXT, trace, TraceFlags, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { CORRELATION_CONTEXT_KEY } from './correlation-id.js';
import type { ServerSpan } from './request-instrumentation.js';
import { randomSpanId, randomTraceId } from './trace-ids.js';

// @opentelemetry/api makes its keys with `Symbol.for(description)` so that several copies of the
// package agree; this is the key `trace.setSpan` / `trace.getSpan` use. Checked once below.
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * A request's context: its server span and correlation id on top of a parent context, in one
 * small object. `trace.setSpan(parent, span).setValue(…)` would copy a Map and make six closures
 * per request; reads are the hot path (every log line, every outgoing call), writes are rare and
 * produce an ordinary context.
 */
abstract class SpanScopedContext implements Context {
  constructor(
    private readonly parent: Context,
    private readonly correlationId: string | undefined,
  ) {}

  /** The request's span. */
  abstract get span(): Span;

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

  private expand(): Context {
    const withSpan = trace.setSpan(this.parent, this.span);
    return this.correlationId === undefined ? withSpan : withSpan.setValue(CORRELATION_CONTEXT_KEY, this.correlationId);
  }
}

/** The context of a request whose span exists already (a sampled request's SDK span). */
class RequestContext extends SpanScopedContext {
  constructor(
    parent: Context,
    readonly span: Span,
    correlationId: string,
  ) {
    super(parent, correlationId);
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

/**
 * The context and span handle of a request that is not sampled, in one object. Its
 * non-recording span (trace id and span id included) is made the first time something reads it
 * (a log line, an outgoing call), so a request nobody asks about costs one allocation instead of
 * five and no id generation.
 */
class UnsampledRequest extends SpanScopedContext implements ServerSpan {
  private lazySpan: Span | undefined;

  constructor(
    parent: Context,
    private readonly remote: SpanContext | undefined,
    correlationId: string | undefined,
  ) {
    super(parent, correlationId);
  }

  /** The non-recording span: the caller's trace id (or a new one), a new span id, flags `00`. */
  get span(): Span {
    this.lazySpan ??= trace.wrapSpanContext(unsampledSpanContext(this.remote));
    return this.lazySpan;
  }

  get context(): Context {
    return this;
  }

  end(): void {
    // Non-recording: nothing to name, set or export.
  }
}

function unsampledSpanContext(remote: SpanContext | undefined): SpanContext {
  return {
    traceId: remote?.traceId ?? randomTraceId(),
    spanId: randomSpanId(),
    traceFlags: TraceFlags.NONE,
    ...(remote?.traceState === undefined ? {} : { traceState: remote.traceState }),
  };
}

/**
 * The span handle and context of a request that is not sampled: a non-recording span carrying
 * the caller's trace id (or a new one) with the sampled flag off, under `parent`, and the
 * correlation id. Ids are generated only when the span is first read.
 *
 * @example
 * ```ts
 * const handle = unsampledRequest(ROOT_CONTEXT, undefined, 'abc-1');
 * context.with(handle.context, next);
 * ```
 */
export function unsampledRequest(parent: Context, remote: SpanContext | undefined, correlationId: string | undefined): ServerSpan {
  if (spanKeyIsShared) return new UnsampledRequest(parent, remote, correlationId);
  const span = trace.wrapSpanContext(unsampledSpanContext(remote));
  return {
    span,
    context: requestContext(parent, span, correlationId),
    end() {
      // Non-recording: nothing to record.
    },
  };
}
