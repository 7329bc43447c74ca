import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { LogFn, Logger } from '../core/logger.js';
import { getCorrelationId } from './correlation-id.js';

/**
 * The fields {@link createCorrelatedLogger} adds to a log line: the current correlation id and,
 * when a span is active, its `trace_id`, `span_id` and `trace_flags` (hex, as in W3C traceparent).
 * Empty outside a request or job.
 *
 * @example
 * ```ts
 * currentLogFields(); // { correlation_id: 'abc', trace_id: '4bf9…', span_id: '00f0…', trace_flags: '01' }
 * ```
 */
export function currentLogFields(): Record<string, string> {
  const fields: Record<string, string> = {};
  const correlationId = getCorrelationId();
  if (correlationId !== undefined) fields['correlation_id'] = correlationId;
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext !== undefined && isSpanContextValid(spanContext)) {
    fields['trace_id'] = spanContext.traceId;
    fields['span_id'] = spanContext.spanId;
    fields['trace_flags'] = spanContext.traceFlags.toString(16).padStart(2, '0');
  }
  return fields;
}

/**
 * Wraps a pino-compatible logger so every line carries the correlation id and the active
 * trace/span ids, read at the moment of the call (so it works for any request or job in flight).
 * `child()` loggers are wrapped too. Fields the caller passes win over the added ones.
 *
 * @example
 * ```ts
 * const log = createCorrelatedLogger(pino());
 * app.get('/orders', (req, res) => {
 *   log.info({ count: 3 }, 'listed orders'); // {"correlation_id":"…","trace_id":"…","count":3,…}
 * });
 * ```
 */
export function createCorrelatedLogger(base: Logger): Logger {
  const wrap = (method: LogFn): LogFn =>
    (first: unknown, ...rest: unknown[]) => {
      const fields = currentLogFields();
      if (first instanceof Error) {
        method({ ...fields, err: first }, ...(rest.length > 0 ? (rest as [string]) : [first.message]));
      } else if (first !== null && typeof first === 'object') {
        method({ ...fields, ...first }, ...(rest as [string]));
      } else {
        method(fields, ...([first, ...rest] as [string]));
      }
    };
  return {
    trace: wrap(base.trace.bind(base)),
    debug: wrap(base.debug.bind(base)),
    info: wrap(base.info.bind(base)),
    warn: wrap(base.warn.bind(base)),
    error: wrap(base.error.bind(base)),
    fatal: wrap(base.fatal.bind(base)),
    child: (bindings) => createCorrelatedLogger(base.child(bindings)),
  };
}
