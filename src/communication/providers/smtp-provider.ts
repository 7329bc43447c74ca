import type { ConnectionOptions } from 'node:tls';
import { createTransport, type SMTPPoolOptions, type SMTPPoolSentMessageInfo, type Transporter } from 'nodemailer';
import { once } from '../../core/once.js';
import { ValidationError } from '../../core/validation-error.js';
import { EmailProviderError } from '../email-provider-error.js';
import type { OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailProvider } from './email-provider.js';
import { toMailOptions } from './mime-message.js';

/** Options of {@link SmtpProvider}. */
export interface SmtpProviderOptions {
  /** Default `SMTP_HOST`, else `127.0.0.1`. */
  host: string;
  /** Default `SMTP_PORT`, else 587. */
  port: number;
  /** Implicit TLS (port 465). Default `port === 465`. */
  secure?: boolean;
  /** Refuse to send unless STARTTLS succeeds. Default `false`. */
  requireTLS?: boolean;
  /** Never use STARTTLS, even when offered (local relays only). Default `false`. */
  ignoreTLS?: boolean;
  /** TLS options (for example a private `ca`). Certificates are always verified. */
  tls?: Omit<ConnectionOptions, 'rejectUnauthorized'>;
  /** Login. Default none. */
  auth?: { user: string; pass: string };
  /** Pooled connections. Default 5. */
  maxConnections?: number;
  /** Messages per connection before it is recycled. Default 100. */
  maxMessages?: number;
  /** Connect timeout in ms. Default 10 000. */
  connectionTimeoutMs?: number;
  /** Greeting timeout in ms. Default 10 000. */
  greetingTimeoutMs?: number;
  /** Socket inactivity timeout in ms. Default 60 000. */
  socketTimeoutMs?: number;
  /** Name in errors and metrics. Default `'smtp'`. */
  name?: string;
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'ECONNREFUSED', 'EPROTOCOL', 'ETLS', 'EMAXLIMIT']);

/**
 * SMTP through a pooled nodemailer transport (≥ 10, with its address-parser and header-injection
 * fixes). SMTP 4xx replies and connection failures are transient, 5xx permanent; a message that
 * some recipients refused resolves with them in `rejected`.
 *
 * @example
 * ```ts
 * const smtp = new SmtpProvider({ host: 'smtp.example.com', port: 587, requireTLS: true, auth: { user, pass } });
 * ```
 */
export class SmtpProvider implements EmailProvider {
  readonly name: string;
  private readonly transport: Transporter<SMTPPoolSentMessageInfo, SMTPPoolOptions>;
  /** Messages handed to the pool: at most one per connection; the rest wait here. */
  private readonly slots: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(options: SmtpProviderOptions) {
    if (typeof options.host !== 'string' || options.host === '') throw new ValidationError('smtp.host', 'must be a non-empty string');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) throw new ValidationError('smtp.port', 'must be a port number');
    const maxConnections = options.maxConnections ?? 5;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new ValidationError('smtp.maxConnections', 'must be a positive integer');
    this.name = options.name ?? 'smtp';
    const transportOptions: SMTPPoolOptions & { pool: true } = {
      pool: true,
      host: options.host,
      port: options.port,
      secure: options.secure ?? options.port === 465,
      requireTLS: options.requireTLS ?? false,
      ignoreTLS: options.ignoreTLS ?? false,
      ...(options.tls === undefined ? {} : { tls: { ...options.tls, rejectUnauthorized: true } }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      maxConnections,
      maxMessages: options.maxMessages ?? 100,
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      greetingTimeout: options.greetingTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    this.transport = createTransport(transportOptions);
    this.slots = maxConnections;
  }

  /**
   * A message is handed to the pool (and its MIME built) only when a connection can take it:
   * messages waiting for a connection stay small instead of each holding its built message.
   */
  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    if (this.active >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      const info = await this.transport.sendMail(toMailOptions(message));
      return {
        provider: this.name,
        providerMessageId: parseQueueId(info.response) ?? info.messageId,
        accepted: (info.accepted ?? []).map(plainAddress),
        rejected: (info.rejected ?? []).map(plainAddress),
      };
    } catch (error) {
      throw classifySmtpError(this.name, error);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  readonly close = once((): Promise<void> => {
    this.transport.close();
    return Promise.resolve();
  });
}

function plainAddress(entry: string | { address: string }): string {
  return typeof entry === 'string' ? entry : entry.address;
}

function parseQueueId(response: unknown): string | undefined {
  if (typeof response !== 'string') return undefined;
  return /queued as ([A-Za-z0-9._-]+)/i.exec(response)?.[1];
}

/** Maps a nodemailer error to a typed {@link EmailProviderError}. */
export function classifySmtpError(provider: string, error: unknown): EmailProviderError {
  const info = (typeof error === 'object' && error !== null ? error : {}) as { responseCode?: unknown; code?: unknown; message?: unknown };
  const message = typeof info.message === 'string' ? info.message : String(error);
  if (typeof info.responseCode === 'number') {
    const failure = info.responseCode >= 400 && info.responseCode < 500 ? 'transient' : 'permanent';
    return new EmailProviderError(provider, failure, message, { rawCode: info.responseCode, cause: error });
  }
  const code = typeof info.code === 'string' ? info.code : undefined;
  const failure = code === undefined || TRANSIENT_CODES.has(code) ? 'transient' : 'permanent';
  return new EmailProviderError(provider, failure, message, { ...(code === undefined ? {} : { rawCode: code }), cause: error });
}
