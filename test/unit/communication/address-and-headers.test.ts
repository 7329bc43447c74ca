import { describe, expect, it } from 'vitest';
import { assertHeaderSafe, parseEmailAddress, parseEmailAddressList, validateAttachments, validateHeaders } from '../../../src/communication/index.js';
import { ValidationError } from '../../../src/core/index.js';

const closed = { allowFileAttachments: false, allowUrlAttachments: false };

describe('parseEmailAddress', () => {
  it('parses names and addresses with nodemailer\'s parser', () => {
    expect(parseEmailAddress('"Lovelace, Ada" <ada@example.com>', 'to')).toEqual({ name: 'Lovelace, Ada', address: 'ada@example.com' });
    expect(parseEmailAddress({ name: 'Ada', address: 'ada@example.com' }, 'to')).toEqual({ name: 'Ada', address: 'ada@example.com' });
    expect(parseEmailAddress('ädä@bücher.example', 'to').address).toBe('ädä@bücher.example');
  });

  it.each([
    ['a@example.com\r\nBcc: x@evil.example', 'to'],
    ['a@example.com, b@evil.example', 'to'],
    ['undisclosed:a@example.com,b@example.com;', 'to'],
    ['not an address', 'to'],
    ['a@localhost', 'to'],
    ['a..b@example.com', 'to'],
    ['@example.com', 'to'],
    ['a@-bad.example', 'to'],
    ['', 'to'],
  ])('refuses %j naming the field', (input, field) => {
    expect(() => parseEmailAddress(input, field)).toThrow(ValidationError);
    try {
      parseEmailAddress(input, field);
    } catch (error) {
      expect((error as ValidationError).field).toBe(field);
    }
  });

  it('refuses an object whose address smuggles a display name or a line break in the name', () => {
    expect(() => parseEmailAddress({ address: 'Evil <a@example.com>' }, 'from')).toThrow(/from.address/);
    expect(() => parseEmailAddress({ name: 'x\nBcc: y', address: 'a@example.com' }, 'from')).toThrow(/from.name/);
  });

  it('names the failing index in lists', () => {
    expect(() => parseEmailAddressList(['ok@example.com', 'bad'], 'cc')).toThrow(/"cc\[1\]"/);
  });
});

describe('validateHeaders', () => {
  it('accepts custom headers and refuses CR/LF, bad names and structural headers', () => {
    expect(validateHeaders({ 'X-Campaign': 'spring' })).toEqual({ 'X-Campaign': 'spring' });
    expect(() => validateHeaders({ 'X-A': 'v\r\nBcc: e@evil.example' })).toThrow(/"headers.X-A" must not contain CR, LF or NUL/);
    expect(() => validateHeaders({ 'X A': 'v' })).toThrow(/not a valid header name/);
    expect(() => validateHeaders({ 'X-A:B': 'v' })).toThrow(/not a valid header name/);
    for (const name of ['Bcc', 'content-type', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'Message-ID']) {
      expect(() => validateHeaders({ [name]: 'v' })).toThrow(/set by the service/);
    }
    expect(() => assertHeaderSafe('subject', 'a\u0000b')).toThrow(/"subject"/);
  });
});

describe('validateAttachments', () => {
  it('accepts inline content and refuses file paths and URLs unless allowed', () => {
    expect(validateAttachments([{ filename: 'a.txt', content: 'x' }], closed)).toHaveLength(1);
    expect(() => validateAttachments([{ path: '/etc/passwd' }], closed)).toThrow(/"attachments\[0\].path" is a file path/);
    expect(() => validateAttachments([{ path: 'https://internal.example/secret' }], closed)).toThrow(/URL attachments are disabled/);
    expect(() => validateAttachments([{ path: 'file:///etc/passwd' }], { allowFileAttachments: true, allowUrlAttachments: true })).toThrow(/unsupported scheme/);
    expect(() => validateAttachments([{ path: 'data:text/plain,hi' }], { allowFileAttachments: true, allowUrlAttachments: true })).toThrow(/unsupported scheme/);
    expect(validateAttachments([{ path: './report.pdf' }], { allowFileAttachments: true, allowUrlAttachments: false })).toHaveLength(1);
    expect(() => validateAttachments([{ filename: 'a\r\n.txt', content: 'x' }], closed)).toThrow(/filename/);
    expect(() => validateAttachments([{ content: 'x', path: './a' }], closed)).toThrow(/exactly one/);
  });
});
