import type { Logger } from '../core/logger.js';
import type { RedisConnectionInput } from '../core/redis-connection.js';
import { MessageQueue, type MessageQueueOptions } from './message-queue.js';

/**
 * Creates the {@link MessageQueue} services already wire up with one line: their ioredis client
 * (left open at close) and their logger. Concurrency and attempts default to `QUEUE_CONCURRENCY`
 * and `MAX_RETRY_ATTEMPTS`.
 *
 * @example
 * ```ts
 * const messageQueue = initializeMessageQueue(redisClient, logger);
 * messageQueue.registerProcessor('email_send', async (jobData) => emailService.processSendEmail(jobData));
 * ```
 */
export function initializeMessageQueue(
  redisClient: RedisConnectionInput,
  logger?: Logger,
  options: Omit<MessageQueueOptions, 'redis' | 'logger'> = {},
): MessageQueue {
  return new MessageQueue({ ...options, redis: redisClient, ...(logger === undefined ? {} : { logger }) });
}
