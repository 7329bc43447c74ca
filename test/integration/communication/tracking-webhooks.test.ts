import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevProvider, EnhancedEmailService, type EmailProvider, type OutgoingEmail } from '../../../src/communication/index.js';
import { startHttpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-tracking');
const SECRET = 'tracking-secret-for-tests-0123456789abcdef';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const MAILGUN_KEY = 'mailgun-signing-key-0123456789';
const outbox: OutgoingEmail[] = [];
const recorder: EmailProvider = {
  name: 'recorder',
  send: async (message) => {
    outbox.push(message);
    return { provider: 'recorder', providerMessageId: message.messageId, accepted: message.to.map((t) => t.address), rejected: [] };
  },
};
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const workDir = mkdtempSync(join(tmpdir(), 'uxflow-email-'));
let certPem: string;
let rsaKeyPem: string;
let certPeer: Awaited<ReturnType<typeof startHttpPeer>>;
let email: EnhancedEmailService;
let server: Server;
let base: string;

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=sns.amazonaws.com', '-days', '2',
    '-keyout', join(workDir, 'key.pem'), '-out', join(workDir, 'cert.pem')], { stdio: 'ignore' });
  certPem = readFileSync(join(workDir, 'cert.pem'), 'utf8');
  rsaKeyPem = readFileSync(join(workDir, 'key.pem'), 'utf8');
  certPeer = await startHttpPeer((req, _body, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(certPem);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  // Routes the SNS certificate host to the local peer; certificate host checks run on the original URL.
  const snsFetch: typeof fetch = (input, init) =>
    globalThis.fetch((input instanceof Request ? input.url : input.toString()).replace('https://sns.us-east-1.amazonaws.com', certPeer.url), init);
  email = new EnhancedEmailService({
    providers: [recorder],
    defaultFrom: 'hello@flow.example',
    redis,
    prefix,
    templateDefaults: { productName: 'Flow' },
    tracking: { baseUrl: 'https://t.flow.example/email', secret: SECRET },
    webhooks: {
      sendgrid: { publicKey: sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') },
      mailgun: { signingKey: MAILGUN_KEY },
      ses: { topicArns: [TOPIC] },
    },
    fetch: snsFetch,
  });
  const app = express();
  app.use('/email', email.router());
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/email`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await certPeer.close();
  await email.close();
  rmSync(workDir, { recursive: true, force: true });
  await deleteKeys(redis, prefix);
  await redis.quit();
});

const local = (url: string): string => url.replace('https://t.flow.example/email', base);

async function sendTracked(to = 'ada@flow.example'): Promise<OutgoingEmail> {
  await email.send({
    to,
    template: 'notification-digest',
    data: { name: 'Ada', count: 2, period: 'today', items: [{ title: 'One', url: 'https://app.flow.example/1', summary: 's' }, { title: 'Two', url: 'https://app.flow.example/2', summary: 's' }] },
    tags: ['digest'],
    listUnsubscribe: true,
  });
  return outbox.at(-1)!;
}

function links(message: OutgoingEmail, kind: 'c' | 'o'): string[] {
  return [...(message.html ?? '').matchAll(new RegExp(`https://t\\.flow\\.example/email/t/${kind}/[A-Za-z0-9_.-]+`, 'g'))].map((m) => m[0]);
}

describe('click and open tracking', () => {
  it('redirects a signed click to the original URL and counts it once per link', async () => {
    const message = await sendTracked();
    const clicks = links(message, 'c');
    expect(clicks).toHaveLength(2);
    const response = await fetch(local(clicks[1]!), { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.flow.example/2');
    await fetch(local(clicks[1]!), { redirect: 'manual' });
    const stats = await email.getStats();
    expect(stats.byTemplate['notification-digest']!.clicked).toBe(1);
    expect(stats.byTag['digest']!.clicked).toBe(1);
  });

  it('answers 400 without a Location for tampered, foreign and cross-kind tokens', async () => {
    const message = await sendTracked();
    const click = links(message, 'c')[0]!;
    const token = click.slice(click.lastIndexOf('/') + 1);
    const [body, tag] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify([message.messageId, 0, 'https://evil.example/phish'])).toString('base64url');
    const candidates = [
      `${forged}.${tag}`,
      `${body}.${tag.slice(0, -1)}${tag.endsWith('A') ? 'B' : 'A'}`,
      `${body}.AAAAAAAAAAAAAAAAAAAAAA`,
      links(message, 'o')[0]!.replace(/\.gif$/, '').split('/').pop()!,
      'not-a-token',
    ];
    for (const candidate of candidates) {
      const response = await fetch(`${base}/t/c/${candidate}`, { redirect: 'manual' });
      expect(response.status, candidate).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    }
    const legacy = await fetch(`${base}/t/c/x?url=https://evil.example`, { redirect: 'manual' });
    expect(legacy.status).toBe(400);
  });

  it('serves the pixel, counts a unique open, and carries no address in the URL', async () => {
    const message = await sendTracked('pixel@flow.example');
    const pixel = links(message, 'o')[0]!;
    expect(pixel).not.toContain('pixel');
    expect(Buffer.from(pixel.split('/').pop()!.split('.')[0]!, 'base64url').toString()).not.toContain('@');
    const before = (await email.getStats()).total.opened;
    const response = await fetch(local(pixel));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(Buffer.from(await response.arrayBuffer()).subarray(0, 6).toString()).toBe('GIF89a');
    await fetch(local(pixel));
    expect((await email.getStats()).total.opened).toBe(before + 1);
  });
});

describe('one-click unsubscribe', () => {
  it('only unsubscribes on POST, then never mails the address again', async () => {
    const message = await sendTracked('leaver@flow.example');
    const url = /<(https:\/\/t\.flow\.example\/email\/u\/[^>]+)>/.exec(message.headers['List-Unsubscribe']!)![1]!;
    expect(message.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const page = await fetch(local(url));
    expect(page.status).toBe(200);
    expect(await email.store.getSuppression('leaver@flow.example')).toBeUndefined();
    const post = await fetch(local(url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(post.status).toBe(200);
    expect(await email.store.getSuppression('leaver@flow.example')).toMatchObject({ reason: 'unsubscribe' });
    expect((await email.send({ to: 'leaver@flow.example', subject: 's', text: 'x' })).status).toBe('suppressed');
    const tampered = await fetch(local(url.slice(0, -2) + 'AA'), { method: 'POST' });
    expect(tampered.status).toBe(400);
  });
});

function sendgridPost(events: unknown[], timestamp = Math.floor(Date.now() / 1000), key = sendgridKeys.privateKey): Promise<Response> {
  const body = JSON.stringify(events);
  const signature = sign('sha256', Buffer.from(`${timestamp}${body}`), key).toString('base64');
  return fetch(`${base}/webhooks/sendgrid`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': String(timestamp),
    },
    body,
  });
}

describe('SendGrid webhook', () => {
  it('applies a verified hard bounce once and suppresses the address', async () => {
    const message = await sendTracked('bounce-sg@flow.example');
    const event = { email: 'bounce-sg@flow.example', event: 'bounce', type: 'bounce', sg_event_id: `ev-${randomBytes(4).toString('hex')}`, timestamp: Math.floor(Date.now() / 1000), uxflow_message_id: message.messageId };
    const first = await sendgridPost([event]);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: 1, applied: 1 });
    const again = await sendgridPost([event]);
    expect(await again.json()).toEqual({ received: 1, applied: 0 });
    expect(await email.store.getSuppression('bounce-sg@flow.example')).toMatchObject({ reason: 'hard-bounce' });
    expect((await email.store.getMessage(message.messageId))?.status).toBe('bounced');
    expect((await email.getStats()).byTemplate['notification-digest']!.bounced).toBeGreaterThanOrEqual(1);
  });

  it('refuses a forged signature, a tampered body and an old timestamp', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const event = { email: 'x@flow.example', event: 'spamreport', sg_event_id: 'forged-1', timestamp: 1 };
    expect((await sendgridPost([event], undefined, other.privateKey)).status).toBe(401);
    expect((await sendgridPost([event], Math.floor(Date.now() / 1000) - 3600)).status).toBe(401);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(`${timestamp}[]`), sendgridKeys.privateKey).toString('base64');
    const tampered = await fetch(`${base}/webhooks/sendgrid`, {
      method: 'POST',
      headers: { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp },
      body: JSON.stringify([event]),
    });
    expect(tampered.status).toBe(401);
    expect(await email.store.getSuppression('x@flow.example')).toBeUndefined();
  });
});

