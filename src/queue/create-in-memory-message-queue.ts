import { MemoryQueueBackend } from './memory-queue-backend.js';
import { MessageQueue, type MessageQueueOptions } from './message-queue.js';

/**
 * A {@link MessageQueue} on the in-memory driver: the same API and semantics without Redis, for
 * development and unit tests. Pass `backend` to share one store between several queues (to model
 * several processes).
 *
 * @example
 * ```ts
 * const queue = createInMemoryMessageQueue({ name: 'emails' });
 * queue.registerProcessor('email_send', async (data) => sent.push(data));
 * await queue.add('email_send', { to: 'a@example.com' });
 * ```
 */
export function createInMemoryMessageQueue(options: Omit<MessageQueueOptions, 'redis'> = {}): MessageQueue {
  const backend = options.backend ?? new MemoryQueueBackend(options.clock === undefined ? {} : { clock: options.clock });
  return new MessageQueue({ ...options, backend });
}
