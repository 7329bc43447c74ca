/**
 * Monitoring: distributed tracing (OpenTelemetry), Prometheus metrics, system metrics with
 * alerts, health endpoints, correlation ids and graceful shutdown.
 *
 * @example
 * ```ts
 * import { initializePerformanceMonitor } from '@ux-flow/common/monitoring';
 *
 * const performanceMonitor = initializePerformanceMonitor('orders-api', { enableTracing: true });
 * app.use(performanceMonitor.middleware());
 * app.get('/metrics', performanceMonitor.metricsHandler());
 * app.use(performanceMonitor.healthHandler());
 * performanceMonitor.gracefulShutdown(app.listen(3000), { signals: ['SIGTERM'] });
 * ```
 *
 * @module
 */
export { AlertEvaluator } from './alert-evaluator.js';
export { BlockMetrics, QUEUE_DURATION_BUCKETS_SECONDS } from './block-metrics.js';
export type { JobFinishedSample, PromptMetricsHook, PromptSample, QueueMetricsHook, QueueStateCounts, QueueStatsSource } from './block-metrics.js';
export type { AlertEvent, AlertRule, AlertTransition } from './alert-evaluator.js';
export { createCorrelatedLogger, currentLogFields } from './correlated-logger.js';
export { CORRELATION_HEADERS, getCorrelationId, newCorrelationId, resolveCorrelationId, runWithCorrelationId } from './correlation-id.js';
export type { CorrelationStore } from './correlation-id.js';
export { DistributedTracer } from './distributed-tracer.js';
export type { DistributedTracerOptions, MessagingTelemetry, TraceExporterKind, TracePropagatorName } from './distributed-tracer.js';
export { createGracefulShutdown } from './graceful-shutdown.js';
export type { GracefulShutdown, GracefulShutdownOptions, ShutdownTarget } from './graceful-shutdown.js';
export { HealthChecks } from './health-checks.js';
export type { HealthCheckFn, HealthCheckOptions, HealthCheckResult, HealthHandlerOptions, ReadinessReport, ReadinessStatus } from './health-checks.js';
export { expressRouteTemplate, normalizeMethod, OTHER_METHOD, pathOf, UNMATCHED_ROUTE } from './http-route.js';
export { initializePerformanceMonitor } from './initialize-performance-monitor.js';
export { OPENMETRICS_CONTENT_TYPE, toOpenMetrics } from './open-metrics.js';
export { DEFAULT_PERFORMANCE_ALERTS, OVERFLOW_ROUTE, PerformanceMonitor } from './performance-monitor.js';
export type { PerformanceMetricName, PerformanceMonitorEvents, PerformanceMonitorOptions, PerformanceStats, RequestSample } from './performance-monitor.js';
export { createRequestInstrumentation } from './request-instrumentation.js';
export type { NodeMiddleware, RequestEnd, RequestInstrumentationOptions, ServerSpan } from './request-instrumentation.js';
export { HTTP_DURATION_BUCKETS_SECONDS, RollingWindow } from './rolling-window.js';
export type { RollingWindowOptions, RollingWindowStats } from './rolling-window.js';
export { DEFAULT_SYSTEM_ALERTS, SystemMetrics } from './system-metrics.js';
export type { GcKind, SystemMetricName, SystemMetricsEvents, SystemMetricsOptions, SystemSnapshot } from './system-metrics.js';
