import { createVerify, X509Certificate } from 'node:crypto';
import { ValidationError } from '../../core/validation-error.js';
import type { EmailEvent } from '../types.js';
import { WebhookError } from './webhook-error.js';

const CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Options of {@link SnsWebhookVerifier}. */
export interface SnsWebhookVerifierOptions {
  /** SNS topics whose messages are accepted; anything else is refused. */
  topicArns: readonly string[];
  /** Confirm subscriptions by visiting `SubscribeURL` (checked like the certificate URL). Default `false`. */
  autoConfirm?: boolean;
  /** The `fetch` for certificates and confirmations. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Timeout of those requests, in ms. Default 5 000. */
  timeoutMs?: number;
}

/** What a verified SNS message carried. */
export interface SnsVerified {
  /** The SNS `MessageId`, to de-duplicate. */
  messageId: string;
  type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  /** SES events for notifications. */
  events: EmailEvent[];
  /** For a subscription confirmation: whether it was confirmed. */
  confirmed?: boolean;
}

/**
 * Verifies Amazon SNS deliveries of SES events: the certificate URL must be `https` on
 * `sns.<region>.amazonaws.com`; the RSA signature (SignatureVersion 1: SHA1, 2: SHA256) is
 * checked over SNS's canonical string with that certificate (cached); the `TopicArn` must be one
 * of ours; the `Timestamp` must be inside the replay window.
 *
 * @example
 * ```ts
 * const sns = new SnsWebhookVerifier({ topicArns: ['arn:aws:sns:eu-west-1:123456789012:ses-events'] });
 * const verified = await sns.verify(rawBody, Date.now(), 300_000);
 * ```
 */
export class SnsWebhookVerifier {
  private readonly topics: ReadonlySet<string>;
  private readonly autoConfirm: boolean;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly certificates = new Map<string, Promise<string>>();

  constructor(options: SnsWebhookVerifierOptions) {
    if (!Array.isArray(options.topicArns) || options.topicArns.length === 0) {
      throw new ValidationError('webhooks.ses.topicArns', 'must list at least one SNS topic ARN');
    }
    for (const arn of options.topicArns) {
      if (typeof arn !== 'string' || !arn.startsWith('arn:aws')) throw new ValidationError('webhooks.ses.topicArns', `holds an invalid ARN: ${String(arn)}`);
    }
    this.topics = new Set(options.topicArns);
    this.autoConfirm = options.autoConfirm ?? false;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Verifies one SNS POST body; throws {@link WebhookError} when it must be refused. */
  async verify(rawBody: Buffer, nowMs: number, windowMs: number): Promise<SnsVerified> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw new WebhookError('ses', 400, 'body is not JSON', cause);
    }
    if (typeof body !== 'object' || body === null) throw new WebhookError('ses', 400, 'body must be an object');
    const field = (name: string): string => {
      const value = body[name];
      if (typeof value !== 'string') throw new WebhookError('ses', 400, `${name} missing`);
      return value;
    };
    const type = field('Type');
    if (type !== 'Notification' && type !== 'SubscriptionConfirmation' && type !== 'UnsubscribeConfirmation') {
      throw new WebhookError('ses', 400, `unknown Type ${type}`);
    }
    if (!this.topics.has(field('TopicArn'))) throw new WebhookError('ses', 401, 'unexpected TopicArn');
    const certUrl = checkAwsUrl(field('SigningCertURL'), 'SigningCertURL');
    const version = field('SignatureVersion');
    if (version !== '1' && version !== '2') throw new WebhookError('ses', 401, 'unsupported SignatureVersion');
    const timestamp = Date.parse(field('Timestamp'));
    if (Number.isNaN(timestamp) || Math.abs(nowMs - timestamp) > windowMs) throw new WebhookError('ses', 401, 'timestamp outside the replay window');

