import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { configValue } from '../core/config.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { ValidationError } from '../core/validation-error.js';
import { AlertEvaluator, type AlertEvent, type AlertRule } from './alert-evaluator.js';
import { createCorrelatedLogger } from './correlated-logger.js';
import { DistributedTracer, type DistributedTracerOptions } from './distributed-tracer.js';
import { createGracefulShutdown, type GracefulShutdown, type GracefulShutdownOptions } from './graceful-shutdown.js';
import { HealthChecks, type HealthCheckFn, type HealthCheckOptions, type HealthHandlerOptions, type ReadinessReport } from './health-checks.js';
import { expressRouteTemplate, normalizeMethod, UNMATCHED_ROUTE } from './http-route.js';
import { OPENMETRICS_CONTENT_TYPE, toOpenMetrics } from './open-metrics.js';
import { RequestDurationHistogram, type HistogramSeries } from './request-duration-histogram.js';
import { RequestInstrumentation, type NodeMiddleware } from './request-instrumentation.js';
import { HTTP_DURATION_BUCKETS_SECONDS, RollingWindow, type RollingWindowStats } from './rolling-window.js';
import { emitAlerts, emitSafely } from './safe-emit.js';
import { SystemMetrics, type SystemMetricsOptions } from './system-metrics.js';

/** The `route` label value of new routes once `maxRoutes` distinct ones were seen. */
export const OVERFLOW_ROUTE = '__overflow__';

/** A rolling-window metric the performance alerts can watch. */
export type PerformanceMetricName = 'p95LatencyMs' | 'p99LatencyMs' | 'errorRate' | 'throughputPerSecond' | 'inFlight';

/** Rolling-window statistics plus requests in flight. */
export interface PerformanceStats extends RollingWindowStats {
  /** Requests being served now. */
  readonly inFlight: number;
}

/** Events of {@link PerformanceMonitor}: its own alerts and those of its `SystemMetrics`. */
export interface PerformanceMonitorEvents {
  alert: [AlertEvent];
  'alert:resolved': [AlertEvent];
  /** A listener threw. */
  error: [unknown];
}

/** One completed request, for frameworks the middleware does not cover. */
export interface RequestSample {
  method: string;
  /** Route template (`/users/:id`); `undefined` for a request no route matched. */
  route: string | undefined;
  statusCode: number;
  durationSeconds: number;
  /** The client went away before the response ended. Default `false`. */
  aborted?: boolean;
}

/**
 * Options of {@link PerformanceMonitor}. Explicit options win over the environment
 * (`ENABLE_TRACING`, `ENABLE_SYSTEM_METRICS`, `ENABLE_PERFORMANCE_ALERTS`, `TRACE_SAMPLE_RATE`, …).
 */
