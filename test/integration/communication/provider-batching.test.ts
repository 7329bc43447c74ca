import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnhancedEmailService, MailgunProvider, SendGridProvider, SesProvider, type EmailProvider } from '../../../src/communication/index.js';
import { startHttpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-batching');
const services: EnhancedEmailService[] = [];
let peer: Awaited<ReturnType<typeof startHttpPeer>>;

interface MailgunRequest {
  to: string[];
  subject: string;
  html: string;
  variables: Record<string, Record<string, string>>;
  fields: Record<string, string[]>;
}
interface SesBulkRequest {
  FromEmailAddress: string;
  DefaultContent: { Template: { TemplateContent: { Subject: string; Html?: string; Text?: string }; TemplateData: string; Headers?: { Name: string; Value: string }[] } };
  BulkEmailEntries: { Destination: { ToAddresses: string[] }; ReplacementTags?: { Name: string; Value: string }[]; ReplacementHeaders?: { Name: string; Value: string }[] }[];
}

const mailgunRequests: MailgunRequest[] = [];
const sesRequests: SesBulkRequest[] = [];
const sesRawSends: { Destination: { ToAddresses: string[] }; Content: { Raw: { Data: string } } }[] = [];
const sendgridBodies: { personalizations: { to: { email: string }[] }[] }[] = [];
/** Addresses the SES peer refuses per entry (as SES does for, e.g., an unverified recipient in the sandbox). */
const sesRejects = new Set<string>();
/** Statuses for the next requests, in order (default success). */
let mailgunStatuses: number[] = [];

function parseForm(req: IncomingMessage, body: Buffer): Promise<FormData> {
  const request = new Request('http://peer.local', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body });
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- fine for small, trusted test bodies
  return request.formData();
}

/** Every `%recipient.key%` a Mailgun field refers to. */
function recipientKeys(value: string): string[] {
  return [...value.matchAll(/%recipient\.([^%]+)%/g)].map((match) => match[1] ?? '');
}

