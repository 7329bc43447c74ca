/**
 * The queue block: {@link MessageQueue} on Redis (one Lua script per transition, all keys under
 * one hash tag), an in-memory driver with the same semantics, and `initializeMessageQueue` for
 * the one-line setup services already use.
 *
 * @example
 * ```ts
 * import { initializeMessageQueue } from '@ux-flow/common/queue';
 * const queue = initializeMessageQueue(redis, logger, { name: 'emails' });
 * queue.registerProcessor('email_send', async (data) => send(data));
 * await queue.add('email_send', { to: 'a@example.com' });
 * ```
 *
 * @module
 */
export { MessageQueue } from './message-queue.js';
export type {
  JobCounts,
  JobFinishedInfo,
  MessageQueueOptions,
  MessagingTelemetry,
  Processor,
  ProcessorOptions,
  QueueMetrics,
  QueueStats,
  ThroughputWindow,
} from './message-queue.js';
export { initializeMessageQueue } from './initialize-message-queue.js';
export { GlobalQueueEvents } from './global-queue-events.js';
export type { GlobalJobEvent, GlobalQueueEventMap, GlobalQueueEventsOptions, GlobalQueueListener } from './global-queue-events.js';
export type { RepeatOptions, RepeatSpec, ScheduleInfo, ScheduleTemplate } from './repeat-options.js';
export { createInMemoryMessageQueue } from './create-in-memory-message-queue.js';
export { MemoryQueueBackend } from './memory-queue-backend.js';
export { RedisQueueBackend } from './redis-queue-backend.js';
export type {
  Ack,
  FetchedJob,
  FetchRequest,
  FetchResult,
  JobState,
  NewJob,
  NewSchedule,
  QueueBackend,
  RateLimit,
  RawStats,
  StalledResult,
  StoredJob,
  StoredJobOptions,
  StoredSchedule,
} from './queue-backend.js';
export { scheduledJobId } from './queue-backend.js';
export type { Job, JobErrorInfo, JobInfo } from './job.js';
export { MAX_PRIORITY, PRIORITIES } from './job-options.js';
export type { JobOptions, KeepJobs } from './job-options.js';
export type { JobEvent, QueueEventMap, QueueListener } from './queue-events.js';
export { QueueError } from './queue-error.js';
export { UnrecoverableError } from './unrecoverable-error.js';
