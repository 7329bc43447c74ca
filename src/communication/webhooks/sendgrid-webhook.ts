import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ValidationError } from '../../core/validation-error.js';
import type { EmailEvent } from '../types.js';
import { WebhookError } from './webhook-error.js';

/** The signature headers SendGrid's Event Webhook sends. */
export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
/** The timestamp header SendGrid's Event Webhook sends. */
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

/**
 * Verifies SendGrid's signed Event Webhook: an ECDSA P-256 / SHA-256 signature over the
 * timestamp header followed by the raw body, with the verification key from the SendGrid console
 * (base64 DER or PEM). Refuses timestamps outside the replay window.
 *
 * @example
 * ```ts
 * const verifier = new SendGridWebhookVerifier({ publicKey: process.env.SENDGRID_WEBHOOK_KEY! });
 * const events = verifier.verify(rawBody, req.headers, Date.now(), 300_000);
 * ```
 */
export class SendGridWebhookVerifier {
  private readonly key: KeyObject;

  constructor(options: { publicKey: string }) {
    try {
      const text = options.publicKey.trim();
      this.key = text.startsWith('-----')
        ? createPublicKey(text)
        : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    } catch (cause) {
      throw new ValidationError('webhooks.sendgrid.publicKey', 'must be an EC public key (base64 DER or PEM)', { cause });
    }
    if (this.key.asymmetricKeyType !== 'ec') throw new ValidationError('webhooks.sendgrid.publicKey', 'must be an EC (P-256) key');
  }

  /** Checks the signature and returns the events; throws {@link WebhookError} otherwise. */
  verify(rawBody: Buffer, headers: Readonly<Record<string, string | string[] | undefined>>, nowMs: number, windowMs: number): EmailEvent[] {
    const signature = single(headers[SENDGRID_SIGNATURE_HEADER]);
    const timestamp = single(headers[SENDGRID_TIMESTAMP_HEADER]);
    if (signature === undefined || timestamp === undefined) throw new WebhookError('sendgrid', 401, 'signature headers missing');
    if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookError('sendgrid', 401, 'malformed timestamp');
    if (Math.abs(nowMs - Number(timestamp) * 1000) > windowMs) throw new WebhookError('sendgrid', 401, 'timestamp outside the replay window');
    let valid = false;
    try {
      valid = verify('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), this.key, Buffer.from(signature, 'base64'));
    } catch {
      valid = false;
    }
    if (!valid) throw new WebhookError('sendgrid', 401, 'invalid signature');
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawBody.toString('utf8'));
    } catch (cause) {
      throw new WebhookError('sendgrid', 400, 'body is not JSON', cause);
    }
    if (!Array.isArray(parsed)) throw new WebhookError('sendgrid', 400, 'body must be an array of events');
    return parsed.flatMap((item: unknown) => toEvent(item));
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function toEvent(item: unknown): EmailEvent[] {
  if (typeof item !== 'object' || item === null) return [];
  const raw = item as Record<string, unknown>;
  const eventId = typeof raw['sg_event_id'] === 'string' ? raw['sg_event_id'] : undefined;
  if (eventId === undefined) return [];
  const base = {
    eventId,
    source: 'sendgrid',
    messageId: typeof raw['uxflow_message_id'] === 'string' ? raw['uxflow_message_id'] : undefined,
    recipient: typeof raw['email'] === 'string' ? raw['email'] : undefined,
    timestamp: typeof raw['timestamp'] === 'number' ? raw['timestamp'] * 1000 : Date.now(),
  };
  switch (raw['event']) {
    case 'delivered':
      return [{ ...base, type: 'delivered' }];
    case 'bounce':
      return [{ ...base, type: 'bounced', bounce: raw['type'] === 'blocked' ? 'soft' : 'hard' }];
    case 'open':
      return [{ ...base, type: 'opened' }];
    case 'click':
      return [{ ...base, type: 'clicked', ...(typeof raw['url'] === 'string' ? { url: raw['url'] } : {}) }];
    case 'spamreport':
      return [{ ...base, type: 'complained' }];
    case 'unsubscribe':
    case 'group_unsubscribe':
      return [{ ...base, type: 'unsubscribed' }];
    default:
      return [];
  }
}
