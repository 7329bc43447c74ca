import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EnhancedEmailService, initializeEnhancedEmailService, SmtpProvider } from '../../../src/communication/index.js';
import { createInMemoryMessageQueue, type MessageQueue } from '../../../src/queue/index.js';
import { startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-queue');
let peer: SmtpPeer;
let queue: MessageQueue;
let email: EnhancedEmailService;
const finished: { type: string; status: string; attempt: number; result?: unknown }[] = [];

beforeAll(async () => {
  peer = await startSmtpPeer();
  queue = createInMemoryMessageQueue();
  // The service is built exactly as services do: initializeEnhancedEmailService(config, logger, messageQueue).
  email = initializeEnhancedEmailService(
    {
      providers: [new SmtpProvider({ host: '127.0.0.1', port: peer.port, ignoreTLS: true })],
      defaultFrom: 'Flow <hello@flow.example>',
      redis,
      prefix,
      templateDefaults: { productName: 'Flow' },
      rateLimits: { perRecipientDomain: [{ limit: 1, windowMs: 1500 }], perSender: false },
    },
    undefined,
    queue,
  );
  queue.registerProcessor('email_send', async (jobData) => email.processSendEmail(jobData));
  queue.on('completed', (event) => finished.push({ type: event.type, status: 'completed', attempt: event.attempt, result: event.result }));
  queue.on('dead', (event) => finished.push({ type: event.type, status: 'dead', attempt: event.attempt }));
});

afterAll(async () => {
  await queue.close();
  await email.close();
  await peer.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('email through the real MessageQueue', () => {
  it('delivers queued messages, and delays the one over the domain cap instead of failing it', async () => {
    await email.queueEmail({ to: 'one@limited.example', template: 'welcome', data: { name: 'One', actionUrl: 'https://app.flow.example' } });
    await email.queueEmail({ to: 'two@limited.example', template: 'welcome', data: { name: 'Two', actionUrl: 'https://app.flow.example' } });
    await peer.waitFor(2);
    const subjects = peer.received.map((m) => m.parsed.subject).sort();
    expect(subjects).toEqual(['Welcome to Flow, One', 'Welcome to Flow, Two']);
    const statuses = finished.map((f) => (f.result as { status?: string } | undefined)?.status ?? f.status);
    expect(statuses).toContain('deferred');
    expect(finished.filter((f) => f.status === 'dead')).toHaveLength(0);
  });

  it('fails a job with an unrecoverable template error without retrying it', async () => {
    await email.queueEmail({ to: 'broken@flow.example', template: 'welcome', data: { actionUrl: 'https://app.flow.example' } });
    await expect.poll(() => finished.filter((f) => f.status === 'dead').length, { timeout: 10_000 }).toBe(1);
    expect(finished.find((f) => f.status === 'dead')!.attempt).toBe(1);
  });
});
