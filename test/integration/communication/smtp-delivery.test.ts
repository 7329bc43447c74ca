import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmailError,
  EnhancedEmailService,
  initializeEnhancedEmailService,
  SmtpProvider,
  type EmailJobQueue,
  type EnhancedEmailServiceOptions,
} from '../../../src/communication/index.js';
import { RateLimitError, UxFlowError, ValidationError } from '../../../src/core/index.js';
import { startDroppingPeer, startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-smtp');
const SECRET = 'a-test-tracking-secret-of-32-bytes-or-more!';
let primary: SmtpPeer;
let secondary: SmtpPeer;
const services: EnhancedEmailService[] = [];
let serviceCount = 0;

function service(overrides: Partial<EnhancedEmailServiceOptions> = {}): EnhancedEmailService {
  const created = new EnhancedEmailService({
    providers: [new SmtpProvider({ host: '127.0.0.1', port: primary.port, ignoreTLS: true, maxConnections: 2 })],
    defaultFrom: 'Flow <hello@flow.example>',
    redis,
    prefix: `${prefix}:${++serviceCount}`,
    templateDefaults: { productName: 'Flow' },
    tracking: { baseUrl: 'https://t.flow.example/email', secret: SECRET },
    ...overrides,
  });
  services.push(created);
  return created;
}

beforeAll(async () => {
  primary = await startSmtpPeer();
  secondary = await startSmtpPeer();
});

afterAll(async () => {
  await Promise.all(services.map((each) => each.close()));
  await Promise.all([primary.close(), secondary.close()]);
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('EnhancedEmailService over a real SMTP peer', () => {
  it('delivers a rendered template with escaped data, a text part, tracking and List-Unsubscribe', async () => {
    const email = service();
    const before = primary.received.length;
    const result = await email.send({
      to: 'Ada <ada@flow.example>',
      template: 'welcome',
      data: { name: '<script>alert(1)</script>', actionUrl: 'https://app.flow.example/start?a=1&b=2' },
      tags: ['onboarding'],
      listUnsubscribe: true,
    });
    expect(result.status).toBe('sent');
    expect(result.providerMessageId).toBe('ABC123');
    await primary.waitFor(before + 1);
    const { parsed, envelope } = primary.received[before]!;
    expect(envelope.to).toEqual(['ada@flow.example']);
    expect(parsed.subject).toBe('Welcome to Flow, <script>alert(1)</script>');
    expect(parsed.messageId).toBe(`<${result.messageId}@flow.example>`);
    const html = String(parsed.html);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('https://app.flow.example/start');
    expect(html).toMatch(/https:\/\/t\.flow\.example\/email\/t\/c\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}/);
    expect(html).toMatch(/\/t\/o\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.gif/);
    expect(html).not.toMatch(/<style[^>]*>[^@]*\.muted/); // class rules inlined, media queries kept
    expect(parsed.text).toContain('Welcome, <script>alert(1)</script>!');
    expect(parsed.text).toContain('https://app.flow.example/start?a=1&b=2');
    const head = primary.received[before]!.raw.toString().split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(head).toMatch(/^List-Unsubscribe: <https:\/\/t\.flow\.example\/email\/u\/[A-Za-z0-9_.-]+>$/m);
  });

  it('fails over to the next provider when the first answers 451', async () => {
    const failing = await startSmtpPeer('tempfail');
    try {
      const email = service({
        providers: [
          new SmtpProvider({ host: '127.0.0.1', port: failing.port, ignoreTLS: true, name: 'smtp-a' }),
          new SmtpProvider({ host: '127.0.0.1', port: secondary.port, ignoreTLS: true, name: 'smtp-b' }),
        ],
      });
      const before = secondary.received.length;
      const result = await email.send({ to: 'bob@flow.example', subject: 'Failover', text: 'hello' });
      expect(result.provider).toBe('smtp-b');
      await secondary.waitFor(before + 1);
      expect(secondary.received[before]!.parsed.subject).toBe('Failover');
    } finally {
      await Promise.all(services.map((each) => each.close()));
      await failing.close();
    }
  });

  it('does not fail over on a 550 and reports a permanent, typed error', async () => {
    const rejecting = await startSmtpPeer('permfail');
    try {
      const email = service({
        providers: [
          new SmtpProvider({ host: '127.0.0.1', port: rejecting.port, ignoreTLS: true, name: 'smtp-a' }),
          new SmtpProvider({ host: '127.0.0.1', port: secondary.port, ignoreTLS: true, name: 'smtp-b' }),
        ],
      });
      const before = secondary.received.length;
      const error = await email.send({ to: 'carol@flow.example', subject: 'Nope', text: 'x' }).catch((e: unknown) => e);
      expect(EmailError.isInstance(error)).toBe(true);
      const failure = error as EmailError;
      expect(failure.transient).toBe(false);
      expect(failure.attempts).toHaveLength(1);
      expect(failure.attempts[0]!).toMatchObject({ provider: 'smtp-a', failure: 'permanent', rawCode: 550 });
      expect(secondary.received.length).toBe(before);
    } finally {
      await Promise.all(services.map((each) => each.close()));
      await rejecting.close();
    }
  });

  it('treats a dropped connection as transient and fails over', async () => {
    const dropping = await startDroppingPeer();
    try {
      const email = service({
        providers: [
          new SmtpProvider({ host: '127.0.0.1', port: dropping.port, ignoreTLS: true, name: 'smtp-drop' }),
          new SmtpProvider({ host: '127.0.0.1', port: secondary.port, ignoreTLS: true, name: 'smtp-b' }),
        ],
      });
      const result = await email.send({ to: 'dan@flow.example', subject: 'After drop', text: 'x' });
      expect(result.provider).toBe('smtp-b');
      expect(dropping.connections).toBeGreaterThan(0);
    } finally {
      await Promise.all(services.map((each) => each.close()));
      await dropping.close();
    }
  });

  it('skips a provider whose circuit opened, without contacting it', async () => {
    const dropping = await startDroppingPeer();
    try {
      const email = service({
        providers: [
          new SmtpProvider({ host: '127.0.0.1', port: dropping.port, ignoreTLS: true, name: 'smtp-drop' }),
          new SmtpProvider({ host: '127.0.0.1', port: secondary.port, ignoreTLS: true, name: 'smtp-b' }),
        ],
        circuitBreaker: { minimumThroughput: 2, failureRateThreshold: 0.5, openTimeoutMs: 60_000 },
      });
      await email.send({ to: 'g1@flow.example', subject: 'c1', text: 'x' });
      await email.send({ to: 'g2@flow.example', subject: 'c2', text: 'x' });
      expect(email.providerHealth().map((h) => h.state)).toEqual(['open', 'closed']);
      const contacted = dropping.connections;
      const third = await email.send({ to: 'g3@flow.example', subject: 'c3', text: 'x' });
      expect(third.provider).toBe('smtp-b');
      expect(dropping.connections).toBe(contacted);
    } finally {
      await Promise.all(services.map((each) => each.close()));
      await dropping.close();
    }
  });

  it('reports a transient EmailError when every provider fails transiently', async () => {
    const failing = await startSmtpPeer('tempfail');
    try {
      const email = service({ providers: [new SmtpProvider({ host: '127.0.0.1', port: failing.port, ignoreTLS: true })] });
      const error = (await email.send({ to: 'eve@flow.example', subject: 's', text: 'x' }).catch((e: unknown) => e)) as EmailError;
      expect(error.transient).toBe(true);
      expect(error.attempts[0]!.rawCode).toBe(451);
    } finally {
      await Promise.all(services.map((each) => each.close()));
      await failing.close();
    }
  });

  it('sends once per idempotency key, even when called twice', async () => {
    const email = service();
    const before = primary.received.length;
    const first = await email.send({ to: 'frank@flow.example', subject: 'Once', text: 'x', idempotencyKey: 'order-42' });
    const second = await email.send({ to: 'frank@flow.example', subject: 'Once', text: 'x', idempotencyKey: 'order-42' });
    expect(first.status).toBe('sent');
    expect(second.status).toBe('duplicate');
    expect(second.messageId).toBe(first.messageId);
    await primary.waitFor(before + 1);
    expect(primary.received.filter((m) => m.parsed.subject === 'Once')).toHaveLength(1);
  });

  it('never mails a suppressed address and drops it from multi-recipient messages', async () => {
    const email = service();
    await email.suppress('gone@flow.example', 'hard-bounce');
    const alone = await email.send({ to: 'gone@flow.example', subject: 'Suppressed', text: 'x' });
    expect(alone.status).toBe('suppressed');
    const before = primary.received.length;
    const mixed = await email.send({ to: ['GONE@flow.example', 'kept@flow.example'], subject: 'Mixed', text: 'x' });
    expect(mixed.suppressed).toEqual(['GONE@flow.example']);
    await primary.waitFor(before + 1);
    expect(primary.received.at(-1)!.envelope.to).toEqual(['kept@flow.example']);
  });

  it('raises RateLimitError with retryAfterMs over the per-domain cap', async () => {
    const email = service({ rateLimits: { perRecipientDomain: [{ limit: 2, windowMs: 3_600_000 }] } });
    await email.send({ to: 'a@capped.example', subject: '1', text: 'x' });
    await email.send({ to: 'b@capped.example', subject: '2', text: 'x' });
    const error = await email.send({ to: 'c@capped.example', subject: '3', text: 'x' }).catch((e: unknown) => e);
    expect(RateLimitError.isInstance(error)).toBe(true);
    expect((error as RateLimitError).retryAfterMs).toBeGreaterThan(0);
    expect((error as RateLimitError).key).toBe('domain:capped.example');
    await expect(email.send({ to: 'a@other.example', subject: '4', text: 'x' })).resolves.toMatchObject({ status: 'sent' });
  });

  it('refuses header injection before anything is sent', async () => {
    const email = service();
    const before = primary.received.length;
    await expect(email.send({ to: 'x@flow.example', subject: 'Hi\r\nBcc: victim@evil.example', text: 'x' })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      field: 'subject',
    });
    await expect(email.send({ to: 'x@flow.example\nBcc: v@evil.example', subject: 's', text: 'x' })).rejects.toMatchObject({ field: 'to[0]' });
    await expect(email.send({ to: { name: 'A\r\nB', address: 'x@flow.example' }, subject: 's', text: 'x' })).rejects.toMatchObject({ field: 'to[0].name' });
    await expect(email.send({ to: 'x@flow.example', subject: 's', text: 'x', headers: { 'X-A': 'v\r\nBcc: e@evil.example' } })).rejects.toMatchObject({
      field: 'headers.X-A',
    });
    await expect(email.send({ to: 'a@flow.example, b@evil.example', subject: 's', text: 'x' })).rejects.toMatchObject({ field: 'to[0]' });
    expect(primary.received.length).toBe(before);
  });

  it('queues email_send jobs and processes them with the right failure classes', async () => {
    const jobs: { type: string; data: unknown; opts: unknown }[] = [];
    const queue: EmailJobQueue = {
      add: async (type, data, opts) => {
        jobs.push({ type, data: JSON.parse(JSON.stringify(data)), opts });
        return `job-${jobs.length}`;
      },
    };
    const email = initializeEnhancedEmailService(
      {
        providers: [new SmtpProvider({ host: '127.0.0.1', port: primary.port, ignoreTLS: true })],
        defaultFrom: 'hello@flow.example',
        redis,
        prefix: `${prefix}:queue`,
        templateDefaults: { productName: 'Flow' },
      },
      undefined,
      queue,
    );
    services.push(email);
    const jobId = await email.queueEmail({
      to: 'queued@flow.example',
      template: 'password-reset',
      data: { name: 'Q', resetUrl: 'https://app.flow.example/reset', expiresInMinutes: 30 },
      attachments: [{ filename: 'a.bin', content: new Uint8Array([1, 2, 3]) }],
    });
    expect(jobId).toBe('job-1');
    expect(jobs[0]!.type).toBe('email_send');
    const before = primary.received.length;
    const first = await email.processSendEmail(jobs[0]!.data);
    const retried = await email.processSendEmail(jobs[0]!.data);
    expect(first.status).toBe('sent');
    expect(retried.status).toBe('duplicate');
    await primary.waitFor(before + 1);
    const arrived = primary.received[before]!.parsed;
    expect(arrived.subject).toBe('Reset your Flow password');
    expect([...arrived.attachments[0]!.content]).toEqual([1, 2, 3]);

    const unrecoverable = await email.processSendEmail({ v: 1, message: { to: 'x@flow.example', template: 'welcome', data: {}, idempotencyKey: 'k-missing' } }).catch((e: unknown) => e);
    expect(UxFlowError.isInstance(unrecoverable) && unrecoverable.code).toBe('ERR_JOB_UNRECOVERABLE');
    expect((unrecoverable as Error).cause).toMatchObject({ code: 'ERR_TEMPLATE', variable: 'name' });
    await expect(email.queueEmail({ to: 'bad address', subject: 's', text: 'x' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('sends bulk mail in batches, skips suppressed recipients and reports progress', async () => {
    const email = service({ tracking: undefined });
    await email.suppress('bulk-2@flow.example', 'unsubscribe');
    const progress: number[] = [];
    const before = primary.received.length;
    const result = await email.sendBulk(
      [1, 2, 3, 4, 5].map((i) => ({ to: `bulk-${i}@flow.example`, data: { name: `User ${i}` } })),
      'welcome',
      { batchSize: 2, data: { actionUrl: 'https://app.flow.example' }, onProgress: (p) => progress.push(p.done) },
    );
    expect(result).toMatchObject({ total: 5, sent: 4, suppressed: 1, failed: 0, skipped: ['bulk-2@flow.example'] });
    expect(progress).toEqual([2, 4, 5]);
    await primary.waitFor(before + 4);
    const subjects = primary.received.slice(before).map((m) => m.parsed.subject).sort();
    expect(subjects).toEqual(['Welcome to Flow, User 1', 'Welcome to Flow, User 3', 'Welcome to Flow, User 4', 'Welcome to Flow, User 5']);
  });

  it('attaches a file from disk only when file attachments are allowed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uxflow-attach-'));
    const file = join(dir, 'report.txt');
    writeFileSync(file, 'quarterly numbers');
    try {
      await expect(service().send({ to: 'f@flow.example', subject: 'file', text: 'x', attachments: [{ path: file }] })).rejects.toMatchObject({
        field: 'attachments[0].path',
      });
      const before = primary.received.length;
      await service({ allowFileAttachments: true }).send({ to: 'f@flow.example', subject: 'file', text: 'x', attachments: [{ path: file }] });
      await primary.waitFor(before + 1);
      const attachment = primary.received.at(-1)!.parsed.attachments[0]!;
      expect(attachment.filename).toBe('report.txt');
      expect(attachment.content.toString()).toBe('quarterly numbers');
      await expect(service({ allowFileAttachments: true }).send({ to: 'f@flow.example', subject: 'dir', text: 'x', attachments: [{ path: dir }] })).rejects.toMatchObject({
        field: 'attachments[0].path',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts sent messages per template and tag', async () => {
    const email = service({ tracking: undefined });
    await email.send({ to: 's1@flow.example', template: 'welcome', data: { name: 'A', actionUrl: 'https://a.example' }, tags: ['t1'] });
    await email.send({ to: 's2@flow.example', subject: 'x', text: 'x', tags: ['t1', 't2'] });
    const stats = await email.getStats();
    expect(stats.total.sent).toBe(2);
    expect(stats.byTemplate['welcome']!.sent).toBe(1);
    expect(stats.byTag['t1']!.sent).toBe(2);
    expect(stats.byTag['t2']!.sent).toBe(1);
  });
});
