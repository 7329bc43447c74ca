import type { RedisClient } from '../core/redis-connection.js';
import type { SendEmailInput } from './types.js';

/**
 * The part of a job queue the email service needs: `add(type, data, options)` returning the job
 * id. `MessageQueue` from `@ux-flow/common/queue` fits it, and so does a thin adapter over BullMQ.
 *
 * @example
 * ```ts
 * const queue: EmailJobQueue = { add: async (type, data, opts) => (await bull.add(type, data, { jobId: opts?.jobId })).id! };
 * ```
 */
export interface EmailJobQueue {
  /** Enqueues a job and returns its id (a duplicate `jobId` returns the existing id). */
  add(type: string, data: unknown, options?: { jobId?: string; delayMs?: number; attempts?: number }): Promise<string>;
  /**
   * The ioredis client the queue keeps its jobs on, when it has one. The email service then
   * keeps its state on the same Redis (unless given `store` or `redis`), so every worker shares
   * idempotency keys, suppressions and caps. Default none.
   */
  readonly redis?: RedisClient | undefined;
}

/** The payload of an `email_send` job, as written by `queueEmail` and read by `processSendEmail`. */
export interface EmailSendJobData {
  /** Payload version. */
  v: 1;
  /** The message, with byte attachments as base64 strings. */
  message: SendEmailInput & { idempotencyKey: string };
  /** How many times the job was re-enqueued because of a rate limit. Default 0. */
  deferrals?: number;
}

/** The job type the email service enqueues. */
export const EMAIL_SEND_JOB = 'email_send';
