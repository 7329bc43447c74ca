import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { context, type Context, type Span } from '@opentelemetry/api';
import { CORRELATION_CONTEXT_KEY, resolveCorrelationId, runWithCorrelationId } from './correlation-id.js';
import { expressRouteTemplate, pathOf } from './http-route.js';

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
        /** Starts the SERVER span of `req`, continuing any trace context in its headers (`headers`: `req.headers`, when already read). */
        startServerSpan(req: IncomingMessage, correlationId?: string, headers?: IncomingHttpHeaders): ServerSpan;
      }
    | undefined;
  /** Reads the route template once the response ended. Default {@link expressRouteTemplate}. */
  routeOf?: (req: IncomingMessage, statusCode: number) => string | undefined;
  /** Request paths (without query) passed through untouched: no correlation id, span or callbacks. Default none. */
  ignorePaths?: Iterable<string>;
  /** Asked per request: `true` gives the response `connection: close` (a draining service). Default never. */
  closeConnections?: () => boolean;
  /** Called when a request starts. */
  onRequestStart?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Called once per request when its response ended or its connection closed. */
  onRequestEnd?: (end: RequestEnd) => void;
}

/**
 * One request between the middleware and the end of its response; once over, the
 * {@link RequestEnd} handed to `onRequestEnd` (one object per request, not two). Requests in
 * flight form a doubly linked list, so starting and ending one costs no hashing.
 */
class ActiveRequest implements RequestEnd {
  route: string | undefined = undefined;
  statusCode = 0;
  durationSeconds = 0;
  aborted = false;
  previous: ActiveRequest | undefined = undefined;
  next: ActiveRequest | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly startedAt: number,
    readonly serverSpan: ServerSpan | undefined,
  ) {}
}

/**
 * The per-request core of the monitoring middlewares (see {@link createRequestInstrumentation}),
 * with what the performance monitor needs besides: the requests in flight.
 *
 * The hot path touches each request and response property once: after Express swaps their
 * prototypes, every property lookup on them that misses V8's caches goes through the runtime.
 */
export class RequestInstrumentation {
  /** The middleware. */
  readonly handle: NodeMiddleware;
  private inFlightCount = 0;
  private newest: ActiveRequest | undefined;

  constructor(options: RequestInstrumentationOptions) {
    const { tracer, onRequestStart, onRequestEnd, closeConnections } = options;
    const routeOf = options.routeOf ?? expressRouteTemplate;
    const isIgnored = ignoredPathTest(options.ignorePaths);
    const finish = (active: ActiveRequest): void => {
      this.unlink(active);
      const res = active.res;
      const statusCode = res.statusCode;
      const aborted = !res.writableFinished;
      const route = routeOf(active.req, statusCode);
      active.serverSpan?.end(statusCode, route, aborted);
      if (onRequestEnd === undefined) return;
      active.route = route;
      active.statusCode = statusCode;
      active.aborted = aborted;
      active.durationSeconds = (performance.now() - active.startedAt) / 1000;
      onRequestEnd(active);
    };
    this.handle = (req, res, next) => {
      if (isIgnored !== undefined && isIgnored(req.url)) {
        next();
        return;
      }
      const startedAt = performance.now();
      const headers = req.headers;
      const correlationId = resolveCorrelationId(headers);
      try {
        res.setHeader('x-correlation-id', correlationId);
        if (closeConnections?.() === true) res.setHeader('connection', 'close');
      } catch {
        // Headers already sent by an earlier middleware: nothing to echo on.
      }
      const serverSpan = tracer?.startServerSpan(req, correlationId, headers);
      const active = new ActiveRequest(req, res, startedAt, serverSpan);
      this.link(active);
      onRequestStart?.(req, res);
      // 'close' comes once per response, after 'finish' or when the connection dies first.
      res.on('close', () => {
        finish(active);
      });
      if (serverSpan === undefined) {
        runWithCorrelationId(correlationId, next);
      } else {
        // One AsyncLocalStorage entry per request: the correlation id rides in the trace context.
        const ctx = serverSpan.context;
        context.with(ctx.getValue(CORRELATION_CONTEXT_KEY) === correlationId ? ctx : ctx.setValue(CORRELATION_CONTEXT_KEY, correlationId), next);
      }
    };
  }

  /** Requests between the middleware and the end of their response. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Calls `fn` with the response of every request in flight, newest first. */
  forEachInFlight(fn: (res: ServerResponse) => void): void {
    for (let active = this.newest; active !== undefined; active = active.previous) fn(active.res);
  }

  private link(active: ActiveRequest): void {
    active.previous = this.newest;
    if (this.newest !== undefined) this.newest.next = active;
    this.newest = active;
    this.inFlightCount++;
  }

  private unlink(active: ActiveRequest): void {
    const { previous, next } = active;
    if (previous !== undefined) previous.next = next;
    if (next !== undefined) next.previous = previous;
    else if (this.newest === active) this.newest = previous;
    active.previous = undefined;
    active.next = undefined;
    this.inFlightCount--;
  }
}

/**
 * A test of whether a request target's path (query aside) is one of `paths`; `undefined` for
 * none. A few paths (probes, scrapes) are compared in place, so the other requests' targets are
 * neither sliced nor hashed.
 */
function ignoredPathTest(paths: Iterable<string> | undefined): ((url: string | undefined) => boolean) | undefined {
  const set = new Set(paths);
  if (set.size === 0) return undefined;
  if (set.size > 8) return (url) => set.has(pathOf(url));
  const list = [...set];
  return (url) => {
    if (url === undefined) return list.includes('/');
    for (const path of list) {
      // '?' (63) starts the query.
      if (url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63)) return true;
    }
    return false;
  };
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
  return new RequestInstrumentation(options).handle;
}