beforeAll(async () => {
  peer = await startHttpPeer(async (req, body, res) => {
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (req.method === 'POST' && req.url === '/v3/mg.flow.example/messages') {
      if (req.headers.authorization !== `Basic ${Buffer.from('api:key-test').toString('base64')}`) return reply(401, { message: 'Forbidden' });
      const status = mailgunStatuses.shift() ?? 200;
      if (status !== 200) return reply(status, { message: 'try later' });
      const form = await parseForm(req, body);
      const fields: Record<string, string[]> = {};
      for (const [name, value] of form.entries()) if (typeof value === 'string') (fields[name] ??= []).push(value);
      const to = fields['to'] ?? [];
      const rawVariables = fields['recipient-variables']?.[0];
      // Mailgun's rules for batch sending: at most 1,000 recipients, and recipient-variables
      // (a JSON object keyed by address) for each, or every recipient sees the whole list.
      if (to.length === 0 || to.length > 1000 || rawVariables === undefined) return reply(400, { message: 'bad batch' });
      const variables = JSON.parse(rawVariables) as Record<string, Record<string, string>>;
      const addresses = to.map((entry) => /<([^>]+)>$/.exec(entry)?.[1] ?? entry);
      if (addresses.some((address) => variables[address] === undefined) || Object.keys(variables).length !== addresses.length) {
        return reply(400, { message: 'recipient-variables must cover every recipient' });
      }
      const used = Object.values(fields).flat().flatMap(recipientKeys);
      for (const address of addresses) {
        if (used.some((key) => typeof variables[address]?.[key] !== 'string')) return reply(400, { message: `missing variable for ${address}` });
      }
      mailgunRequests.push({ to: addresses, subject: fields['subject']?.[0] ?? '', html: fields['html']?.[0] ?? '', variables, fields });
      return reply(200, { id: `<batch-${mailgunRequests.length}@mg.flow.example>`, message: 'Queued. Thank you.' });
    }
    if (req.method === 'POST' && req.url === '/v2/email/outbound-bulk-emails') {
      if (!/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/ses\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(req.headers.authorization ?? '')) {
        return reply(403, { message: 'bad auth' }, { 'x-amzn-errortype': 'UnrecognizedClientException' });
      }
      const json = JSON.parse(body.toString()) as SesBulkRequest;
      const template = json.DefaultContent?.Template;
      const entries = json.BulkEmailEntries;
      // SendBulkEmail: a template (here inline content), 1 to 50 entries, each with a destination.
      if (
        typeof json.FromEmailAddress !== 'string' ||
        typeof template?.TemplateContent?.Subject !== 'string' ||
        typeof template.TemplateData !== 'string' ||
        !Array.isArray(entries) ||
        entries.length === 0 ||
        entries.length > 50 ||
        entries.some((entry) => !Array.isArray(entry.Destination?.ToAddresses) || entry.Destination.ToAddresses.length === 0)
      ) {
        return reply(400, { message: 'bad shape' }, { 'x-amzn-errortype': 'BadRequestException' });
      }
      sesRequests.push(json);
      return reply(200, {
        BulkEmailEntryResults: entries.map((entry, index) =>
          sesRejects.has(entry.Destination.ToAddresses[0] ?? '')
            ? { Status: 'MESSAGE_REJECTED', Error: 'Email address is not verified.' }
            : { Status: 'SUCCESS', MessageId: `ses-${sesRequests.length}-${index}` },
        ),
      });
    }
    if (req.method === 'POST' && req.url === '/v2/email/outbound-emails') {
      const json = JSON.parse(body.toString()) as (typeof sesRawSends)[number];
      if (typeof json.Content?.Raw?.Data !== 'string') return reply(400, { message: 'bad shape' }, { 'x-amzn-errortype': 'BadRequestException' });
      sesRawSends.push(json);
      return reply(200, { MessageId: `ses-raw-${sesRawSends.length}` });
    }
    if (req.method === 'POST' && req.url === '/v3/mail/send') {
      if (req.headers.authorization !== 'Bearer SG.test-key') return reply(401, { errors: [] });
      sendgridBodies.push(JSON.parse(body.toString()) as (typeof sendgridBodies)[number]);
      res.writeHead(202, { 'x-message-id': `sg-${sendgridBodies.length}` });
      res.end();
      return;
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

function service(providers: EmailProvider[], tracked = true): EnhancedEmailService {
  const created = new EnhancedEmailService({
    providers,
    defaultFrom: 'Flow <hello@flow.example>',
    redis,
    prefix: `${prefix}:${services.length}`,
    templateDefaults: { productName: 'Flow' },
    tracking: tracked
      ? { baseUrl: 'https://t.flow.example/email', secret: 'batch-secret-0123456789abcdef0123456789', opens: false, clicks: false }
      : undefined,
    circuitBreaker: false,
  });
  services.push(created);
  return created;
}

const mailgun = (): MailgunProvider => new MailgunProvider({ apiKey: 'key-test', domain: 'mg.flow.example', url: peer.url });
const ses = (): SesProvider =>
  new SesProvider({ region: 'eu-west-1', endpoint: peer.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
const sendgrid = (): SendGridProvider => new SendGridProvider({ apiKey: 'SG.test-key', baseUrl: peer.url });
const data = { name: 'friend', actionUrl: 'https://app.flow.example' };
const people = (count: number, tag: string): string[] => Array.from({ length: count }, (_, i) => `${tag}${i}@flow.example`);

describe('bulk mail in provider batches', () => {
  it('sends Mailgun batches with recipient-variables: one request per chunk, own message id and List-Unsubscribe per recipient', async () => {
    const email = service([mailgun()]);
    await email.suppress('mg3@flow.example');
    const recipients = people(7, 'mg');
    const before = mailgunRequests.length;
    const result = await email.sendBulk(recipients, 'welcome', { batchSize: 3, data, idempotencyKey: 'mg-launch' });
    expect(result).toMatchObject({ total: 7, sent: 6, suppressed: 1, failed: 0, skipped: ['mg3@flow.example'] });
    const requests = mailgunRequests.slice(before);
    expect(requests.map((request) => request.to)).toEqual([
      ['mg0@flow.example', 'mg1@flow.example', 'mg2@flow.example'],
      ['mg4@flow.example', 'mg5@flow.example'],
      ['mg6@flow.example'],
    ]);
    const first = requests[0]!;
    expect(first.subject).toBe('Welcome to Flow, friend');
    expect(first.fields['v:uxflow_message_id']).toEqual(['%recipient.uxflow_message_id%']);
    expect(first.fields['h:List-Unsubscribe']).toEqual(['%recipient.h:List-Unsubscribe%']);
    expect(first.fields['h:List-Unsubscribe-Post']).toEqual(['%recipient.h:List-Unsubscribe-Post%']);
    const byAddress = new Map(result.results.map((entry) => [entry.accepted[0], entry]));
    const ada = first.variables['mg0@flow.example']!;
    expect(ada['uxflow_message_id']).toBe(byAddress.get('mg0@flow.example')!.messageId);
    expect(ada['h:List-Unsubscribe']).toMatch(/^<https:\/\/t\.flow\.example\/email\/u\/.+>$/);
    expect(ada['h:List-Unsubscribe']).not.toBe(first.variables['mg1@flow.example']!['h:List-Unsubscribe']);
    expect(byAddress.get('mg0@flow.example')).toMatchObject({ provider: 'mailgun', providerMessageId: 'batch-1@mg.flow.example'.replace('1', String(before + 1)) });
    // Re-running the same bulk send mails nobody twice.
    const again = await email.sendBulk(recipients, 'welcome', { batchSize: 3, data, idempotencyKey: 'mg-launch' });
    expect(again).toMatchObject({ sent: 6, suppressed: 1, failed: 0 });
    expect(again.results.every((entry) => entry.status === 'duplicate')).toBe(true);
    expect(mailgunRequests.length).toBe(before + 3);
    const stats = await email.getStats();
    expect(stats.byTemplate['welcome']?.sent).toBe(6);
  });

  it('retries a Mailgun batch that got a 429 without re-sending the chunks already accepted', async () => {
    const email = service([mailgun()]);
    const recipients = people(4, 'retry');
    const before = mailgunRequests.length;
    mailgunStatuses = [200, 429];
    const first = await email.sendBulk(recipients, 'welcome', { batchSize: 2, data, idempotencyKey: 'retry-run' });
    expect(first).toMatchObject({ sent: 2, failed: 2 });
    expect(first.failures.map((failure) => failure.to)).toEqual(['retry2@flow.example', 'retry3@flow.example']);
    const second = await email.sendBulk(recipients, 'welcome', { batchSize: 2, data, idempotencyKey: 'retry-run' });
    expect(second).toMatchObject({ sent: 4, failed: 0 });
    expect(second.results.filter((entry) => entry.status === 'duplicate')).toHaveLength(2);
    expect(mailgunRequests.slice(before).map((request) => request.to)).toEqual([
      ['retry0@flow.example', 'retry1@flow.example'],
      ['retry2@flow.example', 'retry3@flow.example'],
    ]);
  });

  it('never puts one address twice in a batch (recipient-variables are keyed by address)', async () => {
    const email = service([mailgun()]);
    const before = mailgunRequests.length;
    const result = await email.sendBulk(['dup@flow.example', 'other@flow.example', 'DUP@flow.example'], 'welcome', { data });
    expect(result.sent).toBe(3);
    const requests = mailgunRequests.slice(before).map((request) => request.to.map((address) => address.toLowerCase()));
    expect(requests).toEqual([['dup@flow.example', 'other@flow.example'], ['dup@flow.example']]);
  });

  it('sends SES SendBulkEmail in chunks of at most 50, with per-entry tags and headers, and reports per-entry refusals', async () => {
    const email = service([ses()]);
    await email.suppress('ses10@flow.example');
    sesRejects.add('ses20@flow.example');
    const recipients = people(120, 'ses');
    const before = sesRequests.length;
    const progress: number[] = [];
    const result = await email.sendBulk(recipients, 'welcome', { data, idempotencyKey: 'ses-run', onProgress: (p) => progress.push(p.done) });
    expect(result).toMatchObject({ total: 120, sent: 118, suppressed: 1, failed: 1, skipped: ['ses10@flow.example'] });
    expect(result.failures[0]).toMatchObject({ to: 'ses20@flow.example' });
    expect(result.failures[0]!.error.message).toContain('MESSAGE_REJECTED');
    expect(progress).toEqual([50, 100, 120]);
    const requests = sesRequests.slice(before);
    expect(requests.map((request) => request.BulkEmailEntries.length)).toEqual([49, 50, 20]);
    const request = requests[0]!;
    expect(request.FromEmailAddress).toBe('"Flow" <hello@flow.example>');
    expect(request.DefaultContent.Template.TemplateContent.Subject).toBe('Welcome to Flow, friend');
    expect(request.DefaultContent.Template.TemplateContent.Html).toContain('friend');
    expect(request.DefaultContent.Template.TemplateData).toBe('{}');
    const entry = request.BulkEmailEntries[0]!;
    expect(entry.Destination.ToAddresses).toEqual(['ses0@flow.example']);
    const sent0 = result.results.find((each) => each.accepted[0] === 'ses0@flow.example')!;
    expect(entry.ReplacementTags).toEqual([{ Name: 'uxflow_message_id', Value: sent0.messageId }]);
    expect(sent0.providerMessageId).toBe(`ses-${before + 1}-0`);
    expect(entry.ReplacementHeaders?.map((header) => header.Name)).toEqual(['List-Unsubscribe', 'List-Unsubscribe-Post']);
    // A retry sends only the refused recipient again.
    sesRejects.clear();
    const retry = await email.sendBulk(recipients, 'welcome', { data, idempotencyKey: 'ses-run' });
    expect(retry).toMatchObject({ sent: 119, failed: 0 });
    expect(sesRequests.slice(before + 3).map((each) => each.BulkEmailEntries.map((e) => e.Destination.ToAddresses[0]))).toEqual([['ses20@flow.example']]);
  });

  it("sends SES content that holds '{{' as one raw message per recipient, never as template syntax", async () => {
    const email = service([ses()]);
    const before = sesRequests.length;
    const rawBefore = sesRawSends.length;
    const result = await email.sendBulk(['curly1@flow.example', 'curly2@flow.example'], 'welcome', { data: { ...data, name: '{{secret}}' } });
    expect(result).toMatchObject({ sent: 2, failed: 0 });
    expect(sesRequests.length).toBe(before);
    const raw = sesRawSends.slice(rawBefore);
    expect(raw.map((each) => each.Destination.ToAddresses)).toEqual([['curly1@flow.example'], ['curly2@flow.example']]);
    expect(Buffer.from(raw[0]!.Content.Raw.Data, 'base64').toString()).toContain('{{secret}}');
  });

  it("'auto' batches only when recipients would get the same thing: not with tracking or per-recipient data", async () => {
    const tracked = new EnhancedEmailService({
      providers: [sendgrid()],
      defaultFrom: 'Flow <hello@flow.example>',
      redis,
      prefix: `${prefix}:tracked`,
      templateDefaults: { productName: 'Flow' },
      tracking: { baseUrl: 'https://t.flow.example/email', secret: 'batch-secret-0123456789abcdef0123456789' },
    });
    services.push(tracked);
    const before = sendgridBodies.length;
    await tracked.sendBulk(people(3, 'tr'), 'welcome', { data });
    expect(sendgridBodies.length).toBe(before + 3);
    const plain = service([sendgrid()], false);
    await plain.sendBulk(people(3, 'pl'), 'welcome', { data });
    expect(sendgridBodies.length).toBe(before + 4);
    expect(sendgridBodies.at(-1)!.personalizations).toHaveLength(3);
    await plain.sendBulk(people(2, 'pd').map((to, i) => ({ to, data: { name: `n${i}` } })), 'welcome', { data });
    expect(sendgridBodies.length).toBe(before + 6);
    await plain.sendBulk(people(2, 'off'), 'welcome', { data, providerBatching: false });
    expect(sendgridBodies.length).toBe(before + 8);
  });

  it('fails over a whole batch to the next provider on a transient failure', async () => {
    const email = service([mailgun(), ses()]);
    mailgunStatuses = [503];
    const beforeSes = sesRequests.length;
    const result = await email.sendBulk(people(3, 'fo'), 'welcome', { data });
    expect(result).toMatchObject({ sent: 3, failed: 0 });
    expect(result.results.every((entry) => entry.provider === 'ses')).toBe(true);
    expect(sesRequests.length).toBe(beforeSes + 1);
  });
});
