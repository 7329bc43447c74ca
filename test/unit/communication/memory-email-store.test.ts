import { describe, expect, it } from 'vitest';
import { MemoryEmailStore } from '../../../src/communication/memory-email-store.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { describeEmailStateStoreConformance } from '../../helpers/communication-store-conformance.js';

const T0 = Date.parse('2026-03-10T12:00:00Z');

describeEmailStateStoreConformance('memory', async (options) => {
  const clock = new FakeClock({ now: T0 });
  const store = new MemoryEmailStore({ clock, ...options });
  return {
    store,
    advance: async (ms) => {
      clock.advance(ms);
    },
    cleanup: async () => {},
  };
});

describe('MemoryEmailStore', () => {
  it('keeps at most maxEntries keys of each kind, dropping the oldest first', async () => {
    const store = new MemoryEmailStore({ clock: new FakeClock({ now: T0 }), maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await store.claimIdempotency(key, `m-${key}`, 60_000);
    expect(await store.claimIdempotency('a', 'again', 60_000)).toEqual({ state: 'claimed' });
    expect((await store.claimIdempotency('d', 'again', 60_000)).state).toBe('pending');
  });

  it('refuses a bad option, naming it', () => {
    expect(() => new MemoryEmailStore({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new MemoryEmailStore({ messageTtlMs: 1.5 })).toThrow(/messageTtlMs/);
  });

  it('returns copies, so a caller cannot change what is stored', async () => {
    const store = new MemoryEmailStore({ clock: new FakeClock({ now: T0 }) });
    await store.recordSent({ messageId: 'm1', template: 't', tags: ['x'], at: T0 });
    const message = await store.getMessage('m1');
    message?.tags.push('changed');
    expect((await store.getMessage('m1'))?.tags).toEqual(['x']);
  });
});
