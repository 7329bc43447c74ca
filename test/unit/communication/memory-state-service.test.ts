import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryEmailStore } from '../../../src/communication/memory-email-store.js';
import { DevProvider } from '../../../src/communication/providers/dev-provider.js';
import { EnhancedEmailService } from '../../../src/communication/enhanced-email-service.js';
import { initializeEnhancedEmailService } from '../../../src/communication/initialize-enhanced-email-service.js';
import type { LogFn, Logger } from '../../../src/core/logger.js';
import { RateLimitError } from '../../../src/core/rate-limit-error.js';
import { createInMemoryMessageQueue } from '../../../src/queue/create-in-memory-message-queue.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'uxflow-email-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capturingLogger(lines: { level: string; msg: string; obj: unknown }[]): Logger {
  const at =
    (level: string): LogFn =>
    (first: object | string, msg?: unknown) => {
      lines.push(typeof first === 'string' ? { level, msg: first, obj: undefined } : { level, msg: typeof msg === 'string' ? msg : '', obj: first });
    };
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => logger };
  return logger;
}

describe('EnhancedEmailService without Redis', () => {
  it('keeps state in the process when neither store, redis, a Redis queue nor REDIS_URL is given, and says so once', async () => {
    const lines: { level: string; msg: string; obj: unknown }[] = [];
    const outputDir = join(dir, 'default');
    const email = initializeEnhancedEmailService(
      { defaultFrom: 'Flow <hello@flow.example>', provider: 'dev', env: { EMAIL_DEV_DIR: outputDir }, templateDefaults: { productName: 'Flow' } },
      capturingLogger(lines),
      createInMemoryMessageQueue(),
    );
    try {
      expect(email.store).toBeInstanceOf(MemoryEmailStore);
      const notes = lines.filter((line) => line.level === 'info' && /per process/.test(line.msg));
      expect(notes).toHaveLength(1);
      expect(notes[0]?.obj).toMatchObject({ store: 'memory', redis: false });
      // Sends without any Redis: nothing waits on a connection that does not exist.
      const sent = await email.send({ to: 'ada@example.com', template: 'welcome', data: { name: 'Ada', actionUrl: 'https://app.flow.example' }, idempotencyKey: 'welcome-ada' });
      expect(sent.status).toBe('sent');
      expect(readdirSync(outputDir).filter((file) => file.endsWith('.eml'))).toHaveLength(1);
    } finally {
      await email.close();
    }
  });

  it('gives idempotency, suppression, caps and stats from the memory store', async () => {
    const clock = new FakeClock({ now: Date.parse('2026-03-10T12:00:00Z') });
    const outputDir = join(dir, 'features');
    const email = new EnhancedEmailService({
      providers: [new DevProvider({ outputDir })],
      defaultFrom: 'hello@flow.example',
      env: {},
      clock,
      rateLimits: { perRecipientDomain: [{ limit: 3, windowMs: 60_000 }], perSender: false },
    });
    try {
      const first = await email.send({ to: 'ada@capped.example', subject: 'Hi', text: 'one', idempotencyKey: 'k1', tags: ['t1'] });
      const again = await email.send({ to: 'ada@capped.example', subject: 'Hi', text: 'one', idempotencyKey: 'k1', tags: ['t1'] });
      expect(again).toMatchObject({ status: 'duplicate', messageId: first.messageId });

      await email.suppress('bob@capped.example', 'manual');
      expect((await email.send({ to: 'bob@capped.example', subject: 'Hi', text: 'x' })).status).toBe('suppressed');

      // The suppressed message was charged too (suppression and caps are checked together).
      await email.send({ to: 'cy@capped.example', subject: 'Hi', text: 'two' });
      const limited = await email.send({ to: 'dee@capped.example', subject: 'Hi', text: 'three' }).catch((error: unknown) => error);
      expect(RateLimitError.isInstance(limited)).toBe(true);
      expect((limited as RateLimitError).key).toBe('domain:capped.example');
      clock.advance(120_000);
      expect((await email.send({ to: 'dee@capped.example', subject: 'Hi', text: 'three' })).status).toBe('sent');

      const stats = await email.getStats();
      expect(stats.total.sent).toBe(3);
      expect(stats.byTag['t1']?.sent).toBe(1);
      expect(readdirSync(outputDir).filter((file) => file.endsWith('.eml'))).toHaveLength(3);
    } finally {
      await email.close();
    }
  });

  it('uses a given store over everything else, and does not log the per-process note for it', async () => {
    const lines: { level: string; msg: string; obj: unknown }[] = [];
    const store = new MemoryEmailStore();
    const email = new EnhancedEmailService({
      providers: [new DevProvider({ outputDir: join(dir, 'given') })],
      defaultFrom: 'hello@flow.example',
      store,
      env: {},
      logger: capturingLogger(lines),
    });
    expect(email.store).toBe(store);
    expect(lines.some((line) => /per process/.test(line.msg))).toBe(false);
    await email.suppress('x@flow.example');
    expect(await store.getSuppression('x@flow.example')).toMatchObject({ reason: 'manual' });
    await email.close();
  });

  it('refuses a bad redisTimeoutMs, naming it', () => {
    expect(() => new EnhancedEmailService({ providers: [new DevProvider({ outputDir: dir })], defaultFrom: 'a@b.example', env: {}, redisTimeoutMs: 0 })).toThrow(/redisTimeoutMs/);
  });
});
