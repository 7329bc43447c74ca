import type { EmailProviderError } from '../email-provider-error.js';
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
  /** Most recipients one `sendBatch` call accepts (SendGrid and Mailgun: 1,000; SES: 50). */
  readonly maxBatchSize?: number;
  /**
   * Sends the same content to many recipients in one request, each as an individual message
   * (recipients never see each other) with its own message id and headers. Optional.
   * Throws an `EmailProviderError` when the whole request failed; a per-recipient refusal is
   * reported in the result instead.
   */
  sendBatch?(batch: EmailBatch): Promise<EmailBatchResult>;
}

/**
 * One recipient of an {@link EmailBatch}.
 *
 * @example
 * ```ts
 * const recipient: EmailBatchRecipient = { messageId: randomUUID(), to: { name: 'Ada', address: 'ada@example.com' }, headers: {} };
 * ```
 */
export interface EmailBatchRecipient {
  /** Our message id for this recipient's copy. */
  messageId: string;
  to: EmailAddress;
  /** Headers of this recipient's copy only (e.g. its List-Unsubscribe). */
  headers: Readonly<Record<string, string>>;
}

/**
 * Identical content for many recipients: what {@link EmailProvider.sendBatch} receives.
 * Recipient addresses are unique within a batch.
 *
 * @example
 * ```ts
 * const batch: EmailBatch = { content, recipients: [{ messageId: randomUUID(), to: { name: '', address: 'ada@example.com' }, headers: {} }] };
 * ```
 */
export interface EmailBatch {
  /** The shared message; its `to`, `cc`, `bcc` and `messageId` are ignored. */
  content: OutgoingEmail;
  /** One entry per recipient, at most the provider's `maxBatchSize`. */
  recipients: readonly EmailBatchRecipient[];
}

/**
 * What a provider reports for one recipient of a batch.
 *
 * @example
 * ```ts
 * const ok: EmailBatchEntryResult = { status: 'accepted', providerMessageId: 'ses-0100018c' };
 * ```
 */
export type EmailBatchEntryResult =
  | { status: 'accepted'; providerMessageId: string | undefined }
  | { status: 'rejected'; error: EmailProviderError };

/**
 * The outcome of {@link EmailProvider.sendBatch}: one entry per recipient, in the batch's order.
 *
 * @example
 * ```ts
 * const { entries } = await provider.sendBatch!({ content, recipients });
 * const refused = entries.filter((entry) => entry.status === 'rejected');
 * ```
 */
export interface EmailBatchResult {
  provider: string;
  entries: readonly EmailBatchEntryResult[];
}
