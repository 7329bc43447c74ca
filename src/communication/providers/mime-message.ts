import type { SendMailOptions } from 'nodemailer';
import type { EmailAddress, OutgoingEmail } from '../types.js';
import { encodeQuotedPrintable, nodemailerTextEncoding } from './quoted-printable.js';

/**
 * The nodemailer message for an {@link OutgoingEmail}: used by the SMTP transport, and by
 * MailComposer to build raw MIME for SES and the development provider. Nodemailer never reads
 * files or URLs here: attachments are already resolved to content.
 *
 * @example
 * ```ts
 * const raw = await new MailComposer(toMailOptions(message)).compile().build();
 * ```
 */
export function toMailOptions(message: OutgoingEmail): SendMailOptions {
  const domain = message.from.address.slice(message.from.address.lastIndexOf('@') + 1);
  const options: SendMailOptions = {
    messageId: `<${message.messageId}@${domain}>`,
    from: address(message.from),
    to: message.to.map(address),
    subject: message.subject,
    headers: { ...message.headers, 'X-UxFlow-Message-Id': message.messageId },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (message.cc.length > 0) options.cc = message.cc.map(address);
  if (message.bcc.length > 0) options.bcc = message.bcc.map(address);
  if (message.replyTo !== undefined) options.replyTo = address(message.replyTo);
  // Pre-encoded parts only as children of multipart/alternative: a raw node at the root would
  // replace the message's own headers.
  const alternative = message.html !== undefined && message.text !== undefined;
  if (message.html !== undefined) options.html = alternative ? textPart(message.html, 'text/html') : message.html;
  if (message.text !== undefined) options.text = alternative ? textPart(message.text, 'text/plain') : message.text;
  if (message.attachments.length > 0) {
    options.attachments = message.attachments.map((attachment) => ({
      ...(attachment.filename === undefined ? {} : { filename: attachment.filename }),
      ...(attachment.contentType === undefined ? {} : { contentType: attachment.contentType }),
      ...(attachment.cid === undefined ? {} : { cid: attachment.cid }),
      ...(attachment.encoding === undefined ? {} : { encoding: attachment.encoding }),
      content: typeof attachment.content === 'string' ? attachment.content : Buffer.from(attachment.content ?? new Uint8Array()),
    }));
  }
  return options;
}

/**
 * A text part as nodemailer would write it. When nodemailer would pick quoted-printable, the part
 * is handed over already encoded (a raw part with its two headers): the same transfer encoding,
 * the same decoded content, but encoded in one pass here instead of in nodemailer's stream of
 * per-character work, which costs more CPU than the rest of a send. 7bit and base64 parts are
 * left to nodemailer.
 */
function textPart(content: string, type: 'text/html' | 'text/plain'): string | { raw: string } {
  const { encoding, ascii } = nodemailerTextEncoding(content);
  if (encoding !== 'quoted-printable') return content;
  return { raw: `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encodeQuotedPrintable(content, { ascii })}` };
}

function address(value: EmailAddress): { name: string; address: string } {
  return { name: value.name, address: value.address };
}

/** Every envelope recipient of a message. */
export function recipientsOf(message: OutgoingEmail): string[] {
  return [...message.to, ...message.cc, ...message.bcc].map((entry) => entry.address);
}
