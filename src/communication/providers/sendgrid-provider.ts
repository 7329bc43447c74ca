import { systemClock, type Clock } from '../../core/clock.js';
import { ValidationError } from '../../core/validation-error.js';
import type { EmailAddress, OutgoingEmail, ProviderSendResult } from '../types.js';
import { httpFailure, networkFailure } from './classify-http-failure.js';
import type { EmailBatch, EmailBatchResult, EmailProvider } from './email-provider.js';
import { recipientsOf } from './mime-message.js';

/** Options of {@link SendGridProvider}. */
export interface SendGridProviderOptions {
  /** API key with Mail Send permission. Default `SENDGRID_API_KEY`. */
  apiKey: string;
  /** API origin. Default `'https://api.sendgrid.com'` (EU accounts: `'https://api.eu.sendgrid.com'`). */
  baseUrl?: string;
  /** Request timeout in ms. Default 10 000. */
  timeoutMs?: number;
  /** The `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Time source for `Retry-After` dates. Default the system clock. */
  clock?: Clock;
}

/**
 * SendGrid v3 Mail Send over `fetch` (no SDK). Our message id travels as the custom arg
 * `uxflow_message_id`, so event webhooks map back to the message; tags become categories.
 * 202 is success; 429 and 5xx are transient (with `Retry-After`), 400/401/403/413 permanent.
 *
 * @example
 * ```ts
 * const sendgrid = new SendGridProvider({ apiKey: process.env.SENDGRID_API_KEY! });
 * ```
 */
export class SendGridProvider implements EmailProvider {
  readonly name = 'sendgrid';
  readonly maxBatchSize = 1000;
  private readonly apiKey: string;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;

  constructor(options: SendGridProviderOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw new ValidationError('sendgrid.apiKey', 'must be given (SENDGRID_API_KEY)');
    this.apiKey = options.apiKey.trim();
    this.endpoint = `${(options.baseUrl ?? 'https://api.sendgrid.com').replace(/\/+$/, '')}/v3/mail/send`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1) throw new ValidationError('sendgrid.timeoutMs', 'must be a positive integer');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
  }

  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    return this.post(toSendGridBody(message), recipientsOf(message));
  }

  /** Up to 1,000 recipients in one request: one personalization each, with its own message id and headers. */
  async sendBatch(batch: EmailBatch): Promise<EmailBatchResult> {
    if (batch.recipients.length === 0 || batch.recipients.length > this.maxBatchSize) {
      throw new ValidationError('batch', `must hold 1 to ${this.maxBatchSize} recipients`);
    }
    const body = toSendGridBody({ ...batch.content, cc: [], bcc: [] });
    delete body['custom_args'];
    body['personalizations'] = batch.recipients.map((recipient) => ({
      to: [sg(recipient.to)],
      custom_args: { uxflow_message_id: recipient.messageId },
      ...(Object.keys(recipient.headers).length > 0 ? { headers: { ...recipient.headers } } : {}),
    }));
    const result = await this.post(body, []);
    // SendGrid accepts or refuses the request as a whole; one X-Message-Id covers every personalization.
    return { provider: this.name, entries: batch.recipients.map(() => ({ status: 'accepted' as const, providerMessageId: result.providerMessageId })) };
  }

  private async post(body: Record<string, unknown>, recipients: readonly string[]): Promise<ProviderSendResult> {
    let response: Response;
    try {
      response = await this.fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw networkFailure(this.name, error);
    }
    if (response.status !== 202 && response.status !== 200) throw await httpFailure(this.name, response, this.clock.now());
    await response.body?.cancel();
    return { provider: this.name, providerMessageId: response.headers.get('x-message-id') ?? undefined, accepted: recipients, rejected: [] };
  }
}

interface SendGridAddress {
  email: string;
  name?: string;
}

function sg(address: EmailAddress): SendGridAddress {
  return address.name === '' ? { email: address.address } : { email: address.address, name: address.name };
}

/** The v3 `mail/send` JSON body of a message. */
export function toSendGridBody(message: OutgoingEmail): Record<string, unknown> {
  const personalization: Record<string, unknown> = { to: message.to.map(sg) };
  if (message.cc.length > 0) personalization['cc'] = message.cc.map(sg);
  if (message.bcc.length > 0) personalization['bcc'] = message.bcc.map(sg);
  const content: { type: string; value: string }[] = [];
  if (message.text !== undefined) content.push({ type: 'text/plain', value: message.text });
  if (message.html !== undefined) content.push({ type: 'text/html', value: message.html });
  const body: Record<string, unknown> = {
    personalizations: [personalization],
    from: sg(message.from),
    subject: message.subject,
    content,
    custom_args: { uxflow_message_id: message.messageId },
  };
  if (message.replyTo !== undefined) body['reply_to'] = sg(message.replyTo);
  if (Object.keys(message.headers).length > 0) body['headers'] = { ...message.headers };
  if (message.tags.length > 0) body['categories'] = [...message.tags];
  if (message.attachments.length > 0) {
    body['attachments'] = message.attachments.map((attachment) => ({
      content: Buffer.from(
        typeof attachment.content === 'string' ? Buffer.from(attachment.content, attachment.encoding === 'base64' ? 'base64' : attachment.encoding === 'hex' ? 'hex' : 'utf8') : (attachment.content ?? new Uint8Array()),
      ).toString('base64'),
      filename: attachment.filename ?? 'attachment',
      ...(attachment.contentType === undefined ? {} : { type: attachment.contentType }),
      ...(attachment.cid === undefined ? { disposition: 'attachment' } : { disposition: 'inline', content_id: attachment.cid }),
    }));
  }
  return body;
}
