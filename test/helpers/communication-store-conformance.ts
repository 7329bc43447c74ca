import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmailStateStore } from '../../src/communication/email-state-store.js';
import type { EmailEvent, SendEmailResult } from '../../src/communication/types.js';

/** What a driver's factory returns: a fresh, empty store and a way to let time pass for it. */
export interface EmailStoreHarness {
  store: EmailStateStore;
  /** Lets `ms` pass for the store's expiries (a fake clock, or a real wait for Redis). */
  advance(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-10T12:00:00Z');

function result(messageId: string, accepted: string[] = ['ada@example.com']): SendEmailResult {
  return { messageId, status: 'sent', provider: 'smtp', providerMessageId: `<${messageId}@smtp>`, accepted, rejected: [], suppressed: [] };
}

function event(type: EmailEvent['type'], messageId: string | undefined, eventId: string, timestamp = T0): EmailEvent {
  return { type, messageId, recipient: 'ada@example.com', eventId, source: 'sendgrid', timestamp };
}

/**
 * The behaviour every {@link EmailStateStore} must share: the Redis store and the memory store
 * run these same tests. Expiry tests use TTLs of a few hundred ms so the Redis run stays short.
 */
export function describeEmailStateStoreConformance(driver: string, create: (options: { messageTtlMs?: number }) => Promise<EmailStoreHarness>): void {
  describe(`EmailStateStore conformance: ${driver}`, () => {
    let harness: EmailStoreHarness;
    let store: EmailStateStore;

    beforeEach(async () => {
      harness = await create({});
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    describe('idempotency', () => {
      it('claims a free key once; a second claim sees it pending with the first message id', async () => {
        expect(await store.claimIdempotency('k1', 'm1', 60_000)).toEqual({ state: 'claimed' });
        expect(await store.claimIdempotency('k1', 'm2', 60_000)).toEqual({ state: 'pending', messageId: 'm1' });
      });

      it('returns the first result for a completed key, and a released key can be claimed again', async () => {
        await store.claimIdempotency('k1', 'm1', 60_000);
        await store.completeIdempotency('k1', result('m1'), 60_000);
        expect(await store.claimIdempotency('k1', 'm2', 60_000)).toEqual({ state: 'sent', result: result('m1') });
        await store.releaseIdempotency('k1');
        expect(await store.claimIdempotency('k1', 'm3', 60_000)).toEqual({ state: 'claimed' });
      });

      it('frees a key whose lock expired (a crashed sender) and forgets a sent key after its TTL', async () => {
        await store.claimIdempotency('locked', 'm1', 200);
        await store.claimIdempotency('done', 'm2', 60_000);
        await store.completeIdempotency('done', result('m2'), 200);
        expect((await store.claimIdempotency('locked', 'mX', 60_000)).state).toBe('pending');
        await harness.advance(350);
        expect(await store.claimIdempotency('locked', 'm3', 60_000)).toEqual({ state: 'claimed' });
        expect(await store.claimIdempotency('done', 'm4', 60_000)).toEqual({ state: 'claimed' });
      });

      it('claims many keys in order: fresh ones claimed, taken ones reported as pending or sent', async () => {
        await store.claimIdempotency('b', 'mb', 60_000);
        await store.claimIdempotency('c', 'mc', 60_000);
        await store.completeIdempotency('c', result('mc'), 60_000);
        const claims = await store.claimIdempotencyMany(
          [
            { key: 'a', messageId: 'ma' },
            { key: 'b', messageId: 'mb2' },
            { key: 'c', messageId: 'mc2' },
            { key: 'd', messageId: 'md' },
          ],
          60_000,
        );
        expect(claims).toEqual([{ state: 'claimed' }, { state: 'pending', messageId: 'mb' }, { state: 'sent', result: result('mc') }, { state: 'claimed' }]);
        expect(await store.claimIdempotencyMany([], 60_000)).toEqual([]);
      });

      it('completes and releases many keys at once', async () => {
        await store.claimIdempotencyMany(
          ['x', 'y', 'z'].map((key) => ({ key, messageId: `m-${key}` })),
          60_000,
        );
        await store.completeIdempotencyMany([{ key: 'x', result: result('m-x') }, { key: 'y', result: result('m-y') }], 60_000);
        await store.releaseIdempotencyMany(['z']);
        await store.completeIdempotencyMany([], 60_000);
        await store.releaseIdempotencyMany([]);
        const again = await store.claimIdempotencyMany(
          ['x', 'y', 'z'].map((key) => ({ key, messageId: 'again' })),
          60_000,
        );
        expect(again).toEqual([{ state: 'sent', result: result('m-x') }, { state: 'sent', result: result('m-y') }, { state: 'claimed' }]);
      });
    });

    describe('suppression', () => {
      it('suppresses addresses case-insensitively, replaces the reason, and unsuppresses', async () => {
        await store.suppress('Bounce@Example.com', 'hard-bounce', T0);
        expect(await store.getSuppression('bounce@example.COM')).toEqual({ reason: 'hard-bounce', at: T0 });
        await store.suppress('bounce@example.com', 'complaint', T0 + 1);
        expect(await store.getSuppression('bounce@example.com')).toEqual({ reason: 'complaint', at: T0 + 1 });
        expect(await store.unsuppress('BOUNCE@example.com')).toBe(true);
        expect(await store.unsuppress('bounce@example.com')).toBe(false);
        expect(await store.getSuppression('bounce@example.com')).toBeUndefined();
      });

      it('answers which of many addresses are suppressed, lower-cased', async () => {
        await store.suppress('a@example.com', 'unsubscribe', T0);
        await store.suppress('c@example.com', 'manual', T0);
        expect(await store.suppressedAmong(['A@example.com', 'b@example.com', 'c@example.com'])).toEqual(new Set(['a@example.com', 'c@example.com']));
        expect(await store.suppressedAmong([])).toEqual(new Set());
      });
    });

    describe('messages and statistics', () => {
      it('records sent messages with their metadata and counts them per template, tag and day', async () => {
        await Promise.all([
          store.recordSent({ messageId: 'm1', template: 'welcome', tags: ['onboarding', 'eu'], at: T0 }),
          store.recordSent({ messageId: 'm2', template: undefined, tags: [], at: T0 + DAY }),
        ]);
        await store.recordSentMany([{ messageId: 'm3', template: 'welcome', tags: ['eu'], at: T0 }]);
        await store.recordSentMany([]);
        expect(await store.getMessage('m1')).toEqual({ template: 'welcome', tags: ['onboarding', 'eu'], status: 'sent' });
        expect(await store.getMessage('m2')).toEqual({ template: undefined, tags: [], status: 'sent' });
        expect(await store.getMessage('unknown')).toBeUndefined();
        const stats = await store.getStats(T0 - DAY, T0 + DAY);
        expect(stats.total.sent).toBe(3);
        expect(stats.byTemplate['welcome']?.sent).toBe(2);
        expect(Object.keys(stats.byTemplate)).toEqual(['welcome']);
        expect(stats.byTag['eu']?.sent).toBe(2);
        expect(stats.byTag['onboarding']?.sent).toBe(1);
        expect(stats.byDay['2026-03-10']?.sent).toBe(2);
        expect(stats.byDay['2026-03-11']?.sent).toBe(1);
        expect(stats.byDay['2026-03-09']).toBeUndefined();
      });

      it('counts only the days asked for', async () => {
        await store.recordSent({ messageId: 'm1', template: 't', tags: [], at: T0 });
        await store.recordSent({ messageId: 'm2', template: 't', tags: [], at: T0 + 3 * DAY });
        const stats = await store.getStats(T0 + DAY, T0 + 3 * DAY);
        expect(stats.total.sent).toBe(1);
        expect(Object.keys(stats.byDay)).toEqual(['2026-03-13']);
        expect((await store.getStats(T0 + 10 * DAY, T0 + 11 * DAY)).total).toEqual({
          sent: 0,
          delivered: 0,
          bounced: 0,
          opened: 0,
          clicked: 0,
          complained: 0,
          unsubscribed: 0,
        });
      });

      it("applies delivery events to the message's status and to its template and tag counters", async () => {
        await store.recordSent({ messageId: 'm1', template: 'welcome', tags: ['eu'], at: T0 });
        await store.recordEvent(event('delivered', 'm1', 'e1'));
        await store.recordEvent(event('opened', 'm1', 'e2'));
        expect((await store.getMessage('m1'))?.status).toBe('opened');
        // An event for a message the store does not know counts in the totals only.
        await store.recordEvent(event('bounced', 'gone', 'e3'));
        await store.recordEvent(event('complained', undefined, 'e4'));
        expect(await store.getMessage('gone')).toBeUndefined();
        const stats = await store.getStats(T0, T0);
        expect(stats.total).toMatchObject({ sent: 1, delivered: 1, opened: 1, bounced: 1, complained: 1 });
        expect(stats.byTemplate['welcome']).toMatchObject({ sent: 1, delivered: 1, opened: 1, bounced: 0, complained: 0 });
        expect(stats.byTag['eu']).toMatchObject({ delivered: 1, opened: 1, bounced: 0 });
      });

      it('forgets message metadata after the message TTL (counters stay)', async () => {
        await harness.cleanup();
        harness = await create({ messageTtlMs: 200 });
        store = harness.store;
        await store.recordSent({ messageId: 'm1', template: 'welcome', tags: [], at: T0 });
        expect(await store.getMessage('m1')).toBeDefined();
        await harness.advance(350);
        expect(await store.getMessage('m1')).toBeUndefined();
        await store.recordEvent(event('delivered', 'm1', 'e1'));
        const stats = await store.getStats(T0, T0);
        expect(stats.byTemplate['welcome']).toMatchObject({ sent: 1, delivered: 0 });
        expect(stats.total.delivered).toBe(1);
      });
    });

    describe('de-duplication', () => {
      it('reports an id as first seen once per kind, until its TTL passes', async () => {
        expect(await store.firstSeen('event', 'sendgrid:e1', 200)).toBe(true);
        expect(await store.firstSeen('event', 'sendgrid:e1', 200)).toBe(false);
        expect(await store.firstSeen('mailgun-token', 'sendgrid:e1', 200)).toBe(true);
        await harness.advance(350);
        expect(await store.firstSeen('event', 'sendgrid:e1', 200)).toBe(true);
      });

      it('lets exactly one of many concurrent callers see an id first', async () => {
        const answers = await Promise.all(Array.from({ length: 20 }, () => store.firstSeen('open', 'm1', 60_000)));
        expect(answers.filter(Boolean)).toHaveLength(1);
        const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimIdempotency('race', `m${i}`, 60_000)));
        expect(claims.filter((claim) => claim.state === 'claimed')).toHaveLength(1);
      });
    });
  });
}
