import { PerformanceMonitor, type PerformanceMonitorOptions } from './performance-monitor.js';

/**
 * Creates the performance monitor of a service in one call: request metrics and `/metrics`,
 * health endpoints, system metrics (unless `enableSystemMetrics: false` or
 * `ENABLE_SYSTEM_METRICS=false`) and tracing (when `enableTracing: true` or `ENABLE_TRACING=true`).
 * Timers are `unref()`'d; call `shutdown()` (or use `gracefulShutdown(server)`) on exit.
 *
 * @example
 * ```ts
 * import { initializePerformanceMonitor } from '@ux-flow/common';
 *
 * const performanceMonitor = initializePerformanceMonitor('service-name', {
 *   enableTracing: true, enableSystemMetrics: true,
 * });
 * app.use(performanceMonitor.middleware());
 * app.get('/metrics', performanceMonitor.metricsHandler());
 * app.use(performanceMonitor.healthHandler());
 * ```
 */
export function initializePerformanceMonitor(serviceName: string, options: PerformanceMonitorOptions = {}): PerformanceMonitor {
  return new PerformanceMonitor(serviceName, options);
}
