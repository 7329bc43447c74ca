import type { IncomingMessage, ServerResponse } from 'node:http';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmailError,
  EnhancedEmailService,
  MailgunProvider,
  SendGridProvider,
  SesProvider,
  type EmailProvider,
  type EmailProviderError,
} from '../../../src/communication/index.js';
import { startHttpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-http');
const services: EnhancedEmailService[] = [];
type Reply = { status: number; headers?: Record<string, string>; body?: string };
let replies: Reply[] = [];
const seen: { provider: string; req: IncomingMessage; body: Buffer }[] = [];
let peer: Awaited<ReturnType<typeof startHttpPeer>>;

/** Parses the multipart body Mailgun receives, with undici's parser (small test bodies only). */
function parseForm(req: IncomingMessage, body: Buffer): Promise<FormData> {
  const request = new Request('http://peer.local', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body });
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- fine for small, trusted test bodies
  return request.formData();
}

function answer(res: ServerResponse, fallback: Reply): void {
  const reply = replies.shift() ?? fallback;
  res.writeHead(reply.status, reply.headers ?? {});
  res.end(reply.body ?? '');
}

beforeAll(async () => {
  peer = await startHttpPeer(async (req, body, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && url === '/v3/mail/send') {
      // SendGrid: Bearer key, JSON with personalizations, from, subject and content.
      if (req.headers.authorization !== 'Bearer SG.test-key') return answer(res, { status: 401, body: '{"errors":[{"message":"unauthorized"}]}' });
      const json = JSON.parse(body.toString()) as Record<string, unknown>;
      if (!Array.isArray(json['personalizations']) || typeof json['subject'] !== 'string' || !Array.isArray(json['content'])) {
        return answer(res, { status: 400, body: '{"errors":[{"message":"bad shape"}]}' });
      }
      seen.push({ provider: 'sendgrid', req, body });
      return answer(res, { status: 202, headers: { 'x-message-id': 'sg-msg-1' } });
    }
    if (req.method === 'POST' && url === '/v3/mg.flow.example/messages') {
      const expected = `Basic ${Buffer.from('api:key-test').toString('base64')}`;
      if (req.headers.authorization !== expected) return answer(res, { status: 401, body: 'Forbidden' });
      const form = await parseForm(req, body);
      if (typeof form.get('from') !== 'string' || form.getAll('to').length === 0 || typeof form.get('subject') !== 'string') {
        return answer(res, { status: 400, body: '{"message":"bad shape"}' });
      }
      seen.push({ provider: 'mailgun', req, body });
      return answer(res, { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id":"<mg-1@mg.flow.example>","message":"Queued. Thank you."}' });
    }
    if (req.method === 'POST' && url === '/v2/email/outbound-emails') {
      const auth = req.headers.authorization ?? '';
      if (!/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/ses\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(auth)) {
        return answer(res, { status: 403, headers: { 'x-amzn-errortype': 'UnrecognizedClientException' }, body: '{"message":"bad auth"}' });
      }
      const json = JSON.parse(body.toString()) as { Content?: { Raw?: { Data?: string } }; FromEmailAddress?: string };
      if (typeof json.Content?.Raw?.Data !== 'string' || typeof json.FromEmailAddress !== 'string') {
        return answer(res, { status: 400, headers: { 'x-amzn-errortype': 'BadRequestException' }, body: '{"message":"bad shape"}' });
      }
      seen.push({ provider: 'ses', req, body });
      return answer(res, { status: 200, headers: { 'content-type': 'application/json' }, body: '{"MessageId":"ses-msg-1"}' });
    }
    res.writeHead(404);
    res.end();
  });
});

afterAll(async () => {
  await Promise.all(services.map((each) => each.close()));
  await peer.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function service(providers: EmailProvider[]): EnhancedEmailService {
  const created = new EnhancedEmailService({ providers, defaultFrom: 'Flow <hello@flow.example>', redis, prefix: `${prefix}:${services.length}` });
  services.push(created);
  return created;
}

const sendgrid = (apiKey = 'SG.test-key'): SendGridProvider => new SendGridProvider({ apiKey, baseUrl: peer.url });
const mailgun = (): MailgunProvider => new MailgunProvider({ apiKey: 'key-test', domain: 'mg.flow.example', url: peer.url });
const ses = (): SesProvider =>
  new SesProvider({ region: 'eu-west-1', endpoint: peer.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });

describe('HTTP providers against local peers that check the request', () => {
  it('sends through SendGrid v3 with the message id as a custom arg', async () => {
    const result = await service([sendgrid()]).send({ to: 'ada@flow.example', cc: 'cc@flow.example', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi', tags: ['news'] });
    expect(result).toMatchObject({ status: 'sent', provider: 'sendgrid', providerMessageId: 'sg-msg-1' });
    const body = JSON.parse(seen.at(-1)!.body.toString());
    expect(body.personalizations).toEqual([{ to: [{ email: 'ada@flow.example' }], cc: [{ email: 'cc@flow.example' }] }]);
    expect(body.from).toEqual({ email: 'hello@flow.example', name: 'Flow' });
    expect(body.content).toEqual([{ type: 'text/plain', value: 'Hi' }, { type: 'text/html', value: '<p>Hi</p>' }]);
    expect(body.custom_args).toEqual({ uxflow_message_id: result.messageId });
    expect(body.categories).toEqual(['news']);
  });

  it('classifies SendGrid 429 as transient with Retry-After, and fails over to the next provider', async () => {
    replies = [{ status: 429, headers: { 'retry-after': '7' }, body: '{"errors":[]}' }];
    const result = await service([sendgrid(), mailgun()]).send({ to: 'bob@flow.example', subject: 'Over', text: 'x' });
    expect(result.provider).toBe('mailgun');
    replies = [{ status: 429, headers: { 'retry-after': '7' } }];
    const error = (await service([sendgrid()]).send({ to: 'bob@flow.example', subject: 'Over', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(error.transient).toBe(true);
    expect(error.retryAfterMs).toBe(7000);
    expect(error.attempts[0]).toMatchObject({ provider: 'sendgrid', failure: 'transient', rawCode: 429, retryAfterMs: 7000 });
  });

  it('classifies SendGrid 5xx as transient and 401 as permanent (no failover)', async () => {
    replies = [{ status: 503 }];
    const transient = (await service([sendgrid()]).send({ to: 'c@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(transient.attempts[0]).toMatchObject({ failure: 'transient', rawCode: 503 });
    const before = seen.length;
    const permanent = (await service([sendgrid('SG.wrong'), mailgun()]).send({ to: 'c@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(permanent.transient).toBe(false);
    expect(permanent.attempts).toHaveLength(1);
    expect(permanent.attempts[0]).toMatchObject({ provider: 'sendgrid', failure: 'permanent', rawCode: 401 });
    expect(seen.length).toBe(before);
  });

  it('batches bulk mail into SendGrid personalizations, one per recipient, skipping suppressed ones', async () => {
    const email = new EnhancedEmailService({
      providers: [sendgrid()],
      defaultFrom: 'Flow <hello@flow.example>',
      redis,
      prefix: `${prefix}:batch`,
      templateDefaults: { productName: 'Flow' },
      tracking: { baseUrl: 'https://t.flow.example/email', secret: 'batch-secret-0123456789abcdef0123456789' },
    });
    services.push(email);
    await email.suppress('r2@flow.example');
    const before = seen.length;
    const result = await email.sendBulk(
      [1, 2, 3, 4, 5].map((i) => `r${i}@flow.example`),
      'welcome',
      { providerBatching: true, batchSize: 3, data: { name: 'friend', actionUrl: 'https://app.flow.example' }, idempotencyKey: 'launch' },
    );
    expect(result).toMatchObject({ total: 5, sent: 4, suppressed: 1, failed: 0, skipped: ['r2@flow.example'] });
    type Personalization = { to: { email: string }[]; custom_args: Record<string, string>; headers: Record<string, string> };
    const requests = seen.slice(before).map((entry) => JSON.parse(entry.body.toString()) as { personalizations: Personalization[]; subject: string; custom_args?: unknown });
    expect(requests).toHaveLength(2);
    expect(requests.map((body) => body.personalizations.map((p) => p.to[0]!.email))).toEqual([
      ['r1@flow.example', 'r3@flow.example'],
      ['r4@flow.example', 'r5@flow.example'],
    ]);
    const personalization = requests[0]!.personalizations[0]!;
    expect(personalization.custom_args.uxflow_message_id).toBe(result.results[0]!.messageId);
    expect(personalization.headers['List-Unsubscribe']).toMatch(/^<https:\/\/t\.flow\.example\/email\/u\/.+>$/);
    expect(personalization.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(requests[0]!.subject).toBe('Welcome to Flow, friend');
    expect(requests[0]!.custom_args).toBeUndefined();
    const again = await email.sendBulk([1, 2, 3, 4, 5].map((i) => `r${i}@flow.example`), 'welcome', {
      providerBatching: true, batchSize: 3, data: { name: 'friend', actionUrl: 'https://app.flow.example' }, idempotencyKey: 'launch',
    });
    expect(again.results.every((r) => r.status === 'duplicate')).toBe(true);
    expect(seen.length).toBe(before + 2);
    await expect(email.sendBulk([{ to: 'a@flow.example', data: { name: 'x' } }], 'welcome', { providerBatching: true })).rejects.toMatchObject({ field: 'providerBatching' });
  });

  it('sends through Mailgun with basic auth, form fields, user variables and tags', async () => {
    const result = await service([mailgun()]).send({
      to: { name: 'Ada "L"', address: 'ada@flow.example' },
      subject: 'Mailgun',
      html: '<b>x</b>',
      tags: ['t1'],
      headers: { 'X-Campaign': 'spring' },
      attachments: [{ filename: 'a.txt', content: 'hello' }],
    });
    expect(result).toMatchObject({ provider: 'mailgun', providerMessageId: 'mg-1@mg.flow.example' });
    const { req, body } = seen.at(-1)!;
    const form = await parseForm(req, body);
    expect(form.getAll('to')).toEqual(['"Ada \\"L\\"" <ada@flow.example>']);
    expect(form.get('v:uxflow_message_id')).toBe(result.messageId);
    expect(form.get('o:tag')).toBe('t1');
    expect(form.get('h:X-Campaign')).toBe('spring');
    const file = form.get('attachment');
    if (!(file instanceof Blob)) throw new Error('attachment is not a file part');
    expect(await file.text()).toBe('hello');
  });

  it('classifies Mailgun 401 as permanent and 429 as transient', async () => {
    replies = [{ status: 429, body: 'slow down' }];
    const transient = (await service([mailgun()]).send({ to: 'a@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(transient.attempts[0]).toMatchObject({ provider: 'mailgun', failure: 'transient', rawCode: 429 });
    replies = [{ status: 401, body: 'Forbidden' }];
    const permanent = (await service([mailgun()]).send({ to: 'a@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect((permanent.attempts[0] as EmailProviderError).failure).toBe('permanent');
  });

  it('sends through SESv2 as signed raw MIME carrying our headers', async () => {
    const result = await service([ses()]).send({ to: 'ada@flow.example', bcc: 'audit@flow.example', subject: 'SES', text: 'via ses', headers: { 'X-Campaign': 'c1' } });
    expect(result).toMatchObject({ provider: 'ses', providerMessageId: 'ses-msg-1' });
    const json = JSON.parse(seen.at(-1)!.body.toString());
    expect(json.Destination).toEqual({ ToAddresses: ['ada@flow.example'], BccAddresses: ['audit@flow.example'] });
    expect(json.EmailTags).toEqual([{ Name: 'uxflow_message_id', Value: result.messageId }]);
    const mime = await simpleParser(Buffer.from(json.Content.Raw.Data, 'base64'));
    expect(mime.subject).toBe('SES');
    expect(mime.headers.get('x-campaign')).toBe('c1');
    expect(mime.text?.trim()).toBe('via ses');
  });

  it('classifies SES 429 as transient and 400 as permanent', async () => {
    replies = [{ status: 429, headers: { 'x-amzn-errortype': 'TooManyRequestsException', 'content-type': 'application/json' }, body: '{"message":"slow"}' }];
    const transient = (await service([ses()]).send({ to: 'a@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(transient.attempts[0]).toMatchObject({ provider: 'ses', failure: 'transient', rawCode: 429 });
    replies = [{ status: 400, headers: { 'x-amzn-errortype': 'MessageRejected', 'content-type': 'application/json' }, body: '{"message":"Email address is not verified."}' }];
    const permanent = (await service([ses(), sendgrid()]).send({ to: 'a@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
    expect(permanent.attempts).toHaveLength(1);
    expect(permanent.attempts[0]).toMatchObject({ provider: 'ses', failure: 'permanent', rawCode: 400 });
  });
});