export interface PerformanceMonitorOptions {
  /** Trace requests (SERVER spans, context propagation). Default `ENABLE_TRACING`, else `false`. */
  enableTracing?: boolean;
  /** Sample CPU, memory, event loop and GC. Default `ENABLE_SYSTEM_METRICS`, else `true`. */
  enableSystemMetrics?: boolean;
  /** Log alerts. Default `ENABLE_PERFORMANCE_ALERTS`, else `false` (events are emitted either way). */
  logAlerts?: boolean;
  /** Options of the tracer made when tracing is on. */
  tracing?: DistributedTracerOptions;
  /** A tracer of your own (then `enableTracing` is implied; the monitor does not shut it down). */
  tracer?: DistributedTracer;
  /** Options of the system sampler made when system metrics are on. */
  systemMetrics?: Omit<SystemMetricsOptions, 'registry' | 'clock' | 'logger' | 'env' | 'logAlerts'>;
  /** Registry everything is registered in. Default a new one (never prom-client's global). */
  registry?: Registry;
  /**
   * Also collect prom-client's default Node.js metrics (without the three `nodejs_active_*_total`
   * gauges, which break Prometheus naming rules). Default `true`.
   */
  defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ service: 'api' }`). Default none. */
  defaultLabels?: Record<string, string>;
  /** Request duration buckets, in seconds. Default the OTel-advised {@link HTTP_DURATION_BUCKETS_SECONDS}. */
  buckets?: readonly number[];
  /** Distinct route label values kept; later new ones count as `__overflow__`. Default `1000`. */
  maxRoutes?: number;
  /** Reads the route template of a finished request. Default {@link expressRouteTemplate}. */
  routeOf?: (req: IncomingMessage, statusCode: number) => string | undefined;
  /** Paths neither measured nor traced (probes and scrapes). Default `['/metrics', '/health/live', '/health/ready']`. */
  ignorePaths?: readonly string[];
  /** Rolling window of throughput, error rate and p95, in ms. Default `60000`. */
  windowMs?: number;
  /** Alerts on the rolling window. Default {@link DEFAULT_PERFORMANCE_ALERTS}; `[]` for none. */
  alerts?: readonly AlertRule<PerformanceMetricName>[];
  /** Time between two alert evaluations, in ms. Default `5000`. */
  evaluateIntervalMs?: number;
  /** Default the system clock. */
  clock?: Clock;
  /** Default silent. */
  logger?: Logger;
  /** Environment read for configuration. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Default performance alerts: p95 latency above 1 s for 60 s, error rate above 5% for 60 s. */
export const DEFAULT_PERFORMANCE_ALERTS: readonly AlertRule<PerformanceMetricName>[] = Object.freeze([
  { metric: 'p95LatencyMs', threshold: 1000, forMs: 60_000 },
  { metric: 'errorRate', threshold: 0.05, forMs: 60_000 },
]);

const METHOD_INDEX = new Map(['_OTHER', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'].map((method, index) => [method, index]));

/** One label set: its histogram series, and request/error counts reported to the counters at scrape time. */
interface Series {
  readonly labels: Readonly<Record<'method' | 'route' | 'status_code', string>>;
  readonly histogram: HistogramSeries;
  requests: number;
  errors: number;
  reportedRequests: number;
  reportedErrors: number;
}

/**
 * HTTP performance monitoring for a service in one object: an Express/Connect middleware
 * (correlation id, SERVER span, RED metrics per route template), a Prometheus registry with
 * system and default Node metrics, rolling-window throughput / error rate / p95 with alerts,
 * `/metrics`, `/health/live` and `/health/ready`, and graceful shutdown.
 *
 * Metrics: `http_server_request_duration_seconds` (histogram), `http_server_requests_total`,
 * `http_server_errors_total` (5xx and aborted), `http_server_active_requests`, and the window
 * gauges `http_server_throughput_requests_per_second`, `http_server_error_ratio`,
 * `http_server_request_duration_p95_seconds`; labels `method`, `route`, `status_code`. Unknown
 * routes share the `route="__unmatched__"` label value, so cardinality stays bounded.
 *
 * @example
 * ```ts
 * const monitor = new PerformanceMonitor('orders-api', { enableTracing: true });
 * app.use(monitor.middleware());
 * app.get('/metrics', monitor.metricsHandler());
 * app.use(monitor.healthHandler());
 * monitor.registerHealthCheck('redis', () => redis.ping(), { timeoutMs: 500 });
 * ```
 */
export class PerformanceMonitor extends EventEmitter<PerformanceMonitorEvents> {
  /** The service name (also the tracer's). */
  readonly serviceName: string;
  /** The Prometheus registry; other blocks register their metrics here. */
  readonly registry: Registry;
  /** The tracer, when tracing is on. */
  readonly tracer: DistributedTracer | undefined;
  /** The system sampler, when system metrics are on. */
  readonly systemMetrics: SystemMetrics | undefined;
  /** Liveness/readiness state and dependency checks. */
  readonly health: HealthChecks;

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly logAlerts: boolean;
  private readonly ownsTracer: boolean;
  private readonly window: RollingWindow;
  private readonly alerts: AlertEvaluator<PerformanceMetricName>;
  private readonly evaluateIntervalMs: number;
  private readonly maxRoutes: number;
  private readonly routes = new Set<string>();
  /** Label children by route, then by `status * 16 + method index`: no string building per request. */
  private readonly series = new Map<string, Map<number, Series>>();
  private readonly allSeries: Series[] = [];
  private readonly histogram: RequestDurationHistogram<'method' | 'route' | 'status_code'>;
  /** The middleware's core; it also knows the requests in flight, so shutting down can ask each to close its connection. */
  private readonly instrumentation: RequestInstrumentation;
  private timer: TimerHandle | undefined;
  private overflowWarned = false;
  private stopped = false;

  /** @throws ValidationError naming the option or variable that is malformed. */
  constructor(serviceName: string, options: PerformanceMonitorOptions = {}) {
    super();
    if (typeof serviceName !== 'string' || serviceName.trim() === '') throw new ValidationError('serviceName', 'must be a non-empty string');
    const source = options.env ?? process.env;
    this.serviceName = serviceName;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? createSilentLogger();
    this.logAlerts = configValue('ENABLE_PERFORMANCE_ALERTS', options.logAlerts, source);
    this.maxRoutes = options.maxRoutes ?? 1000;
    if (!Number.isInteger(this.maxRoutes) || this.maxRoutes < 1) throw new ValidationError('maxRoutes', 'must be a positive integer');
    this.evaluateIntervalMs = options.evaluateIntervalMs ?? 5000;
    if (!Number.isFinite(this.evaluateIntervalMs) || this.evaluateIntervalMs < 10) throw new ValidationError('evaluateIntervalMs', 'must be a number of ms, at least 10');
    const buckets = options.buckets ?? HTTP_DURATION_BUCKETS_SECONDS;
    this.window = new RollingWindow({ windowMs: options.windowMs ?? 60_000, bucketsSeconds: buckets });
    this.alerts = new AlertEvaluator(options.alerts ?? DEFAULT_PERFORMANCE_ALERTS);
    this.health = new HealthChecks({ clock: this.clock });

    this.registry = options.registry ?? new Registry();
    if (options.defaultLabels !== undefined) this.registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters fail `promtool check metrics`; the same totals are the sums of
      // nodejs_active_{handles,requests,resources} by type.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(name);
      }
    }
    const labelNames = ['method', 'route', 'status_code'] as const;
    this.histogram = new RequestDurationHistogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP server requests, by method, route template and status',
      labelNames,
      buckets: [...buckets],
      registers: [this.registry],
    });
    const self = (): PerformanceMonitor => this;
    // Counted in plain numbers per request and handed to prom-client at scrape time: a request
    // then costs one prom-client call (the histogram), not three.
    new Counter({
      name: 'http_server_requests_total',
      help: 'HTTP server requests completed',
      labelNames,
      registers: [this.registry],
      collect() {
        for (const series of self().allSeries) {
          if (series.requests === series.reportedRequests) continue;
          this.inc(series.labels, series.requests - series.reportedRequests);
          series.reportedRequests = series.requests;
        }
      },
    });
    new Counter({
      name: 'http_server_errors_total',
      help: 'HTTP server requests that failed (5xx or aborted)',
      labelNames,
      registers: [this.registry],
      collect() {
        for (const series of self().allSeries) {
          if (series.errors === series.reportedErrors) continue;
          this.inc(series.labels, series.errors - series.reportedErrors);
          series.reportedErrors = series.errors;
        }
      },
    });
    new Gauge({
      name: 'http_server_active_requests',
      help: 'HTTP server requests in flight',
      registers: [this.registry],
      collect() {
        this.set(self().instrumentation.inFlight);
      },
    });
    const windowGauge = (name: string, help: string, read: (stats: RollingWindowStats) => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(self().stats()));
        },
      });
    };
    windowGauge('http_server_throughput_requests_per_second', 'Requests per second over the rolling window', (s) => s.throughputPerSecond);
    windowGauge('http_server_error_ratio', 'Share of failed requests over the rolling window', (s) => s.errorRate);
    windowGauge('http_server_request_duration_p95_seconds', 'Estimated p95 request duration over the rolling window', (s) => s.p95LatencyMs / 1000);

    const enableTracing = options.tracer !== undefined || configValue('ENABLE_TRACING', options.enableTracing, source);
    this.ownsTracer = options.tracer === undefined && enableTracing;
    this.tracer = options.tracer ?? (enableTracing ? new DistributedTracer(serviceName, { logger: this.log, env: source, ...options.tracing }) : undefined);

    if (configValue('ENABLE_SYSTEM_METRICS', options.enableSystemMetrics, source)) {
      const system = new SystemMetrics({ ...options.systemMetrics, registry: this.registry, clock: this.clock, logger: this.log, env: source, logAlerts: this.logAlerts });
      system.on('alert', (event) => {
        emitSafely(this, this.log, 'alert', event);
      });
      system.on('alert:resolved', (event) => {
        emitSafely(this, this.log, 'alert:resolved', event);
      });
      this.systemMetrics = system.start();
    }

    this.instrumentation = new RequestInstrumentation({
      tracer: this.tracer,
      routeOf: options.routeOf ?? expressRouteTemplate,
      ignorePaths: options.ignorePaths ?? ['/metrics', '/health/live', '/health/ready'],
      // While draining, each response closes its connection so clients reconnect elsewhere.
      closeConnections: () => this.health.isShuttingDown,
      onRequestEnd: (end) => {
        this.observe(normalizeMethod(end.req.method), end.route, end.statusCode, end.durationSeconds, end.aborted);
      },
    });
    if ((options.alerts ?? DEFAULT_PERFORMANCE_ALERTS).length > 0) this.scheduleEvaluation();
  }

  /**
   * The Express/Connect middleware: correlation id (AsyncLocalStorage, echoed as
   * `x-correlation-id`), a SERVER span named by route template when tracing is on, and the
   * request metrics. Mount it before the routes.
   *
   * @example
   * ```ts
   * app.use(performanceMonitor.middleware());
   * ```
   */
  middleware(): NodeMiddleware {
    return this.instrumentation.handle;
  }

  /**
   * Records one completed request measured elsewhere (another HTTP framework, a gRPC server).
   *
   * @example
   * ```ts
   * fastify.addHook('onResponse', (req, reply, done) => {
   *   monitor.record({ method: req.method, route: req.routeOptions.url, statusCode: reply.statusCode, durationSeconds: reply.elapsedTime / 1000 });
   *   done();
   * });
   * ```
   */
  record(sample: RequestSample): void {
    this.observe(normalizeMethod(sample.method), sample.route, sample.statusCode, sample.durationSeconds, sample.aborted ?? false);
  }

  private observe(method: string, template: string | undefined, statusCode: number, durationSeconds: number, aborted: boolean): void {
    const route = this.routeLabel(template);
    const status = statusCode >= 100 && statusCode <= 599 ? statusCode : 0;
    const isError = aborted || status >= 500;
    const duration = Number.isFinite(durationSeconds) && durationSeconds >= 0 ? durationSeconds : 0;
    let byRoute = this.series.get(route);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.series.set(route, byRoute);
    }
    const key = status * 16 + (METHOD_INDEX.get(method) ?? 0);
    let series = byRoute.get(key);
    if (series === undefined) {
      const labels = { method, route, status_code: String(status) };
      series = { labels, histogram: this.histogram.series(labels), requests: 0, errors: 0, reportedRequests: 0, reportedErrors: 0 };
      byRoute.set(key, series);
      this.allSeries.push(series);
    }
    series.histogram.observe(duration);
    series.requests++;
    if (isError) series.errors++;
    this.window.record(this.clock.now(), duration, isError);
  }

  /**
   * Rolling-window statistics now: throughput, error rate, p95/p99 latency, and requests in flight.
   *
   * @example
   * ```ts
   * const { throughputPerSecond, errorRate, p95LatencyMs } = monitor.stats();
   * ```
   */
  stats(): PerformanceStats {
    return { ...this.window.stats(this.clock.now()), inFlight: this.instrumentation.inFlight };
  }

  /**
   * Evaluates the performance alerts now (the monitor also does it every `evaluateIntervalMs`),
   * emitting `alert` / `alert:resolved`.
   *
   * @example
   * ```ts
   * monitor.evaluateAlerts();
   * ```
   */
  evaluateAlerts(): void {
    emitAlerts(this, this.log, this.logAlerts, this.alerts.evaluate(this.stats(), this.clock.now()));
  }

  /** Names of the performance and system alerts currently firing. */
  get firingAlerts(): string[] {
    return [...this.alerts.firing, ...(this.systemMetrics?.firingAlerts ?? [])];
  }

  /**
   * A handler serving the registry: Prometheus text format, or OpenMetrics 1.0 when the
   * scraper's `Accept` asks for `application/openmetrics-text`.
   *
   * @example
   * ```ts
   * app.get('/metrics', monitor.metricsHandler());
   * ```
   */
  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const openMetrics = (req.headers.accept ?? '').includes('application/openmetrics-text');
      this.registry.metrics().then(
        (text) => {
          const body = openMetrics ? toOpenMetrics(text) : text;
          res.statusCode = 200;
          res.setHeader('content-type', openMetrics ? OPENMETRICS_CONTENT_TYPE : this.registry.contentType);
          res.setHeader('cache-control', 'no-store');
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (error: unknown) => {
          this.log.error({ err: error }, 'collecting metrics failed');
          res.statusCode = 500;
          res.end('collecting metrics failed\n');
        },
      );
    };
  }

  /**
   * A middleware answering `/health/live` and `/health/ready` (see {@link HealthChecks.handler}).
   *
   * @example
   * ```ts
   * app.use(monitor.healthHandler());
   * ```
   */
  healthHandler(options: HealthHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
    return this.health.handler(options);
  }

  /**
   * Adds a readiness check (Redis, queue, SMTP…), run with its timeout on every readiness probe.
   *
   * @example
   * ```ts
   * monitor.registerHealthCheck('redis', async () => (await redis.ping()) === 'PONG', { timeoutMs: 500 });
   * ```
   */
  registerHealthCheck(name: string, fn: HealthCheckFn, options: HealthCheckOptions = {}): void {
    this.health.register(name, fn, options);
  }

  /**
   * Runs the readiness checks now.
   *
   * @example
   * ```ts
   * const { status, checks } = await monitor.checkHealth();
   * ```
   */
  checkHealth(): Promise<ReadinessReport> {
    return this.health.check();
  }

  /**
   * Sets whether the service is ready (readiness 503 while `false`).
   *
   * @example
   * ```ts
   * monitor.setReady(false); await warmUp(); monitor.setReady(true);
   * ```
   */
  setReady(ready: boolean): void {
    this.health.setReady(ready);
  }

  /** Turns readiness to 503 for good and makes responses (in flight and later) close their connections. */
  markShuttingDown(): void {
    this.health.markShuttingDown();
    this.instrumentation.forEachInFlight((res) => {
      if (!res.headersSent) res.setHeader('connection', 'close');
    });
  }

  /**
   * A logger adding `correlation_id`, `trace_id` and `span_id` to every line.
   *
   * @example
   * ```ts
   * const log = monitor.logger(pino());
   * ```
   */
  logger(base: Logger): Logger {
    return createCorrelatedLogger(base);
  }

  /**
   * Graceful shutdown of `server` with this monitor: readiness 503, stop accepting, drain
   * in-flight requests, flush spans (see {@link createGracefulShutdown}).
   *
   * @example
   * ```ts
   * monitor.gracefulShutdown(app.listen(3000), { signals: ['SIGTERM'], readinessDelayMs: 5000 });
   * ```
   */
  gracefulShutdown(server: Server, options: Omit<GracefulShutdownOptions, 'monitor'> = {}): GracefulShutdown {
    return createGracefulShutdown(server, { clock: this.clock, logger: this.log, ...options, monitor: this });
  }

  /**
   * Stops the timers and the system sampler, and flushes and shuts down the tracer it made.
   * Idempotent. Metrics stay readable.
   *
   * @example
   * ```ts
   * await monitor.shutdown();
   * ```
   */
  readonly shutdown = once(async (): Promise<void> => {
    this.stopped = true;
    this.markShuttingDown();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.systemMetrics?.close();
    if (this.tracer !== undefined) {
      if (this.ownsTracer) await this.tracer.shutdown();
      else await this.tracer.forceFlush();
    }
  });

  private routeLabel(route: string | undefined): string {
    if (route === undefined) return UNMATCHED_ROUTE;
    if (this.routes.has(route)) return route;
    if (this.routes.size >= this.maxRoutes) {
      if (!this.overflowWarned) {
        this.overflowWarned = true;
        this.log.warn({ maxRoutes: this.maxRoutes, route }, `more than ${this.maxRoutes} distinct routes: new ones are counted as ${OVERFLOW_ROUTE}`);
      }
      return OVERFLOW_ROUTE;
    }
    this.routes.add(route);
    return route;
  }

  private scheduleEvaluation(): void {
    this.timer = this.clock.setTimeout(() => {
      try {
        this.evaluateAlerts();
      } catch (error) {
        this.log.error({ err: error }, 'evaluating performance alerts failed');
      }
      if (!this.stopped) this.scheduleEvaluation();
    }, this.evaluateIntervalMs);
  }
}