    const keys =
      type === 'Notification'
        ? ['Message', 'MessageId', ...(typeof body['Subject'] === 'string' ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
        : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
    const canonical = keys.map((key) => `${key}\n${field(key)}\n`).join('');
    const pem = await this.certificate(certUrl);
    const verifier = createVerify(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    verifier.update(canonical, 'utf8');
    let valid = false;
    try {
      valid = verifier.verify(pem, field('Signature'), 'base64');
    } catch {
      valid = false;
    }
    if (!valid) throw new WebhookError('ses', 401, 'invalid signature');

    const messageId = field('MessageId');
    if (type !== 'Notification') {
      let confirmed = false;
      if (type === 'SubscriptionConfirmation' && this.autoConfirm) {
        const url = checkAwsUrl(field('SubscribeURL'), 'SubscribeURL');
        const response = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
        await response.body?.cancel();
        confirmed = response.ok;
      }
      return { messageId, type, events: [], confirmed };
    }
    return { messageId, type, events: toSesEvents(field('Message'), messageId, timestamp) };
  }

  private certificate(url: string): Promise<string> {
    let pending = this.certificates.get(url);
    if (pending === undefined) {
      pending = (async () => {
        const response = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
        if (!response.ok) throw new WebhookError('ses', 401, `certificate fetch failed with HTTP ${response.status}`);
        const pem = await response.text();
        try {
          const certificate = new X509Certificate(pem);
          if (Date.parse(certificate.validTo) < Date.now()) throw new WebhookError('ses', 401, 'signing certificate expired');
        } catch (cause) {
          if (WebhookError.isInstance(cause)) throw cause;
          throw new WebhookError('ses', 401, 'signing certificate unreadable', cause);
        }
        return pem;
      })();
      this.certificates.set(url, pending);
      pending.catch(() => this.certificates.delete(url));
      if (this.certificates.size > 32) this.certificates.delete(this.certificates.keys().next().value as string);
    }
    return pending;
  }
}

function checkAwsUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new WebhookError('ses', 401, `${name} is not a URL`, cause);
  }
  if (url.protocol !== 'https:' || !CERT_HOST.test(url.hostname) || url.port !== '' || url.username !== '' || url.password !== '') {
    throw new WebhookError('ses', 401, `${name} host is not an SNS endpoint`);
  }
  if (name === 'SigningCertURL' && !url.pathname.endsWith('.pem')) throw new WebhookError('ses', 401, 'SigningCertURL is not a .pem');
  return url.href;
}

function toSesEvents(message: string, snsId: string, fallbackMs: number): EmailEvent[] {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(message) as Record<string, unknown>;
  } catch (cause) {
    throw new WebhookError('ses', 400, 'Message is not an SES event', cause);
  }
  const kind = typeof event['eventType'] === 'string' ? event['eventType'] : event['notificationType'];
  const mail = (event['mail'] ?? {}) as { tags?: Record<string, unknown>; headers?: { name?: unknown; value?: unknown }[] };
  const tagged = mail.tags?.['uxflow_message_id'];
  const header = mail.headers?.find((entry) => typeof entry.name === 'string' && entry.name.toLowerCase() === 'x-uxflow-message-id')?.value;
  const messageId = Array.isArray(tagged) && typeof tagged[0] === 'string' ? tagged[0] : typeof header === 'string' ? header : undefined;
  const base = { source: 'ses', messageId, timestamp: fallbackMs };
  const list = (value: unknown, key: string): string[] =>
    Array.isArray(value) ? value.map((entry) => (typeof entry === 'string' ? entry : (entry as Record<string, unknown>)[key])).filter((x): x is string => typeof x === 'string') : [];
  const section = (name: string): Record<string, unknown> => (event[name] ?? {}) as Record<string, unknown>;
  switch (kind) {
    case 'Delivery':
      return list(section('delivery')['recipients'], 'emailAddress').map((recipient, index) => ({ ...base, type: 'delivered', recipient, eventId: `${snsId}:${index}` }));
    case 'Bounce': {
      const bounce = section('bounce');
      const hard = bounce['bounceType'] === 'Permanent';
      return list(bounce['bouncedRecipients'], 'emailAddress').map((recipient, index) => ({
        ...base, type: 'bounced', bounce: hard ? 'hard' : 'soft', recipient, eventId: `${snsId}:${index}`,
      }));
    }
    case 'Complaint':
      return list(section('complaint')['complainedRecipients'], 'emailAddress').map((recipient, index) => ({
        ...base, type: 'complained', recipient, eventId: `${snsId}:${index}`,
      }));
    case 'Open':
      return [{ ...base, type: 'opened', recipient: undefined, eventId: snsId }];
    case 'Click': {
      const link = section('click')['link'];
      return [{ ...base, type: 'clicked', recipient: undefined, eventId: snsId, ...(typeof link === 'string' ? { url: link } : {}) }];
    }
    default:
      return [];
  }
}
