import MailComposer from 'nodemailer/lib/mail-composer';
import { loadOptional } from '../../core/load-optional.js';
import { ValidationError } from '../../core/validation-error.js';
import { EmailProviderError } from '../email-provider-error.js';
import type { OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailProvider } from './email-provider.js';
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
  send(command: unknown): Promise<{ MessageId?: string }>;
  destroy(): void;
}

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
  private client: Promise<{ client: SesClientLike; Command: new (input: unknown) => unknown }> | undefined;

  constructor(private readonly options: SesProviderOptions) {
    if (typeof options.region !== 'string' || options.region === '') throw new ValidationError('ses.region', 'must be given (AWS_SES_REGION)');
  }

  private load(): Promise<{ client: SesClientLike; Command: new (input: unknown) => unknown }> {
    this.client ??= loadOptional('@aws-sdk/client-sesv2', 'The "ses" email provider', () => import('@aws-sdk/client-sesv2')).then((sdk) => ({
      client: new sdk.SESv2Client({
        region: this.options.region,
        maxAttempts: this.options.maxAttempts ?? 3,
        ...(this.options.endpoint === undefined ? {} : { endpoint: this.options.endpoint }),
        ...(this.options.credentials === undefined ? {} : { credentials: this.options.credentials }),
      }) as unknown as SesClientLike,
      Command: sdk.SendEmailCommand as unknown as new (input: unknown) => unknown,
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
