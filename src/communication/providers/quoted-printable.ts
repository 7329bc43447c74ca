/** What needs an escape besides `=`, CR and LF: control characters but tab, DEL, and all beyond ASCII. */
const OTHER_ESCAPED = /[^\t\n\r\x20-\x7e]/u;
const OTHER_ESCAPED_ALL = /[^\t\n\r\x20-\x7e]/gu;
/** What nodemailer counts as non-Latin when it picks quoted-printable or base64 (`_getTextEncoding`). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NON_LATIN = /[\x00-\x08\x0b\x0c\x0e-\x1f\u0080-\uffff]/;
const LATIN_LETTER = /[A-Za-z]/;
/** A line longer than 76 characters (nodemailer's limit for sending a part as 7bit). */
const LONG_LINE = /^.{77,}/m;
const HEX = '0123456789ABCDEF';

/**
 * Encodes text as quoted-printable (RFC 2045 §6.7): printable ASCII stays as it is, `=`, control
 * characters and UTF-8 bytes beyond ASCII become `=XX`, whitespace at the end of a line is
 * encoded, line breaks become CRLF, and soft line breaks (`=` + CRLF) keep every line at 76
 * characters at most without splitting an `=XX`. Decoding gives the text back exactly (with
 * CRLF line breaks, which MIME text has on the wire anyway).
 *
 * `ascii: true` says the text has no control characters but tab, CR and LF and nothing beyond
 * ASCII (as {@link nodemailerTextEncoding} found), which saves a scan.
 *
 * @example
 * ```ts
 * encodeQuotedPrintable('a=b café'); // 'a=3Db caf=C3=A9'
 * ```
 */
export function encodeQuotedPrintable(text: string, options: { ascii?: boolean } = {}): string {
  // Whole-text passes first (one native replace each), then the per-line rules.
  let escaped = text.includes('=') ? text.replaceAll('=', '=3D') : text;
  // Known printable ASCII but DEL (nodemailerTextEncoding found nothing else): one memchr.
  const other = options.ascii === true ? escaped.includes('\x7f') : OTHER_ESCAPED.test(escaped);
  if (other) escaped = escaped.replace(OTHER_ESCAPED_ALL, escapeCharacter);
  const lines = escaped.includes('\r') ? escaped.split(/\r?\n/) : escaped.split('\n');
  for (let index = 0; index < lines.length; index++) lines[index] = encodeLine(lines[index] as string);
  return lines.join('\r\n');
}

function encodeLine(line: string): string {
  // A CR left here is not part of a line break: it is data.
  let encoded = line.includes('\r') ? line.replaceAll('\r', '=0D') : line;
  const last = encoded.charCodeAt(encoded.length - 1);
  if (last === 0x20 || last === 0x09) encoded = `${encoded.slice(0, -1)}${last === 0x20 ? '=20' : '=09'}`;
  if (encoded.length <= 76) return encoded;
  const parts: string[] = [];
  let start = 0;
  while (encoded.length - start > 76) {
    let cut = start + 75;
    // Never split an =XX: every = left in the text starts one.
    if (encoded.charCodeAt(cut - 1) === 0x3d) cut -= 1;
    else if (encoded.charCodeAt(cut - 2) === 0x3d) cut -= 2;
    parts.push(encoded.slice(start, cut));
    start = cut;
  }
  parts.push(encoded.slice(start));
  return parts.join('=\r\n');
}

function escapeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x80) return `=${HEX[code >> 4] as string}${HEX[code & 15] as string}`;
  let out = '';
  for (const byte of Buffer.from(character, 'utf8')) out += `=${HEX[byte >> 4] as string}${HEX[byte & 15] as string}`;
  return out;
}

/** A transfer encoding nodemailer picks for a text part. */
export type TextTransferEncoding = '7bit' | 'quoted-printable' | 'base64';

/**
 * The transfer encoding nodemailer gives a text part with this content: `7bit` for plain ASCII
 * whose lines fit in 76 characters, else quoted-printable when Latin letters outnumber other
 * characters, else base64 (the same rules as nodemailer's `MimeNode`). `ascii` tells whether the
 * content is printable ASCII plus tab, CR, LF and DEL (for {@link encodeQuotedPrintable}).
 */
export function nodemailerTextEncoding(content: string): { encoding: TextTransferEncoding; ascii: boolean } {
  if (!NON_LATIN.test(content)) {
    // nodemailer does not look for long lines past 128 kB: it assumes there are some.
    if (content.length <= 128 * 1024 && !LONG_LINE.test(content)) return { encoding: '7bit', ascii: true };
    return { encoding: LATIN_LETTER.test(content) ? 'quoted-printable' : 'base64', ascii: true };
  }
  let nonLatin = 0;
  let latin = 0;
  for (let index = 0; index < content.length; index++) {
    const code = content.charCodeAt(index);
    if (code <= 0x08 || code === 0x0b || code === 0x0c || (code >= 0x0e && code <= 0x1f) || code >= 0x80) nonLatin++;
    else if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin++;
  }
  return { encoding: nonLatin < latin ? 'quoted-printable' : 'base64', ascii: false };
}
