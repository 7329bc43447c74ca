import { createInMemoryMessageQueue, MemoryQueueBackend, type MessageQueue } from '../../../src/queue/index.js';
import { describeQueueConformance } from '../../helpers/queue-conformance.js';

describeQueueConformance('in-memory driver', () => {
  const backend = new MemoryQueueBackend();
  const queues: MessageQueue[] = [];
  return {
    create: (options) => {
      const queue = createInMemoryMessageQueue({ ...options, name: 'conformance', backend });
      queues.push(queue);
      return queue;
    },
    backend: () => backend,
    teardown: async () => {
      await Promise.all(queues.map((queue) => queue.close({ timeoutMs: 100 })));
    },
  };
});
