import type { EmailAddress, OutgoingEmail, ProviderSendResult } from '../types.js';

/**
 * A way to deliver mail. Built-ins: SMTP (nodemailer, pooled), SendGrid, SES (SESv2), Mailgun
 * and the development provider. Implement it to plug in another one: throw an
 * `EmailProviderError` whose `failure` says whether failover to the next provider makes sense.
 *
 * @example
 * ```ts
 * const custom: EmailProvider = {
 *   name: 'postmark',
 *   async send(message) { ...; return { provider: 'postmark', providerMessageId: id, accepted: [...], rejected: [] }; },
 * };
 * ```
 */
export interface EmailProvider {
  /** Names the provider in errors, logs and metrics. */
  readonly name: string;
  /** Delivers one message (content already rendered and validated). */
  send(message: OutgoingEmail): Promise<ProviderSendResult>;
  /** Releases connections. Idempotent. */
  close?(): Promise<void>;
  /** Most recipients one `sendBatch` call accepts (SendGrid: 1,000 personalizations). */
  readonly maxBatchSize?: number;
  /**
   * Sends the same content to many recipients in one request, each as an individual message
   * (recipients never see each other) with its own message id and headers. Optional.
   */
  sendBatch?(batch: EmailBatch): Promise<ProviderSendResult>;
}

/** Identical content for many recipients: what {@link EmailProvider.sendBatch} receives. */
export interface EmailBatch {
  /** The shared message; its `to`, `cc`, `bcc` and `messageId` are ignored. */
  content: OutgoingEmail;
  /** One entry per recipient. */
  recipients: readonly { messageId: string; to: EmailAddress; headers: Readonly<Record<string, string>> }[];
}
