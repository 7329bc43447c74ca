import { loadOptional } from '../../core/load-optional.js';
import { ValidationError } from '../../core/validation-error.js';
import { EmailProviderError } from '../email-provider-error.js';
import type { EmailAddress, OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailBatch, EmailBatchResult, EmailProvider } from './email-provider.js';
import { recipientsOf } from './mime-message.js';

/** Options of {@link MailgunProvider}. */
export interface MailgunProviderOptions {
  /** Private API key. */
  apiKey: string;
  /** Sending domain. */
  domain: string;
  /** API origin. Default `'https://api.mailgun.net'` (EU: `'https://api.eu.mailgun.net'`). */
  url?: string;
  /** Request timeout in ms. Default 10 000. */
  timeoutMs?: number;
}

interface MailgunMessages {
  create(domain: string, data: Record<string, unknown>): Promise<{ id?: string; status?: number; message?: string }>;
}

/**
 * Mailgun through `mailgun.js` (an optional peer, loaded on first send). Our message id travels
 * as the user variable `uxflow_message_id`; tags become `o:tag`. HTTP 429/5xx are transient,
 * 400/401/403 permanent. Bulk mail goes as batch sends of up to 1,000 recipients with
 * `recipient-variables`.
 *
 * @example
 * ```ts
 * const mailgun = new MailgunProvider({ apiKey: process.env.MAILGUN_API_KEY!, domain: 'mg.example.com' });
 * ```
 */
export class MailgunProvider implements EmailProvider {
  readonly name = 'mailgun';
  private messages: Promise<MailgunMessages> | undefined;

  constructor(private readonly options: MailgunProviderOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new ValidationError('mailgun.apiKey', 'must be given');
    if (typeof options.domain !== 'string' || !/^[A-Za-z0-9.-]+$/.test(options.domain)) throw new ValidationError('mailgun.domain', 'must be a domain name');
  }

  private load(): Promise<MailgunMessages> {
    this.messages ??= loadOptional('mailgun.js', 'The "mailgun" email provider', () => import('mailgun.js')).then((module) => {
      const client = new module.default(FormData).client({
        username: 'api',
        key: this.options.apiKey,
        url: this.options.url ?? 'https://api.mailgun.net',
        timeout: this.options.timeoutMs ?? 10_000,
      });
      return client.messages;
    });
    return this.messages;
  }

  /** Most recipients per batch request (Mailgun's limit for `recipient-variables`). */
  readonly maxBatchSize = 1000;

  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    const data = this.fields(message);
    data['to'] = message.to.map(format);
    data['v:uxflow_message_id'] = message.messageId;
    if (message.cc.length > 0) data['cc'] = message.cc.map(format);
    if (message.bcc.length > 0) data['bcc'] = message.bcc.map(format);
    const id = await this.post(data);
    return { provider: this.name, providerMessageId: id, accepted: recipientsOf(message), rejected: [] };
  }

  /**
   * Batch sending: one request with every recipient in `to` and a `recipient-variables` JSON
   * object keyed by address, so Mailgun sends each one an individual message. Per-recipient
   * fields (our message id, List-Unsubscribe, …) are written as `%recipient.<key>%`, which
   * Mailgun substitutes in headers and user variables as in the body.
   */
  async sendBatch(batch: EmailBatch): Promise<EmailBatchResult> {
    if (batch.recipients.length === 0 || batch.recipients.length > this.maxBatchSize) {
      throw new ValidationError('batch', `must hold 1 to ${this.maxBatchSize} recipients`);
    }
    const data = this.fields(batch.content);
    const variables: Record<string, Record<string, string>> = {};
    const perRecipient = new Set<string>();
    for (const recipient of batch.recipients) for (const name of Object.keys(recipient.headers)) perRecipient.add(name);
    for (const recipient of batch.recipients) {
      const own: Record<string, string> = { uxflow_message_id: recipient.messageId };
      // Every recipient needs every key, or Mailgun leaves the placeholder in place.
      for (const name of perRecipient) own[`h:${name}`] = recipient.headers[name] ?? batch.content.headers[name] ?? '';
      if (Object.hasOwn(variables, recipient.to.address)) throw new ValidationError('batch', `lists ${recipient.to.address} twice`);
      variables[recipient.to.address] = own;
    }
    data['to'] = batch.recipients.map((recipient) => format(recipient.to));
    data['v:uxflow_message_id'] = '%recipient.uxflow_message_id%';
    for (const name of perRecipient) data[`h:${name}`] = `%recipient.h:${name}%`;
    data['recipient-variables'] = JSON.stringify(variables);
    const id = await this.post(data);
    return { provider: this.name, entries: batch.recipients.map(() => ({ status: 'accepted' as const, providerMessageId: id })) };
  }

  /** Fields shared by single and batch sends (no recipients, no message id). */
  private fields(message: OutgoingEmail): Record<string, unknown> {
    const data: Record<string, unknown> = { from: format(message.from), subject: message.subject };
    if (message.text !== undefined) data['text'] = message.text;
    if (message.html !== undefined) data['html'] = message.html;
    if (message.replyTo !== undefined) data['h:Reply-To'] = format(message.replyTo);
    for (const [name, value] of Object.entries(message.headers)) data[`h:${name}`] = value;
    if (message.tags.length > 0) data['o:tag'] = [...message.tags];
    if (message.attachments.length > 0) {
      data['attachment'] = message.attachments.map((attachment) => ({
        filename: attachment.filename ?? 'attachment',
        data: typeof attachment.content === 'string' ? Buffer.from(attachment.content, attachment.encoding === 'base64' ? 'base64' : attachment.encoding === 'hex' ? 'hex' : 'utf8') : Buffer.from(attachment.content ?? new Uint8Array()),
      }));
    }
    return data;
  }

  private async post(data: Record<string, unknown>): Promise<string | undefined> {
    const messages = await this.load();
    try {
      const result = await messages.create(this.options.domain, data);
      return result.id?.replace(/^<|>$/g, '');
    } catch (error) {
      const info = (typeof error === 'object' && error !== null ? error : {}) as { status?: unknown; message?: unknown };
      const status = typeof info.status === 'number' ? info.status : undefined;
      const transient = status === undefined || status === 408 || status === 429 || status >= 500;
      throw new EmailProviderError(this.name, transient ? 'transient' : 'permanent', typeof info.message === 'string' ? info.message : 'request failed', {
        ...(status === undefined ? {} : { rawCode: status }),
        cause: error,
      });
    }
  }
}

function format(address: EmailAddress): string {
  if (address.name === '') return address.address;
  return `"${address.name.replace(/["\\]/g, '\\$&')}" <${address.address}>`;
}
