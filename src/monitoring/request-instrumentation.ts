import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, type Context, type Span } from '@opentelemetry/api';
import { CORRELATION_CONTEXT_KEY, resolveCorrelationId, runWithCorrelationId } from './correlation-id.js';
import { expressRouteTemplate } from './http-route.js';

/**
 * A Node/Express/Connect middleware. Express's `app.use()` accepts it as it is.
 */
export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** The span handle of one request, made by `DistributedTracer.startServerSpan`. */
export interface ServerSpan {
  /** The SERVER span (non-recording when not sampled). */
  readonly span: Span;
  /** The context to run the request's handlers in. */
  readonly context: Context;
  /** Names the span after the route template, sets the status and ends it. */
  end(statusCode: number, route: string | undefined, aborted: boolean): void;
}

/** What finished: passed to {@link RequestInstrumentationOptions.onRequestEnd}. */
export interface RequestEnd {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The route template, `undefined` when no route matched. */
  readonly route: string | undefined;
  readonly statusCode: number;
  /** Time from the middleware to the end of the response (or the connection closing), in seconds. */
  readonly durationSeconds: number;
  /** `true` when the client went away before the response ended. */
  readonly aborted: boolean;
}

/** How {@link createRequestInstrumentation} instruments requests. */
export interface RequestInstrumentationOptions {
  /** Makes the SERVER span of each request. Default none (no tracing). */
  tracer?:
    | {
        /** Starts the SERVER span of `req`, continuing any trace context in its headers. */
        startServerSpan(req: IncomingMessage, correlationId?: string): ServerSpan;
      }
    | undefined;
  /** Reads the route template once the response ended. Default {@link expressRouteTemplate}. */
  routeOf?: (req: IncomingMessage, statusCode: number) => string | undefined;
  /** Called when a request starts. */
  onRequestStart?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Called once per request when its response ended or its connection closed. */
  onRequestEnd?: (end: RequestEnd) => void;
}

/**
 * The per-request core shared by the monitoring middlewares: the correlation id (read from
 * `x-correlation-id`/`x-request-id` or made, kept in AsyncLocalStorage, echoed on the response),
 * the SERVER span and its active context, and one callback when the response is over.
 *
 * @example
 * ```ts
 * app.use(createRequestInstrumentation({ onRequestEnd: ({ route, durationSeconds }) => record(route, durationSeconds) }));
 * ```
 */
export function createRequestInstrumentation(options: RequestInstrumentationOptions): NodeMiddleware {
  const { tracer, onRequestStart, onRequestEnd } = options;
  const routeOf = options.routeOf ?? expressRouteTemplate;
  const finish = (req: IncomingMessage, res: ServerResponse, startedAt: number, serverSpan: ServerSpan | undefined): void => {
    const statusCode = res.statusCode;
    const aborted = !res.writableFinished;
    const route = routeOf(req, statusCode);
    serverSpan?.end(statusCode, route, aborted);
    onRequestEnd?.({ req, res, route, statusCode, durationSeconds: (performance.now() - startedAt) / 1000, aborted });
  };
  return (req, res, next) => {
    const startedAt = performance.now();
    const correlationId = resolveCorrelationId(req.headers);
    if (!res.headersSent) res.setHeader('x-correlation-id', correlationId);
    const serverSpan = tracer?.startServerSpan(req, correlationId);
    onRequestStart?.(req, res);
    // 'close' comes once per response, after 'finish' or when the connection dies first. (A
    // closure, not a property on `res`: adding a property to a response whose prototype Express
    // swapped costs microseconds.)
    res.on('close', () => {
      finish(req, res, startedAt, serverSpan);
    });
    if (serverSpan === undefined) {
      runWithCorrelationId(correlationId, next);
    } else {
      // One AsyncLocalStorage entry per request: the correlation id rides in the trace context.
      const active = serverSpan.context.getValue(CORRELATION_CONTEXT_KEY) === correlationId ? serverSpan.context : serverSpan.context.setValue(CORRELATION_CONTEXT_KEY, correlationId);
      context.with(active, next);
    }
  };
}
