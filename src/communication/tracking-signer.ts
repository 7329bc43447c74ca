import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../core/validation-error.js';

/** What a token is for: click, open, or one-click unsubscribe. Part of the signed data. */
export type TrackingTokenKind = 'c' | 'o' | 'u';

const TOKEN = /^([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{22})$/;

/**
 * Signs and verifies tracking tokens: base64url(JSON payload) + `.` + a 128-bit HMAC-SHA256 tag
 * over the kind and payload. A token for one kind never verifies as another; verification is
 * constant-time. Several secrets may be given for rotation: the first signs, all verify.
 *
 * @example
 * ```ts
 * const signer = new TrackingSigner([process.env.EMAIL_TRACKING_SECRET!]);
 * const token = signer.sign('c', ['msg-1', 0, 'https://example.com/pricing']);
 * signer.verify('c', token); // ['msg-1', 0, 'https://example.com/pricing']
 * ```
 */
export class TrackingSigner {
  private readonly secrets: readonly Buffer[];

  constructor(secrets: readonly string[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) throw new ValidationError('tracking.secret', 'must be given');
    for (const secret of secrets) {
      if (typeof secret !== 'string' || Buffer.byteLength(secret) < 32) {
        throw new ValidationError('tracking.secret', 'must be at least 32 bytes long');
      }
    }
    this.secrets = secrets.map((secret) => Buffer.from(secret));
  }

  /** A token carrying `payload` (JSON-serializable). */
  sign(kind: TrackingTokenKind, payload: readonly unknown[]): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.tag(this.secrets[0] as Buffer, kind, body).toString('base64url')}`;
  }

  /** The payload of a valid token of `kind`, or `undefined` for a tampered, foreign or malformed one. */
  verify(kind: TrackingTokenKind, token: string): unknown[] | undefined {
    const match = typeof token === 'string' ? TOKEN.exec(token) : null;
    if (match === null) return undefined;
    const body = match[1] as string;
    const given = Buffer.from(match[2] as string, 'base64url');
    // Reject non-canonical encodings (the last base64url character carries 2 unused bits).
    if (given.length !== 16 || given.toString('base64url') !== match[2]) return undefined;
    let valid = false;
    for (const secret of this.secrets) valid = timingSafeEqual(given, this.tag(secret, kind, body)) || valid;
    if (!valid) return undefined;
    try {
      const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      return Array.isArray(payload) ? (payload as unknown[]) : undefined;
    } catch {
      return undefined;
    }
  }

  private tag(secret: Buffer, kind: TrackingTokenKind, body: string): Buffer {
    return createHmac('sha256', secret).update(`uxflow-email:${kind}:${body}`).digest().subarray(0, 16);
  }
}
