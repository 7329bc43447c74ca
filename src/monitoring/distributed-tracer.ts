import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, ExportResultCode, W3CBaggagePropagator, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { configValue, env, readEnv } from '../core/config.js';
import { loadOptional } from '../core/load-optional.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { ValidationError } from '../core/validation-error.js';
import { createCorrelatedLogger } from './correlated-logger.js';
import { getCorrelationId, newCorrelationId, runWithCorrelationId } from './correlation-id.js';
import { normalizeMethod, pathOf } from './http-route.js';
import { requestScope } from './request-context.js';
import { createRequestInstrumentation, type NodeMiddleware, type ServerSpan } from './request-instrumentation.js';

/** Where spans go. `'otlp'` also serves Jaeger (it ingests OTLP/HTTP on port 4318). */
export type TraceExporterKind = 'zipkin' | 'otlp' | 'console' | 'none';

/** A propagation format for incoming and outgoing HTTP headers. */
export type TracePropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi';

/** Options of {@link DistributedTracer}. Explicit options win over environment variables. */
export interface DistributedTracerOptions {
  /** `service.version` resource attribute. Default none. */
  serviceVersion?: string;
  /** Extra resource attributes (e.g. `deployment.environment.name`). Default none. */
  resourceAttributes?: Attributes;
  /** Share of new traces sampled, 0–1, parent-based (a sampled parent is always followed). Default `TRACE_SAMPLE_RATE`, else `0.1`. */
  sampleRate?: number;
  /**
   * Exporter: a kind or your own `SpanExporter`. Default chosen by configuration: Zipkin when a
   * Zipkin endpoint is set, else OTLP/HTTP when an OTLP or Jaeger endpoint is set, else console
   * when `NODE_ENV=development`, else none.
   */
  exporter?: TraceExporterKind | SpanExporter;
  /** Zipkin collector, base URL or full `/api/v2/spans` URL. Default `ZIPKIN_ENDPOINT`, else `http://localhost:9411`. */
  zipkinEndpoint?: string;
  /**
   * OTLP/HTTP traces endpoint, base URL or full `/v1/traces` URL. Default `JAEGER_ENDPOINT`
   * (the legacy Jaeger port 14268 is mapped to Jaeger's OTLP port 4318), else
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.
   */
  otlpEndpoint?: string;
  /** Headers sent with every export request (e.g. an API key). Default none. */
  exporterHeaders?: Record<string, string>;
  /** Header formats read and written. Default `['tracecontext', 'baggage', 'b3']` (B3 single header). */
  propagators?: readonly TracePropagatorName[];
  /** Spans buffered before export; past it new spans are dropped (bounded memory while a collector is down). Default `2048`. */
  maxQueueSize?: number;
  /** Spans per export request. Default `512`. */
  maxExportBatchSize?: number;
  /** Delay between two exports, in ms. Default `5000`. */
  scheduledDelayMs?: number;
  /** Time an export may take, in ms. Default `30000`. */
  exportTimeoutMs?: number;
  /** Extra span processors (e.g. a `SimpleSpanProcessor` in tests). Default none. */
  spanProcessors?: readonly SpanProcessor[];
  /** Register the tracer provider and propagator as the OpenTelemetry globals (when none is registered yet). Default `true`. */
  registerGlobal?: boolean;
  /** `messaging.system` attribute of queue spans. Default `'redis'`. */
  messagingSystem?: string;
  /** The `fetch` used by {@link DistributedTracer.traceFetch}. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Logger for export and configuration problems. Default silent. */
  logger?: Logger;
  /** Environment read for configuration. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The structural interface the queue uses to continue traces across jobs (OTel messaging conventions). */
export interface MessagingTelemetry {
  /** Runs `fn` in a PRODUCER span `send <queue>` and writes its W3C context into `carrier`. */
  produce<T>(queue: string, carrier: Record<string, string>, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` in a CONSUMER span `process <queue>` continuing the trace found in `carrier`. */
  consume<T>(queue: string, carrier: Record<string, string>, attributes: Record<string, string | number | boolean>, fn: () => Promise<T>): Promise<T>;
}

const headerGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => {
    carrier.set(key, value);
  },
};

const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** The correlation id travels with jobs in this carrier key. */
const CORRELATION_KEY = 'x-correlation-id';

const ENV_OTLP_TRACES = env.url('OTLP/HTTP traces endpoint', { protocols: ['http:', 'https:'] });

/**
 * Distributed tracing for one service: an OpenTelemetry tracer provider with parent-based ratio
 * sampling, W3C tracecontext + baggage and B3 propagation, a bounded batch exporter (Zipkin,
 * OTLP/HTTP for Jaeger and collectors, console, or none), and the helpers a service needs:
 * SERVER spans named by route template, `withSpan`, `traceFetch`, carrier injection for queues,
 * and a logger that stamps `trace_id`/`span_id`/`correlation_id` on every line.
 *
 * Exporters are optional peers (`@opentelemetry/exporter-zipkin`,
 * `@opentelemetry/exporter-trace-otlp-http`), loaded on first use; {@link ready} reports a
 * missing one as a `MissingDependencyError` naming the package.
 *
 * @example
 * ```ts
 * const tracer = new DistributedTracer('orders-api', { sampleRate: 0.1, zipkinEndpoint: 'http://zipkin:9411' });
 * app.use(tracer.middleware());
 * const log = tracer.logger(pino());
 * app.get('/orders/:id', async (req, res) => {
 *   const stock = await tracer.traceFetch(`http://stock/items/${req.params.id}`);
 *   log.info('fetched stock'); // carries trace_id, span_id, correlation_id
 *   res.json(await stock.json());
 * });
 * process.on('SIGTERM', () => void tracer.shutdown());
 * ```
 */
export class DistributedTracer {
  /** The service name spans are reported under. */
  readonly serviceName: string;
  /** The resolved root sampling ratio. */
  readonly sampleRate: number;
  /** The exporter kind in use (`'custom'` for a `SpanExporter` you passed). */
  readonly exporterKind: TraceExporterKind | 'custom';
  /** The OpenTelemetry tracer, for spans of your own. */
  readonly tracer: Tracer;
  /** The composite propagator used for HTTP headers. */
  readonly propagator: TextMapPropagator;

  private readonly provider: BasicTracerProvider;
  private readonly rootSampler: UpfrontRatioSampler;
  private readonly propagationFields: readonly string[];
  /** Every propagation header is one {@link carriesTraceHeaders} checks. */
  private readonly knownFieldsOnly: boolean;
  private readonly messagingPropagator: TextMapPropagator;
  private readonly fetchImpl: typeof fetch;
  private readonly log: Logger;
  private readonly messagingSystem: string;
  private readonly exporterReady: Promise<void>;

  /** @throws ValidationError naming the option or variable that is malformed. */
  constructor(serviceName: string, options: DistributedTracerOptions = {}) {
    if (typeof serviceName !== 'string' || serviceName.trim() === '') throw new ValidationError('serviceName', 'must be a non-empty string');
    const source = options.env ?? process.env;
    this.serviceName = serviceName;
    this.log = options.logger ?? createSilentLogger();
    this.messagingSystem = options.messagingSystem ?? 'redis';
    this.sampleRate = configValue('TRACE_SAMPLE_RATE', options.sampleRate, source);
    if (!Number.isFinite(this.sampleRate) || this.sampleRate < 0 || this.sampleRate > 1) {
      throw new ValidationError('sampleRate', `must be a number between 0 and 1 (got ${this.sampleRate})`);
    }
    const buffer = {
      maxQueueSize: positiveInteger('maxQueueSize', options.maxQueueSize ?? 2048),
      maxExportBatchSize: positiveInteger('maxExportBatchSize', options.maxExportBatchSize ?? 512),
      scheduledDelayMillis: positiveInteger('scheduledDelayMs', options.scheduledDelayMs ?? 5000),
      exportTimeoutMillis: positiveInteger('exportTimeoutMs', options.exportTimeoutMs ?? 30_000),
    };
    if (buffer.maxExportBatchSize > buffer.maxQueueSize) throw new ValidationError('maxExportBatchSize', 'must not exceed "maxQueueSize"');
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new ValidationError('fetch', 'must be a function');
    this.fetchImpl = fetchImpl;

    this.propagator = buildPropagator(options.propagators ?? ['tracecontext', 'baggage', 'b3']);
    this.propagationFields = this.propagator.fields().map((field) => field.toLowerCase());
    this.knownFieldsOnly = this.propagationFields.every((field) => TRACE_HEADERS.includes(field));
    this.messagingPropagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

    this.rootSampler = new UpfrontRatioSampler(this.sampleRate);
    const { kind, exporter } = this.resolveExporter(options, source);
    this.exporterKind = kind;
    const processors: SpanProcessor[] = [];
    if (exporter !== undefined) processors.push(new BatchSpanProcessor(exporter.exporter, buffer));
    processors.push(...(options.spanProcessors ?? []));
    this.exporterReady = exporter?.ready ?? Promise.resolve();

    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ ...options.resourceAttributes, 'service.name': serviceName, ...(options.serviceVersion === undefined ? {} : { 'service.version': options.serviceVersion }) }),
      sampler: new ParentBasedSampler({ root: this.rootSampler }),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('@ux-flow/common/monitoring');

    // Active-span propagation needs a context manager; reuse one that is already registered.
    const manager = new AsyncLocalStorageContextManager();
    if (!context.setGlobalContextManager(manager.enable())) manager.disable();
    if (options.registerGlobal ?? true) {
      trace.setGlobalTracerProvider(this.provider);
      propagation.setGlobalPropagator(this.propagator);
    }
  }

  /**
   * Resolves once the exporter is loaded; rejects with a `MissingDependencyError` when its
   * package is not installed (spans are then dropped, and the error is also logged).
   *
   * @example
   * ```ts
   * await tracer.ready(); // fail fast at start-up when @opentelemetry/exporter-zipkin is missing
   * ```
   */
  ready(): Promise<void> {
    return this.exporterReady;
  }

  /**
   * Starts the SERVER span of an incoming request, continuing the caller's trace from the
   * request headers. Used by the middlewares; call it yourself for other HTTP frameworks.
   * `headers` defaults to `req.headers` (pass them when already read: one lookup fewer on a
   * request object whose prototype a framework swapped).
   *
   * @example
   * ```ts
   * const { context: ctx, end } = tracer.startServerSpan(req);
   * res.on('close', () => end(res.statusCode, '/users/:id', !res.writableFinished));
   * ```
   */
  startServerSpan(req: IncomingMessage, correlationId?: string, headers: IncomingHttpHeaders = req.headers): ServerSpan {
    // Most requests carry no trace headers: skip the propagators' parsing for them.
    let parent = ROOT_CONTEXT;
    let remote: SpanContext | undefined;
    if (this.knownFieldsOnly ? carriesTraceHeaders(headers) : this.propagationFields.some((field) => headers[field] !== undefined)) {
      parent = this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      remote = trace.getSpanContext(parent);
      if (remote !== undefined && !isSpanContextValid(remote)) remote = undefined;
    }
    // The sampling decision comes first (parent-based, else the ratio), so the nine requests in
    // ten that are not sampled never reach the SDK: they get a non-recording span that only
    // carries the trace id (the caller's, or a new one) with the sampled flag off, for logs and
    // for outgoing calls, whose services then do not sample either.
    const sampled = remote === undefined ? this.rootSampler.decide() : (remote.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (!sampled) return requestScope(parent, remote, correlationId, undefined, '');
    const method = normalizeMethod(req.method);
    const attributes: Attributes = {
      'http.request.method': method,
      'url.path': pathOf(req.url),
      'url.scheme': 'encrypted' in req.socket ? 'https' : 'http',
      'network.protocol.version': req.httpVersion,
    };
    const agent = headers['user-agent'];
    if (agent !== undefined) attributes['user_agent.original'] = agent;
    if (req.socket.remoteAddress !== undefined) attributes['client.address'] = req.socket.remoteAddress;
    if (correlationId !== undefined) attributes['correlation.id'] = correlationId;
    if (remote === undefined) this.rootSampler.sampleNext();
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
    this.rootSampler.reset();
    return requestScope(parent, remote, correlationId, span, method);
  }

  /**
   * Express/Connect middleware (tracing only): correlation id in AsyncLocalStorage and echoed as
   * `x-correlation-id`, and a SERVER span per request named by route template (`GET /users/:id`).
   * `PerformanceMonitor.middleware()` already includes this; use one or the other.
   *
   * @example
   * ```ts
   * app.use(tracer.middleware());
   * ```
   */
  middleware(): NodeMiddleware {
    return createRequestInstrumentation({ tracer: this });
  }

  /**
   * Runs `fn` in a new active span (child of the current one); records a thrown error on the
   * span and rethrows it. The span ends when `fn` settles.
   *
   * @example
   * ```ts
   * const total = await tracer.withSpan('compute invoice', async (span) => {
   *   span.setAttribute('invoice.lines', lines.length);
   *   return sum(lines);
   * }, { 'tenant.id': tenantId });
   * ```
   */
  async withSpan<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
    const span = this.tracer.startSpan(name, { kind, attributes }, context.active());
    try {
      return await context.with(trace.setSpan(context.active(), span), () => fn(span));
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Writes the current trace context (W3C `traceparent`/`tracestate`, `baggage`, B3 by default)
   * and the correlation id into `headers`, for outgoing HTTP calls made with any client.
   *
   * @example
   * ```ts
   * await axios.get(url, { headers: tracer.injectHeaders({ accept: 'application/json' }) });
   * ```
   */
  injectHeaders(headers: Record<string, string> = {}): Record<string, string> {
    this.propagator.inject(context.active(), headers, recordSetter);
    const correlationId = getCorrelationId();
    if (correlationId !== undefined) headers[CORRELATION_KEY] = correlationId;
    return headers;
  }

  /**
   * `fetch` in a CLIENT span (`GET`, with `url.full`, `server.address`, status), propagating
   * the trace and correlation id in the request headers. The span ends when the response headers
   * arrive; a network error or a status ≥ 400 marks it as an error.
   *
   * @example
   * ```ts
   * const response = await tracer.traceFetch('http://billing/invoices', { method: 'POST', body });
   * ```
   */
  async traceFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(input instanceof Request ? input.url : input instanceof URL ? input.href : input);
    const method = normalizeMethod(init.method ?? request?.method ?? 'GET');
    url.username = '';
    url.password = '';
    const span = this.tracer.startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'url.full': url.href,
        'server.address': url.hostname,
        'server.port': url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      },
    }, context.active());
    const active = trace.setSpan(context.active(), span);
    const headers = new Headers(init.headers ?? request?.headers);
    this.propagator.inject(active, headers, headersSetter);
    const correlationId = getCorrelationId();
    if (correlationId !== undefined && !headers.has(CORRELATION_KEY)) headers.set(CORRELATION_KEY, correlationId);
    try {
      const response = await context.with(active, () => this.fetchImpl(input, { ...init, headers }));
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 400) {
        span.setAttribute('error.type', String(response.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return response;
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Writes the trace context of `ctx` (default: the active one) into a plain carrier, W3C format.
   *
   * @example
   * ```ts
   * const carrier = tracer.injectContext({}); // { traceparent: '00-…-01' }
   * ```
   */
  injectContext(carrier: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
    this.messagingPropagator.inject(ctx, carrier, recordSetter);
    return carrier;
  }

  /**
   * Reads a trace context written by {@link injectContext} (or another W3C producer).
   *
   * @example
   * ```ts
   * const parent = tracer.extractContext(job.headers);
   * await context.with(parent, () => handle(job));
   * ```
   */
  extractContext(carrier: Record<string, string>): Context {
    return this.messagingPropagator.extract(ROOT_CONTEXT, carrier, recordGetter);
  }

  /**
   * The telemetry hooks the queue calls around `add()` and job processing (OTel messaging
   * conventions): a PRODUCER span `send <queue>` whose context (and the correlation id) goes
   * into the job's carrier, and a CONSUMER span `process <queue>` that continues that trace,
   * with a link to the producer, in the worker.
   *
   * @example
   * ```ts
   * const queue = initializeMessageQueue(redis, logger, { telemetry: tracer.messagingTelemetry() });
   * ```
   */
  messagingTelemetry(): MessagingTelemetry {
    return {
      produce: (queue, carrier, fn) => {
        const span = this.tracer.startSpan(`send ${queue}`, {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': this.messagingSystem,
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'send',
            'messaging.destination.name': queue,
          },
        }, context.active());
        const active = trace.setSpan(context.active(), span);
        this.injectContext(carrier, active);
        const correlationId = getCorrelationId();
        if (correlationId !== undefined) carrier[CORRELATION_KEY] = correlationId;
        return this.runSpan(span, active, fn);
      },
      consume: (queue, carrier, attributes, fn) => {
        const parent = this.extractContext(carrier);
        const producer = trace.getSpanContext(parent);
        const span = this.tracer.startSpan(`process ${queue}`, {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': this.messagingSystem,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.destination.name': queue,
            ...attributes,
          },
          links: producer === undefined ? [] : [{ context: producer }],
        }, parent);
        const correlationId = carrier[CORRELATION_KEY] ?? getCorrelationId() ?? newCorrelationId();
        return runWithCorrelationId(correlationId, () => this.runSpan(span, trace.setSpan(parent, span), fn));
      },
    };
  }

  /**
   * A logger that adds `correlation_id`, `trace_id`, `span_id` and `trace_flags` of the
   * current request or job to every line.
   *
   * @example
   * ```ts
   * const log = tracer.logger(pino());
   * log.info({ orderId }, 'order placed');
   * ```
   */
  logger(base: Logger): Logger {
    return createCorrelatedLogger(base);
  }

  /**
   * Exports every finished span now.
   *
   * @example
   * ```ts
   * await tracer.forceFlush();
   * ```
   */
  async forceFlush(): Promise<void> {
    await this.provider.forceFlush();
  }

  /**
   * Flushes and stops the exporter. Idempotent: later calls return the first call's promise.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void tracer.shutdown());
   * ```
   */
  readonly shutdown = once(async (): Promise<void> => {
    await this.provider.shutdown();
  });

  private async runSpan<T>(span: Span, active: Context, fn: () => Promise<T>): Promise<T> {
    try {
      return await context.with(active, fn);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  private resolveExporter(
    options: DistributedTracerOptions,
    source: Readonly<Record<string, string | undefined>>,
  ): { kind: TraceExporterKind | 'custom'; exporter: { exporter: SpanExporter; ready: Promise<void> } | undefined } {
    const chosen = options.exporter;
    if (chosen !== undefined && typeof chosen === 'object') {
      if (typeof chosen.export !== 'function') throw new ValidationError('exporter', 'must be a kind or a SpanExporter');
      return { kind: 'custom', exporter: { exporter: chosen, ready: Promise.resolve() } };
    }
    if (chosen !== undefined && !['zipkin', 'otlp', 'console', 'none'].includes(chosen)) {
      throw new ValidationError('exporter', 'must be "zipkin", "otlp", "console", "none" or a SpanExporter');
    }
    const zipkin = options.zipkinEndpoint ?? configValue('ZIPKIN_ENDPOINT', undefined, source);
    const jaeger = options.otlpEndpoint === undefined ? configValue('JAEGER_ENDPOINT', undefined, source) : undefined;
    const otlp =
      options.otlpEndpoint ??
      (jaeger === undefined ? undefined : jaegerToOtlp(jaeger, this.log)) ??
      readEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', ENV_OTLP_TRACES, source) ??
      readEnv('OTEL_EXPORTER_OTLP_ENDPOINT', ENV_OTLP_TRACES, source);
    const kind: TraceExporterKind =
      chosen ?? (zipkin !== undefined ? 'zipkin' : otlp !== undefined ? 'otlp' : source['NODE_ENV'] === 'development' ? 'console' : 'none');
    const headers = options.exporterHeaders;
    switch (kind) {
      case 'none':
        return { kind, exporter: undefined };
      case 'console':
        return { kind, exporter: { exporter: new ConsoleSpanExporter(), ready: Promise.resolve() } };
      case 'zipkin': {
        const url = withPath(checkUrl('zipkinEndpoint', zipkin ?? 'http://localhost:9411'), '/api/v2/spans');
        const loading = loadOptional('@opentelemetry/exporter-zipkin', 'Zipkin trace export', () => import('@opentelemetry/exporter-zipkin')).then(
          ({ ZipkinExporter }) => new ZipkinExporter({ url, serviceName: this.serviceName, ...(headers === undefined ? {} : { headers }) }),
        );
        return { kind, exporter: this.deferred(loading) };
      }
      case 'otlp': {
        const url = withPath(checkUrl('otlpEndpoint', otlp ?? 'http://localhost:4318'), '/v1/traces');
        const loading = loadOptional('@opentelemetry/exporter-trace-otlp-http', 'OTLP/HTTP trace export (Jaeger, collectors)', () =>
          import('@opentelemetry/exporter-trace-otlp-http'),
        ).then(({ OTLPTraceExporter }) => new OTLPTraceExporter({ url, ...(headers === undefined ? {} : { headers }) }));
        return { kind, exporter: this.deferred(loading) };
      }
    }
  }

  private deferred(loading: Promise<SpanExporter>): { exporter: SpanExporter; ready: Promise<void> } {
    const ready = loading.then(() => undefined);
    ready.catch((error: unknown) => {
      this.log.error({ err: error }, 'trace exporter unavailable: spans are dropped');
    });
    return { exporter: new DeferredExporter(loading), ready };
  }
}

/**
 * The root sampler: the ratio, with the decision for incoming requests taken before a span
 * exists ({@link DistributedTracer.startServerSpan}), so unsampled requests skip the SDK. Other
 * root spans (`withSpan`, jobs without a producer) are sampled by trace id as usual.
 */
class UpfrontRatioSampler implements Sampler {
  private readonly ratio: TraceIdRatioBasedSampler;
  private forced = false;

  constructor(private readonly rate: number) {
    this.ratio = new TraceIdRatioBasedSampler(rate);
  }

  /** Whether the next request starts a sampled trace. */
  decide(): boolean {
    return this.rate >= 1 || (this.rate > 0 && Math.random() < this.rate);
  }

  /** The next root span is sampled: {@link decide} said so. */
  sampleNext(): void {
    this.forced = true;
  }

  reset(): void {
    this.forced = false;
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    if (this.forced) {
      this.forced = false;
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.ratio.shouldSample(ctx, traceId);
  }

  toString(): string {
    return this.ratio.toString();
  }
}

/** A `SpanExporter` standing in for one that is still being imported. */
class DeferredExporter implements SpanExporter {
  constructor(private readonly loading: Promise<SpanExporter>) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.loading.then(
      (exporter) => {
        exporter.export(spans, resultCallback);
      },
      (error: unknown) => {
        resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
  }

  async shutdown(): Promise<void> {
    const exporter = await this.loading.catch(() => undefined);
    await exporter?.shutdown();
  }

  async forceFlush(): Promise<void> {
    const exporter = await this.loading.catch(() => undefined);
    await exporter?.forceFlush?.();
  }
}

/** The headers of the propagators {@link buildPropagator} knows (W3C trace context and baggage, B3 single and multi). */
const TRACE_HEADERS: readonly string[] = ['traceparent', 'tracestate', 'baggage', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'x-b3-parentspanid'];

/**
 * Whether a request carries any of {@link TRACE_HEADERS}. Written out property by property: each
 * read is then a load V8 caches for the headers object's shape, where a loop over names is a
 * generic keyed lookup per name, on every request.
 */
function carriesTraceHeaders(headers: IncomingHttpHeaders): boolean {
  return (
    headers.traceparent !== undefined ||
    headers.tracestate !== undefined ||
    headers.baggage !== undefined ||
    headers.b3 !== undefined ||
    headers['x-b3-traceid'] !== undefined ||
    headers['x-b3-spanid'] !== undefined ||
    headers['x-b3-sampled'] !== undefined ||
    headers['x-b3-flags'] !== undefined ||
    headers['x-b3-parentspanid'] !== undefined
  );
}

function buildPropagator(names: readonly TracePropagatorName[]): TextMapPropagator {
  // Extraction applies propagators in order, the last match winning: W3C goes last so it wins over B3.
  const order: TracePropagatorName[] = ['b3', 'b3multi', 'baggage', 'tracecontext'];
  const propagators: TextMapPropagator[] = [];
  for (const name of names) {
    if (!order.includes(name)) throw new ValidationError('propagators', `has an unknown propagator "${name}" (known: ${order.join(', ')})`);
  }
  for (const name of order) {
    if (!names.includes(name)) continue;
    if (name === 'b3') propagators.push(new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }));
    else if (name === 'b3multi') propagators.push(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }));
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else propagators.push(new W3CTraceContextPropagator());
  }
  return new CompositePropagator({ propagators });
}

function recordError(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setAttribute('error.type', exception.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new ValidationError(name, `must be a positive integer (got ${value})`);
  return value;
}

function checkUrl(name: string, value: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw new ValidationError(name, 'must be an absolute http(s) URL');
}

/** Adds the collector's standard path to a base URL (`http://zipkin:9411` → `…/api/v2/spans`). */
function withPath(url: URL, path: string): string {
  if (url.pathname === '' || url.pathname === '/') url.pathname = path;
  return url.href;
}

/** `JAEGER_ENDPOINT` often points at the legacy Thrift collector (14268, `/api/traces`); Jaeger takes OTLP on 4318. */
function jaegerToOtlp(endpoint: string, log: Logger): string {
  const url = new URL(endpoint);
  if (url.port === '14268' || url.pathname === '/api/traces') {
    if (url.port === '14268') url.port = '4318';
    url.pathname = '/v1/traces';
    log.warn({ endpoint, otlp: url.href }, 'JAEGER_ENDPOINT points at the legacy Jaeger collector; exporting OTLP/HTTP to Jaeger instead');
  }
  return url.href;
}
