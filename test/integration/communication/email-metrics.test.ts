import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnhancedEmailService, SmtpProvider, type EmailEvent } from '../../../src/communication/index.js';
import { startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';
import { parsePrometheusText, type Family } from '../../helpers/monitoring-prom-parser.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const redis = connectShared();
const prefix = testPrefix('communication-metrics');
let ok: SmtpPeer;
let refusing: SmtpPeer;
let email: EnhancedEmailService;
const registry = new Registry();

beforeAll(async () => {
  ok = await startSmtpPeer('accept', { parse: false });
  refusing = await startSmtpPeer('permfail');
  email = new EnhancedEmailService({
    providers: [new SmtpProvider({ host: '127.0.0.1', port: ok.port, ignoreTLS: true, name: 'relay' })],
    defaultFrom: 'Flow <hello@flow.example>',
    redis,
    prefix,
    templateDefaults: { productName: 'Flow' },
    rateLimits: { perSender: false, perRecipientDomain: [{ limit: 3, windowMs: 3_600_000 }] },
    metricsRegistry: registry,
  });
});

afterAll(async () => {
  await email.close();
  await Promise.all([ok.close(), refusing.close()]);
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function sample(family: Family | undefined, labels: Record<string, string>): number | undefined {
  return family?.samples.find((each) => Object.entries(labels).every(([name, value]) => each.labels[name] === value))?.value;
}

describe('email metrics on a prom-client registry', () => {
  it('exposes sends, failures, durations, suppression hits, rate-limit delays and delivery events in valid exposition text', async () => {
    await email.send({ to: 'ada@one.example', template: 'welcome', data: { name: 'Ada', actionUrl: 'https://app.flow.example' } });
    await email.send({ to: 'bob@one.example', subject: 'Plain', text: 'hi' });
    await email.suppress('gone@two.example');
    await email.send({ to: 'gone@two.example', subject: 'Nope', text: 'x' });
    await email.send({ to: 'c@three.example', subject: 'a', text: 'x' });
    await email.send({ to: 'd@three.example', subject: 'b', text: 'x' });
    await email.send({ to: 'e@three.example', subject: 'c', text: 'x' });
    const limited = (await email.send({ to: 'f@three.example', subject: 'd', text: 'x' }).catch((error: unknown) => error)) as { code: string; retryAfterMs: number };
    expect(limited.code).toBe('ERR_RATE_LIMITED');
    const failing = new EnhancedEmailService({
      providers: [new SmtpProvider({ host: '127.0.0.1', port: refusing.port, ignoreTLS: true, name: 'strict' })],
      defaultFrom: 'Flow <hello@flow.example>',
      redis,
      prefix,
      rateLimits: { perSender: false, perRecipientDomain: false },
      metricsRegistry: registry, // a second service on the same registry shares the series
    });
    await expect(failing.send({ to: 'x@four.example', subject: 's', text: 'x' })).rejects.toMatchObject({ name: 'EmailError' });
    await failing.close();
    const event: EmailEvent = { type: 'bounced', bounce: 'hard', messageId: undefined, recipient: 'b@one.example', eventId: 'evt-1', source: 'sendgrid', timestamp: Date.now() };
    await email.recordEvent(event);
    await email.recordEvent(event); // a duplicate event is not counted twice

    const text = await registry.metrics();
    const parsed = parsePrometheusText(text);
    expect(parsed.errors).toEqual([]);
    const f = (name: string): Family | undefined => parsed.families.get(name);
    expect(f('email_messages_sent_total')?.type).toBe('counter');
    expect(sample(f('email_messages_sent_total'), { provider: 'relay', template: 'welcome' })).toBe(1);
    expect(sample(f('email_messages_sent_total'), { provider: 'relay', template: 'none' })).toBe(4);
    expect(sample(f('email_messages_failed_total'), { provider: 'strict', template: 'none' })).toBe(1);
    expect(sample(f('email_provider_failures_total'), { provider: 'strict', failure: 'permanent' })).toBe(1);
    expect(sample(f('email_suppressed_recipients_total'), { template: 'none' })).toBe(1);
    expect(sample(f('email_delivery_events_total'), { event: 'bounced', source: 'sendgrid' })).toBe(1);
    expect(f('email_send_duration_seconds')?.type).toBe('histogram');
    expect(sample(f('email_send_duration_seconds'), { provider: 'relay', le: '+Inf' })).toBe(5);
    const delays = f('email_rate_limit_delay_seconds');
    expect(delays?.type).toBe('histogram');
    expect(delays?.samples.find((each) => each.name === 'email_rate_limit_delay_seconds_count' && each.labels['scope'] === 'domain')?.value).toBe(1);
    const delaySum = delays?.samples.find((each) => each.name === 'email_rate_limit_delay_seconds_sum')?.value ?? 0;
    expect(delaySum).toBeGreaterThan(0);
    expect(delaySum).toBeCloseTo(limited.retryAfterMs / 1000, 6);

    // promtool, as Prometheus' own linter, when installed (CI has it).
    let promtool = true;
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    } catch {
      promtool = false;
    }
    if (promtool) {
      const dir = mkdtempSync(join(tmpdir(), 'email-metrics-'));
      try {
        writeFileSync(join(dir, 'metrics.txt'), text);
        const output = execFileSync('sh', ['-c', `promtool check metrics < "${join(dir, 'metrics.txt')}" 2>&1; echo "exit=$?"`]).toString();
        expect(output.trim().split('\n').at(-1)).toBe('exit=0');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
