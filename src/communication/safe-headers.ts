import { ValidationError } from '../core/validation-error.js';
import type { EmailAttachment } from './types.js';

const HEADER_NAME = /^[!-9;-~]{1,76}$/;
const CONTROL = /[\r\n\0]/;

// Built by the service (or the provider): a caller may not set or override them.
const RESERVED = new Set([
  'from', 'to', 'cc', 'bcc', 'reply-to', 'sender', 'subject', 'date', 'message-id', 'mime-version',
  'content-type', 'content-transfer-encoding', 'content-disposition', 'return-path', 'received',
  'list-unsubscribe', 'list-unsubscribe-post', 'dkim-signature', 'x-uxflow-message-id',
]);

/**
 * Throws a {@link ValidationError} naming `field` when `value` holds CR, LF or NUL (header
 * injection) or is not a string.
 *
 * @example
 * ```ts
 * assertHeaderSafe('subject', 'Hello\r\nBcc: victim@example.com'); // throws: "subject" must not contain CR, LF or NUL
 * ```
 */
export function assertHeaderSafe(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
  if (CONTROL.test(value)) throw new ValidationError(field, 'must not contain CR, LF or NUL');
}

/**
 * Validates custom headers: RFC 5322 names, no CR/LF/NUL in values, no structural header
 * (From, To, Subject, Content-Type, List-Unsubscribe, …) that the service builds itself.
 *
 * @example
 * ```ts
 * validateHeaders({ 'X-Campaign': 'spring' }); // { 'X-Campaign': 'spring' }
 * ```
 */
export function validateHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  if (typeof headers !== 'object' || headers === null) throw new ValidationError('headers', 'must be an object');
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new ValidationError(`headers.${name}`, 'is not a valid header name');
    if (RESERVED.has(name.toLowerCase())) throw new ValidationError(`headers.${name}`, 'is set by the service and cannot be overridden');
    assertHeaderSafe(`headers.${name}`, value);
    if (value.length > 998) throw new ValidationError(`headers.${name}`, 'must be at most 998 characters');
    out[name] = value;
  }
  return out;
}

/** What attachment sources a service accepts besides inline content. */
export interface AttachmentPolicy {
  allowFileAttachments: boolean;
  allowUrlAttachments: boolean;
}

/**
 * Validates attachments: inline content always; `path` from the file system or `http(s)` only
 * when allowed by the policy; other schemes (`data:`, `file:`) never.
 *
 * @example
 * ```ts
 * validateAttachments([{ filename: 'a.txt', content: 'hi' }], { allowFileAttachments: false, allowUrlAttachments: false });
 * ```
 */
export function validateAttachments(
  attachments: readonly EmailAttachment[] | undefined,
  policy: AttachmentPolicy,
): EmailAttachment[] {
  if (attachments === undefined) return [];
  if (!Array.isArray(attachments)) throw new ValidationError('attachments', 'must be an array');
  return attachments.map((attachment: EmailAttachment, index) => {
    const field = `attachments[${index}]`;
    if (typeof attachment !== 'object' || attachment === null) throw new ValidationError(field, 'must be an object');
    for (const key of ['filename', 'contentType', 'cid'] as const) {
      if (attachment[key] !== undefined) assertHeaderSafe(`${field}.${key}`, attachment[key]);
    }
    const hasContent = attachment.content !== undefined;
    const path = attachment.path;
    if (hasContent === (path !== undefined)) throw new ValidationError(field, 'must have exactly one of content or path');
    if (path !== undefined) {
      if (typeof path !== 'string' || path === '') throw new ValidationError(`${field}.path`, 'must be a non-empty string');
      if (/^https?:\/\//i.test(path)) {
        if (!policy.allowUrlAttachments) throw new ValidationError(`${field}.path`, 'is a URL; URL attachments are disabled (allowUrlAttachments)');
      } else if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)) {
        throw new ValidationError(`${field}.path`, 'uses an unsupported scheme');
      } else if (!policy.allowFileAttachments) {
        throw new ValidationError(`${field}.path`, 'is a file path; file attachments are disabled (allowFileAttachments)');
      }
    } else if (typeof attachment.content !== 'string' && !(attachment.content instanceof Uint8Array)) {
      throw new ValidationError(`${field}.content`, 'must be a string or bytes');
    }
    return { ...attachment };
  });
}
