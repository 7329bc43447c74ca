import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../../core/validation-error.js';
import type { EmailEvent } from '../types.js';
import { WebhookError } from './webhook-error.js';

/**
 * Verifies Mailgun webhooks: HMAC-SHA256 with the webhook signing key over `timestamp + token`,
 * compared in constant time, timestamp inside the replay window. The caller stores the token
 * (see `EmailStore.firstSeen`) so a captured request cannot be replayed inside the window.
 *
 * @example
 * ```ts
 * const verifier = new MailgunWebhookVerifier({ signingKey: process.env.MAILGUN_WEBHOOK_KEY! });
 * const { token, events } = verifier.verify(rawBody, Date.now(), 300_000);
 * ```
 */
export class MailgunWebhookVerifier {
  private readonly signingKey: string;

  constructor(options: { signingKey: string }) {
    if (typeof options.signingKey !== 'string' || options.signingKey.length < 16) {
      throw new ValidationError('webhooks.mailgun.signingKey', 'must be the webhook signing key');
    }
    this.signingKey = options.signingKey;
  }

  /** Checks the signature; returns the token (to de-duplicate) and the event. */
  verify(rawBody: Buffer, nowMs: number, windowMs: number): { token: string; events: EmailEvent[] } {
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch (cause) {
      throw new WebhookError('mailgun', 400, 'body is not JSON', cause);
    }
    const signature = (body as { signature?: unknown }).signature;
    if (typeof signature !== 'object' || signature === null) throw new WebhookError('mailgun', 401, 'signature missing');
    const { timestamp, token, signature: given } = signature as Record<string, unknown>;
    if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp) || typeof token !== 'string' || token.length < 16 || typeof given !== 'string') {
      throw new WebhookError('mailgun', 401, 'signature malformed');
    }
    if (Math.abs(nowMs - Number(timestamp) * 1000) > windowMs) throw new WebhookError('mailgun', 401, 'timestamp outside the replay window');
    const expected = createHmac('sha256', this.signingKey).update(timestamp + token).digest();
    const provided = /^[0-9a-f]{64}$/i.test(given) ? Buffer.from(given, 'hex') : Buffer.alloc(0);
    if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) throw new WebhookError('mailgun', 401, 'invalid signature');
    const data = (body as { 'event-data'?: unknown })['event-data'];
    return { token, events: data === undefined ? [] : toEvent(data) };
  }
}

function toEvent(data: unknown): EmailEvent[] {
  if (typeof data !== 'object' || data === null) throw new WebhookError('mailgun', 400, 'event-data malformed');
  const raw = data as Record<string, unknown>;
  if (typeof raw['id'] !== 'string') throw new WebhookError('mailgun', 400, 'event id missing');
  const variables = raw['user-variables'];
  const messageId =
    typeof variables === 'object' && variables !== null && typeof (variables as Record<string, unknown>)['uxflow_message_id'] === 'string'
      ? ((variables as Record<string, unknown>)['uxflow_message_id'] as string)
      : undefined;
  const base = {
    eventId: raw['id'],
    source: 'mailgun',
    messageId,
    recipient: typeof raw['recipient'] === 'string' ? raw['recipient'] : undefined,
    timestamp: typeof raw['timestamp'] === 'number' ? Math.round(raw['timestamp'] * 1000) : Date.now(),
  };
  switch (raw['event']) {
    case 'delivered':
      return [{ ...base, type: 'delivered' }];
    case 'failed':
      return [{ ...base, type: 'bounced', bounce: raw['severity'] === 'permanent' ? 'hard' : 'soft' }];
    case 'opened':
      return [{ ...base, type: 'opened' }];
    case 'clicked':
      return [{ ...base, type: 'clicked', ...(typeof raw['url'] === 'string' ? { url: raw['url'] } : {}) }];
    case 'complained':
      return [{ ...base, type: 'complained' }];
    case 'unsubscribed':
      return [{ ...base, type: 'unsubscribed' }];
    default:
      return [];
  }
}
