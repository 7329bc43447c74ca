/**
 * Shared primitives every block is built on: errors, logger, configuration, backoff and retry,
 * circuit breaker, clock, Redis connection and scripts, rate limiting, and lifecycle helpers.
 *
 * @example
 * ```ts
 * import { retry, CircuitBreaker, RedisRateLimiter, createRedisConnection } from '@ux-flow/common/core';
 * ```
 *
 * @module
 */
export { UxFlowError } from './uxflow-error.js';
export type { UxFlowErrorCode, UxFlowErrorOptions } from './uxflow-error.js';
export { ValidationError } from './validation-error.js';
export { MissingDependencyError } from './missing-dependency-error.js';
export { AbortError } from './abort-error.js';
export { TimeoutError } from './timeout-error.js';
export { RetryError } from './retry-error.js';
export { CircuitOpenError } from './circuit-open-error.js';
export { RateLimitError } from './rate-limit-error.js';

export { createConsoleLogger, createSilentLogger, LOG_LEVELS } from './logger.js';
export type { ConsoleLoggerOptions, LogFn, Logger, LogLevel } from './logger.js';

export { configValue, env, loadConfig, readEnv, UX_FLOW_ENV } from './config.js';
export type { ConfigSource, EnvVarSpec, NumericOptions, UxFlowConfig, UxFlowEnvName } from './config.js';

export { applyJitter, createBackoff, DEFAULT_MAX_DELAY_MS, validateBackoff } from './backoff.js';
export type { BackoffOptions, BackoffStrategy, ExponentialBackoff, FixedBackoff, Jitter } from './backoff.js';
export { retry } from './retry.js';
export type { AttemptContext, RetryOptions } from './retry.js';

export { CircuitBreaker } from './circuit-breaker.js';
export type {
  CircuitBreakerOptions,
  CircuitCallInfo,
  CircuitPermit,
  CircuitSnapshot,
  CircuitState,
  CircuitStateChange,
  CircuitStateListener,
} from './circuit-breaker.js';

export { sleep, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';

export { closeRedisConnection, createRedisConnection, isRedisClient } from './redis-connection.js';
export { isRedisDown, RedisUnavailableError } from './redis-unavailable-error.js';
export type { RedisClient, RedisConnection, RedisConnectionInput, RedisConnectionOptions } from './redis-connection.js';
export { Keyspace } from './keyspace.js';
export { defineScript, runPipeline } from './define-script.js';
export type { RedisScript, ScriptArg, ScriptCall } from './define-script.js';

export { MemoryRateLimiter, RedisRateLimiter } from './rate-limiter.js';
export type {
  MemoryRateLimiterOptions,
  RateLimiter,
  RateLimiterOptions,
  RateLimitResult,
  RateLimitRule,
  RedisRateLimiterOptions,
} from './rate-limiter.js';

export { isInstalled, loadOptional } from './load-optional.js';
export { once } from './once.js';
