/**
 * `@ux-flow/common`: infrastructure building blocks for Node.js services. The root entry
 * re-exports the main classes and the `initialize*`/`get*` functions of every block; each block
 * is also available on its own subpath (`@ux-flow/common/core`, `/auth`, `/monitoring`, …).
 *
 * @example
 * ```ts
 * import { createConsoleLogger, retry } from '@ux-flow/common';
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
