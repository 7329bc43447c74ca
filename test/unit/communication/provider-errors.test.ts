import { describe, expect, it } from 'vitest';
import {
  classifySmtpError,
  createEmailProviders,
  EmailError,
  EmailProviderError,
  httpFailure,
  parseRetryAfter,
  SendGridProvider,
  SesProvider,
  SmtpProvider,
} from '../../../src/communication/index.js';

describe('failure classes', () => {
  it('maps SMTP reply codes and socket errors', () => {
    expect(classifySmtpError('smtp', Object.assign(new Error('x'), { responseCode: 421 }))).toMatchObject({ failure: 'transient', rawCode: 421 });
    expect(classifySmtpError('smtp', Object.assign(new Error('x'), { responseCode: 554 }))).toMatchObject({ failure: 'permanent', rawCode: 554 });
    expect(classifySmtpError('smtp', Object.assign(new Error('x'), { code: 'ECONNECTION' }))).toMatchObject({ failure: 'transient' });
    expect(classifySmtpError('smtp', Object.assign(new Error('x'), { code: 'EAUTH' }))).toMatchObject({ failure: 'permanent' });
  });

  it.each([
    [429, 'transient'], [500, 'transient'], [503, 'transient'], [408, 'transient'],
    [400, 'permanent'], [401, 'permanent'], [403, 'permanent'], [422, 'permanent'],
  ] as const)('maps HTTP %i to %s', async (status, failure) => {
    const error = await httpFailure('sendgrid', new Response('{}', { status }), 0);
    expect(error).toMatchObject({ failure, rawCode: status, code: 'ERR_PROVIDER' });
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('12', 0)).toBe(12_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:01:00 GMT', 30_000)).toBe(30_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });

  it('summarises attempts in EmailError', () => {
    const error = new EmailError('x', [
      new EmailProviderError('a', 'transient', 'busy', { retryAfterMs: 5000 }),
      new EmailProviderError('b', 'permanent', 'rejected', { rawCode: 550 }),
    ]);
    expect(error).toMatchObject({ transient: false, retryAfterMs: 5000, code: 'ERR_EMAIL' });
    expect(EmailProviderError.isInstance(error.attempts[0])).toBe(true);
    expect(EmailProviderError.isInstance(error)).toBe(false);
  });
});

describe('createEmailProviders', () => {
  it('reads EMAIL_PROVIDER as a failover list and provider settings from the environment', async () => {
    const providers = createEmailProviders({ env: { EMAIL_PROVIDER: 'smtp,sendgrid', SMTP_HOST: 'mail.example', SMTP_PORT: '2525', SENDGRID_API_KEY: 'SG.x' } });
    expect(providers.map((p) => p.name)).toEqual(['smtp', 'sendgrid']);
    expect(providers[0]).toBeInstanceOf(SmtpProvider);
    expect(providers[1]).toBeInstanceOf(SendGridProvider);
    for (const provider of providers) await provider.close?.();
  });

  it('names the variable that is missing or malformed', () => {
    expect(() => createEmailProviders({ env: { EMAIL_PROVIDER: 'sendgrid' } })).toThrow(/"SENDGRID_API_KEY"/);
    expect(() => createEmailProviders({ env: { EMAIL_PROVIDER: 'pigeon' } })).toThrow(/"EMAIL_PROVIDER" must be one of/);
    expect(() => createEmailProviders({ env: { EMAIL_PROVIDER: 'smtp', SMTP_PORT: 'abc' } })).toThrow(/"SMTP_PORT"/);
    expect(() => createEmailProviders({ env: { EMAIL_PROVIDER: 'ses' } })).toThrow(/"AWS_SES_REGION"/);
  });

  it('creates the SES provider without loading the AWS SDK until the first send', () => {
    const [ses] = createEmailProviders({ env: { EMAIL_PROVIDER: 'ses', AWS_SES_REGION: 'eu-west-1' } });
    expect(ses).toBeInstanceOf(SesProvider);
  });
});
