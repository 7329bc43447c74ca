/**
 * Test helpers for users' own tests: a controllable clock and the in-memory drivers.
 *
 * @example
 * ```ts
 * import { FakeClock, MemoryRateLimiter } from '@ux-flow/common/testing';
 * const clock = new FakeClock();
 * const limiter = new MemoryRateLimiter({ rules: { limit: 3, windowMs: 1000 }, clock });
 * ```
 *
 * @module
 */
export { FakeClock } from './fake-clock.js';
export { MemoryRateLimiter } from '../core/rate-limiter.js';
export type { MemoryRateLimiterOptions } from '../core/rate-limiter.js';
