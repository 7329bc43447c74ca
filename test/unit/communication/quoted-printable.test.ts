import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { describe, expect, it } from 'vitest';
import { TemplateRegistry } from '../../../src/communication/index.js';
import { toMailOptions } from '../../../src/communication/providers/mime-message.js';
import { encodeQuotedPrintable, nodemailerTextEncoding } from '../../../src/communication/providers/quoted-printable.js';
import type { OutgoingEmail } from '../../../src/communication/types.js';

function message(html: string, text: string): OutgoingEmail {
  return {
    messageId: 'b3f7c1de-0000-4000-8000-000000000001',
    from: { name: 'Flow', address: 'news@flow.example' },
    to: [{ name: '', address: 'ada@flow.example' }],
    cc: [],
    bcc: [],
    replyTo: undefined,
    subject: 'Hello',
    html,
    text,
    headers: {},
    attachments: [],
    tags: [],
    template: undefined,
  };
}

/** The Content-Transfer-Encoding of each part of a built message, in order. */
function transferEncodings(raw: Buffer): string[] {
  return [...raw.toString().matchAll(/^Content-Transfer-Encoding: (\S+)/gim)].map((match) => (match[1] as string).toLowerCase());
}

const lf = (value: string): string => value.replace(/\r\n/g, '\n');

const registry = new TemplateRegistry();
const welcome = await registry.render('welcome', { productName: 'Flow', name: 'Zoë = "Ada" <ada@example.com>', actionUrl: 'https://app.example.com/start?a=1&b=2' });
const samples: Record<string, string> = {
  'MJML template': welcome.html,
  'its text part': welcome.text,
  'long ASCII line': `${'word '.repeat(60)}end`,
  'escapes at every cut position': Array.from({ length: 8 }, (_, index) => `${'x'.repeat(70 + index)}=é=`).join('\n'),
  'trailing whitespace': 'spaces at the end   \ntab at the end\t\n \n\t\nlast line ends in a space '.repeat(3) + 'x'.repeat(80),
  'line breaks of every kind': `crlf\r\nlf\nlone cr\rend ${'y'.repeat(90)}\n\n\nafter blank lines`,
  'mostly Latin with some other scripts': `Grüße, 你好, привет, emoji 🎉 and a long line: ${'abc '.repeat(40)}`,
  'DEL and other control characters': `del \x7f here ${'x'.repeat(80)}\nbell \x07 and form feed \x0c in a long enough line ${'y'.repeat(40)}`,
  'DEL as the only control character': `a\x7fb ${'z'.repeat(90)}`,
  'exactly 76 and 77 characters': `${'a'.repeat(76)}\n${'b'.repeat(77)}\n${'c'.repeat(75)}=\n${'d'.repeat(74)}é`,
};

describe('encodeQuotedPrintable', () => {
  it.each(Object.entries(samples))('writes valid quoted-printable for %s', (_name, text) => {
    const encoded = encodeQuotedPrintable(text);
    expect(encodeQuotedPrintable(text, { ascii: nodemailerTextEncoding(text).ascii })).toBe(encoded);
    for (const line of encoded.split('\r\n')) {
      expect(line.length).toBeLessThanOrEqual(76);
      expect(line).toMatch(/^[\t\x20-\x7e]*$/);
      expect(line).not.toMatch(/[ \t]$/);
      expect(line.replace(/=[0-9A-F]{2}/g, '').replace(/=$/, '')).not.toContain('=');
    }
  });

  it.each(Object.entries(samples))('gives back %s exactly once a mail client decodes it', async (_name, text) => {
    const html = `<p>${text}</p>`;
    const raw = await new MailComposer(toMailOptions(message(html, text))).compile().build();
    const parsed = await simpleParser(raw);
    expect(lf(String(parsed.html))).toBe(lf(html));
    expect(lf(parsed.text ?? '')).toBe(lf(text));
  });

  it('keeps the transfer encoding nodemailer chooses for every part', async () => {
    const extra = { 'short plain lines': 'Hi Ada,\nsee you soon.', 'mostly CJK': '你好世界'.repeat(40), 'no letters': '1234 '.repeat(40), empty: '' };
    for (const [name, text] of Object.entries({ ...samples, ...extra })) {
      const ours = await new MailComposer(toMailOptions(message(text, text))).compile().build();
      const plain = await new MailComposer({ ...toMailOptions(message(text, text)), html: text, text }).compile().build();
      expect(transferEncodings(ours), name).toEqual(transferEncodings(plain));
      const expected = transferEncodings(plain)[0];
      if (text !== '') expect(nodemailerTextEncoding(text).encoding, name).toBe(expected);
    }
  });

  it('leaves a single-part message to nodemailer, so its headers stay', async () => {
    const long = `<p>${'word '.repeat(40)}</p>`;
    for (const [html, text] of [[long, undefined], [undefined, long]] as const) {
      const raw = await new MailComposer(toMailOptions({ ...message('', ''), html, text })).compile().build();
      const parsed = await simpleParser(raw);
      expect(parsed.subject).toBe('Hello');
      expect(parsed.from?.value[0]?.address).toBe('news@flow.example');
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : undefined).toBe('ada@flow.example');
      // (nodemailer ends a single part with a line break)
      if (html !== undefined) expect(lf(String(parsed.html)).trimEnd()).toBe(html);
      else expect(lf(parsed.text ?? '').trimEnd()).toBe(text);
    }
  });
});