function mailgunBody(eventData: Record<string, unknown>, timestamp = String(Math.floor(Date.now() / 1000)), token = randomBytes(25).toString('hex'), key = MAILGUN_KEY): string {
  const signature = createHmac('sha256', key).update(timestamp + token).digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

describe('Mailgun webhook', () => {
  it('applies a verified complaint and refuses the same token replayed', async () => {
    const body = mailgunBody({ id: `mg-${randomBytes(4).toString('hex')}`, event: 'complained', recipient: 'complainer@flow.example', timestamp: Date.now() / 1000 });
    const first = await fetch(`${base}/webhooks/mailgun`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(first.status).toBe(200);
    expect(await email.store.getSuppression('complainer@flow.example')).toMatchObject({ reason: 'complaint' });
    const replay = await fetch(`${base}/webhooks/mailgun`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(replay.status).toBe(401);
  });

  it('refuses a wrong key and an expired timestamp, and keeps soft bounces mailable', async () => {
    const wrong = mailgunBody({ id: 'mg-x', event: 'complained', recipient: 'w@flow.example' }, undefined, undefined, 'another-key-0123456789');
    expect((await fetch(`${base}/webhooks/mailgun`, { method: 'POST', body: wrong })).status).toBe(401);
    const old = mailgunBody({ id: 'mg-y', event: 'complained', recipient: 'w@flow.example' }, String(Math.floor(Date.now() / 1000) - 3600));
    expect((await fetch(`${base}/webhooks/mailgun`, { method: 'POST', body: old })).status).toBe(401);
    const soft = mailgunBody({ id: `mg-${randomBytes(4).toString('hex')}`, event: 'failed', severity: 'temporary', recipient: 'soft@flow.example' });
    expect((await fetch(`${base}/webhooks/mailgun`, { method: 'POST', body: soft })).status).toBe(200);
    expect(await email.store.getSuppression('w@flow.example')).toBeUndefined();
    expect(await email.store.getSuppression('soft@flow.example')).toBeUndefined();
  });
});

function snsBody(message: unknown, overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    Type: 'Notification',
    MessageId: `sns-${randomBytes(6).toString('hex')}`,
    TopicArn: TOPIC,
    Message: JSON.stringify(message),
    Timestamp: new Date().toISOString(),
    SignatureVersion: '2',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem',
    ...overrides,
  };
  const canonical = ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type'].map((key) => `${key}\n${fields[key]}\n`).join('');
  const signer = createSign('RSA-SHA256');
  signer.update(canonical);
  return JSON.stringify({ ...fields, Signature: signer.sign(rsaKeyPem, 'base64'), ...(overrides['Signature'] === undefined ? {} : { Signature: overrides['Signature'] }) });
}

describe('SES webhook via SNS', () => {
  const bounce = (address: string, messageId?: string) => ({
    eventType: 'Bounce',
    mail: { messageId: 'ses-1', tags: messageId === undefined ? {} : { uxflow_message_id: [messageId] } },
    bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: address }] },
  });

  it('applies a verified permanent bounce and ignores the same SNS message twice', async () => {
    const message = await sendTracked('bounce-ses@flow.example');
    const body = snsBody(bounce('bounce-ses@flow.example', message.messageId));
    const first = await fetch(`${base}/webhooks/ses`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(first.status).toBe(200);
    expect(await email.store.getSuppression('bounce-ses@flow.example')).toMatchObject({ reason: 'hard-bounce' });
    const again = await fetch(`${base}/webhooks/ses`, { method: 'POST', body });
    expect(await again.text()).toBe('duplicate');
  });

  it('refuses a foreign topic, a certificate off the SNS host, a bad signature and an old timestamp', async () => {
    const cases = [
      snsBody(bounce('t1@flow.example'), { TopicArn: 'arn:aws:sns:us-east-1:999999999999:other' }),
      snsBody(bounce('t1@flow.example'), { SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.example/cert.pem' }),
      snsBody(bounce('t1@flow.example'), { SigningCertURL: 'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem' }),
      snsBody(bounce('t1@flow.example'), { Signature: Buffer.from('forged').toString('base64') }),
      snsBody(bounce('t1@flow.example'), { Timestamp: new Date(Date.now() - 3_600_000).toISOString() }),
    ];
    for (const body of cases) {
      const response = await fetch(`${base}/webhooks/ses`, { method: 'POST', body });
      expect(response.status).toBe(401);
    }
    const tampered = JSON.parse(snsBody(bounce('t1@flow.example')));
    tampered.Message = JSON.stringify(bounce('victim@flow.example'));
    expect((await fetch(`${base}/webhooks/ses`, { method: 'POST', body: JSON.stringify(tampered) })).status).toBe(401);
    expect(await email.store.getSuppression('t1@flow.example')).toBeUndefined();
    expect(await email.store.getSuppression('victim@flow.example')).toBeUndefined();
  });
});

describe('development mode', () => {
  it('writes each message as .eml plus an HTML preview and logs the paths', async () => {
    const dir = join(workDir, 'outbox');
    const lines: unknown[] = [];
    const logger = { info: (obj: unknown) => lines.push(obj), warn: () => {}, error: () => {}, debug: () => {}, trace: () => {}, fatal: () => {}, child: () => logger };
    const dev = new EnhancedEmailService({ providers: [new DevProvider({ outputDir: dir, logger })], defaultFrom: 'dev@flow.example', redis, prefix: `${prefix}:dev`, templateDefaults: { productName: 'Flow' } });
    const result = await dev.send({ to: 'ada@flow.example', template: 'verify-email', data: { name: 'Ada', verifyUrl: 'https://app.flow.example/v', expiresInHours: 24 } });
    await dev.close();
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f.endsWith('.eml'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.html'))).toHaveLength(1);
    expect(files[0]).toContain(result.messageId);
    const eml = readFileSync(join(dir, files.find((f) => f.endsWith('.eml'))!), 'utf8');
    expect(eml).toContain('Subject: Verify your email address for Flow');
    expect(lines).toContainEqual(expect.objectContaining({ messageId: result.messageId, emlPath: expect.stringContaining('.eml') }));
  });
});
