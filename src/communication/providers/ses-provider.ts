import MailComposer from 'nodemailer/lib/mail-composer';
import { loadOptional } from '../../core/load-optional.js';
import { ValidationError } from '../../core/validation-error.js';
import { EmailProviderError } from '../email-provider-error.js';
import type { EmailAddress, OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailBatch, EmailBatchResult, EmailProvider } from './email-provider.js';
import { recipientsOf, toMailOptions } from './mime-message.js';

/** Options of {@link SesProvider}. */
export interface SesProviderOptions {
  /** AWS region. Default `AWS_SES_REGION`. */
  region: string;
  /** Endpoint override (a local emulator, a VPC endpoint). Default the regional endpoint. */
  endpoint?: string;
  /** Credentials. Default the AWS SDK's provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SES configuration set, for event publishing. Default none. */
  configurationSetName?: string;
  /** Attempts by the AWS SDK (it retries throttling itself). Default 3. */
  maxAttempts?: number;
}

interface SesClientLike {
  send(command: unknown): Promise<{ MessageId?: string; BulkEmailEntryResults?: { Status?: string; Error?: string; MessageId?: string }[] }>;
  destroy(): void;
}

type Loaded = { client: SesClientLike; Command: new (input: unknown) => unknown; BulkCommand: new (input: unknown) => unknown };

/** Per-entry statuses of SendBulkEmail worth another try later (or on another provider). */
const TRANSIENT_BULK = new Set(['TRANSIENT_FAILURE', 'ACCOUNT_THROTTLED', 'ACCOUNT_DAILY_QUOTA_EXCEEDED', 'ACCOUNT_SENDING_PAUSED', 'CONFIGURATION_SET_SENDING_PAUSED', 'FAILED']);

/**
 * Amazon SES through the AWS SDK v3 (`@aws-sdk/client-sesv2`, an optional peer loaded on first
 * send). Messages go as raw MIME built by nodemailer, so headers such as `List-Unsubscribe`
 * arrive exactly as built. The SDK already retries throttling; this provider does not add more.
 *
 * @example
 * ```ts
 * const ses = new SesProvider({ region: 'eu-west-1', configurationSetName: 'tracking' });
 * ```
 */
export class SesProvider implements EmailProvider {
  readonly name = 'ses';
  private client: Promise<Loaded> | undefined;
  /** Most destinations per SendBulkEmail call (the SES limit). */
  readonly maxBatchSize = 50;

  constructor(private readonly options: SesProviderOptions) {
    if (typeof options.region !== 'string' || options.region === '') throw new ValidationError('ses.region', 'must be given (AWS_SES_REGION)');
  }

