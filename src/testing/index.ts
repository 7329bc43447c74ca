/**
 * Test helpers for users' own tests: a controllable clock and the in-memory drivers, which pass
 * the same conformance suites as their Redis counterparts.
 *
 * @example
 * ```ts
 * import { FakeClock, createInMemoryMessageQueue, MemoryRateLimiter } from '@ux-flow/common/testing';
 * const clock = new FakeClock();
 * const limiter = new MemoryRateLimiter({ rules: { limit: 3, windowMs: 1000 }, clock });
 * const queue = createInMemoryMessageQueue({ name: 'test' });
 * ```
 *
 * @module
 */
export { FakeClock } from './fake-clock.js';
export { MemoryRateLimiter } from '../core/rate-limiter.js';
export type { MemoryRateLimiterOptions } from '../core/rate-limiter.js';
export { createInMemoryMessageQueue } from '../queue/create-in-memory-message-queue.js';
export { MemoryQueueBackend } from '../queue/memory-queue-backend.js';
export { MemoryPromptStore } from '../ai/memory-prompt-store.js';
export { MemoryEmailStore } from '../communication/memory-email-store.js';
export type { MemoryEmailStoreOptions } from '../communication/memory-email-store.js';
export { LocalAdapter } from '../ai/llm/local-adapter.js';
