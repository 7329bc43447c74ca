/**
 * `@ux-flow/common`: infrastructure building blocks for Node.js services. The root entry
 * re-exports the main classes and the `initialize*`/`get*` functions of every block; each block
 * is also available on its own subpath (`@ux-flow/common/core`, `/auth`, `/monitoring`,
 * `/queue`, `/communication`, `/ai`, `/testing`) with its full API.
 *
 * @example
 * ```ts
 * import {
 *   initializePerformanceMonitor, initializeMessageQueue, initializeEnhancedEmailService,
 *   initializePromptOptimizer, getDefaultAuthMiddleware,
 * } from '@ux-flow/common';
 *
 * const performanceMonitor = initializePerformanceMonitor('flow-api', { enableTracing: true, enableSystemMetrics: true });
 * app.use(performanceMonitor.middleware());
 * const messageQueue = initializeMessageQueue(redisClient, logger);
 * const auth = getDefaultAuthMiddleware({ userService });
 * app.use('/api/admin', auth.requireRole('admin'));
 * ```
 *
 * @module
 */
export {
  AbortError,
  CircuitBreaker,
  CircuitOpenError,
  createConsoleLogger,
  createRedisConnection,
  createSilentLogger,
  loadConfig,
  MissingDependencyError,
  RateLimitError,
  RedisRateLimiter,
  retry,
  RetryError,
  TimeoutError,
  UxFlowError,
  ValidationError,
} from './core/index.js';
export type { Clock, Logger, RedisClient, UxFlowConfig, UxFlowErrorCode } from './core/index.js';

export { AuthError, getDefaultAuthMiddleware, UnifiedAuthMiddleware } from './auth/index.js';
export type { AuthContext, UnifiedAuthMiddlewareOptions, UserService } from './auth/index.js';

export { DistributedTracer, initializePerformanceMonitor, PerformanceMonitor, SystemMetrics } from './monitoring/index.js';

export { initializeMessageQueue, MessageQueue, QueueError, UnrecoverableError } from './queue/index.js';
export type { MessageQueueOptions, Processor } from './queue/index.js';

export { EnhancedEmailService, initializeEnhancedEmailService } from './communication/index.js';
export type { EnhancedEmailServiceOptions } from './communication/index.js';

export { initializePromptOptimizer, PromptOptimizer } from './ai/index.js';
export type { PromptOptimizerOptions } from './ai/index.js';