  private load(): Promise<Loaded> {
    this.client ??= loadOptional('@aws-sdk/client-sesv2', 'The "ses" email provider', () => import('@aws-sdk/client-sesv2')).then((sdk) => ({
      client: new sdk.SESv2Client({
        region: this.options.region,
        maxAttempts: this.options.maxAttempts ?? 3,
        ...(this.options.endpoint === undefined ? {} : { endpoint: this.options.endpoint }),
        ...(this.options.credentials === undefined ? {} : { credentials: this.options.credentials }),
      }) as unknown as SesClientLike,
      Command: sdk.SendEmailCommand as unknown as new (input: unknown) => unknown,
      BulkCommand: sdk.SendBulkEmailCommand as unknown as new (input: unknown) => unknown,
    }));
    return this.client;
  }

  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    const { client, Command } = await this.load();
    const raw = await new MailComposer(toMailOptions(message)).compile().build();
    const input = {
      FromEmailAddress: message.from.address,
      Destination: {
        ToAddresses: message.to.map((entry) => entry.address),
        ...(message.cc.length > 0 ? { CcAddresses: message.cc.map((entry) => entry.address) } : {}),
        ...(message.bcc.length > 0 ? { BccAddresses: message.bcc.map((entry) => entry.address) } : {}),
      },
      Content: { Raw: { Data: new Uint8Array(raw) } },
      EmailTags: [{ Name: 'uxflow_message_id', Value: message.messageId }],
      ...(this.options.configurationSetName === undefined ? {} : { ConfigurationSetName: this.options.configurationSetName }),
    };
    try {
      const output = await client.send(new Command(input));
      return { provider: this.name, providerMessageId: output.MessageId, accepted: recipientsOf(message), rejected: [] };
    } catch (error) {
      throw classifySesError(error);
    }
  }

  /**
   * SESv2 SendBulkEmail: up to 50 destinations per call. The shared content goes as an inline
   * template (`TemplateContent`) without placeholders; each entry carries its own message id
   * (tag `uxflow_message_id`) and headers (`ReplacementHeaders`). SES reports a status per entry.
   * Content that SES would read as template syntax (`{{`) or that has attachments is sent as
   * one raw message per recipient instead, so nothing is ever rendered differently.
   */
  async sendBatch(batch: EmailBatch): Promise<EmailBatchResult> {
    if (batch.recipients.length === 0 || batch.recipients.length > this.maxBatchSize) {
      throw new ValidationError('batch', `must hold 1 to ${this.maxBatchSize} recipients`);
    }
    const { content } = batch;
    if (content.attachments.length > 0 || [content.subject, content.html ?? '', content.text ?? ''].some((part) => part.includes('{{'))) {
      return this.sendEach(batch);
    }
    const { client, BulkCommand } = await this.load();
    const headers = (record: Readonly<Record<string, string>>): { Name: string; Value: string }[] =>
      Object.entries(record).map(([Name, Value]) => ({ Name, Value }));
    const input = {
      FromEmailAddress: sesAddress(content.from),
      ...(content.replyTo === undefined ? {} : { ReplyToAddresses: [sesAddress(content.replyTo)] }),
      DefaultContent: {
        Template: {
          TemplateContent: {
            Subject: content.subject,
            ...(content.html === undefined ? {} : { Html: content.html }),
            ...(content.text === undefined ? {} : { Text: content.text }),
          },
          TemplateData: '{}',
          ...(Object.keys(content.headers).length > 0 ? { Headers: headers(content.headers) } : {}),
        },
      },
      BulkEmailEntries: batch.recipients.map((recipient) => ({
        Destination: { ToAddresses: [sesAddress(recipient.to)] },
        ReplacementTags: [{ Name: 'uxflow_message_id', Value: recipient.messageId }],
        ...(Object.keys(recipient.headers).length > 0 ? { ReplacementHeaders: headers(recipient.headers) } : {}),
      })),
      ...(this.options.configurationSetName === undefined ? {} : { ConfigurationSetName: this.options.configurationSetName }),
    };
    let output: Awaited<ReturnType<SesClientLike['send']>>;
    try {
      output = await client.send(new BulkCommand(input));
    } catch (error) {
      throw classifySesError(error);
    }
    const results = output.BulkEmailEntryResults ?? [];
    return {
      provider: this.name,
      entries: batch.recipients.map((_recipient, index) => {
        const entry = results[index];
        if (entry?.Status === 'SUCCESS') return { status: 'accepted' as const, providerMessageId: entry.MessageId };
        const status = entry?.Status ?? 'MISSING_RESULT';
        return {
          status: 'rejected' as const,
          error: new EmailProviderError(this.name, TRANSIENT_BULK.has(status) || entry === undefined ? 'transient' : 'permanent', `${status}: ${entry?.Error ?? 'no result for this entry'}`, { rawCode: status }),
        };
      }),
    };
  }

  private async sendEach(batch: EmailBatch): Promise<EmailBatchResult> {
    const entries = await Promise.all(
      batch.recipients.map(async (recipient) => {
        try {
          const result = await this.send({ ...batch.content, messageId: recipient.messageId, to: [recipient.to], cc: [], bcc: [], headers: { ...batch.content.headers, ...recipient.headers } });
          return { status: 'accepted' as const, providerMessageId: result.providerMessageId };
        } catch (error) {
          return { status: 'rejected' as const, error: error as EmailProviderError };
        }
      }),
    );
    return { provider: this.name, entries };
  }

  async close(): Promise<void> {
    const loaded = this.client;
    this.client = undefined;
    if (loaded !== undefined) (await loaded.catch(() => undefined))?.client.destroy();
  }
}

function classifySesError(error: unknown): EmailProviderError {
  const info = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = info.$metadata?.httpStatusCode;
  const name = typeof info.name === 'string' ? info.name : 'Error';
  const transient =
    info.$retryable !== undefined ||
    status === undefined ||
    status === 429 ||
    status >= 500 ||
    ['ThrottlingException', 'TooManyRequestsException', 'LimitExceededException', 'TimeoutError'].includes(name);
  return new EmailProviderError('ses', transient ? 'transient' : 'permanent', `${name}: ${typeof info.message === 'string' ? info.message : ''}`, {
    rawCode: status ?? name,
    cause: error,
  });
}

/** An address for the SES API: with its display name when that is plain ASCII (else SES wants MIME encoded-words). */
function sesAddress(address: EmailAddress): string {
  if (address.name === '' || !/^[\x20-\x7e]+$/.test(address.name)) return address.address;
  return `"${address.name.replace(/["\\]/g, '\\$&')}" <${address.address}>`;
}
