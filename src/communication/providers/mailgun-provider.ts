import { loadOptional } from '../../core/load-optional.js';
import { ValidationError } from '../../core/validation-error.js';
import { EmailProviderError } from '../email-provider-error.js';
import type { EmailAddress, OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailProvider } from './email-provider.js';
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
 * 400/401/403 permanent.
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

  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    const messages = await this.load();
    const data: Record<string, unknown> = {
      from: format(message.from),
      to: message.to.map(format),
      subject: message.subject,
      'v:uxflow_message_id': message.messageId,
    };
    if (message.cc.length > 0) data['cc'] = message.cc.map(format);
    if (message.bcc.length > 0) data['bcc'] = message.bcc.map(format);
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
    try {
      const result = await messages.create(this.options.domain, data);
      return { provider: this.name, providerMessageId: result.id?.replace(/^<|>$/g, ''), accepted: recipientsOf(message), rejected: [] };
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
