import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/validation-error.js';
import { encodeKeep, prepareOptions, serializeData } from '../../../src/queue/job-options.js';

describe('job options', () => {
  it('maps named priorities and keeps numeric ones, 0 the highest', () => {
    expect(prepareOptions({ priority: 'high' }, {}, 3, 0).priority).toBe(1);
    expect(prepareOptions({}, {}, 3, 0).priority).toBe(5);
    expect(prepareOptions({ priority: 'low' }, {}, 3, 0).priority).toBe(10);
    expect(prepareOptions({ priority: 0 }, {}, 3, 0).priority).toBe(0);
    expect(() => prepareOptions({ priority: 1001 }, {}, 3, 0)).toThrow(/"priority" must be at most 1000/);
  });

  it('resolves delayMs and runAt against now, runAt winning, past times meaning now', () => {
    expect(prepareOptions({ delayMs: 250 }, {}, 3, 1_000).runAt).toBe(1_250);
    expect(prepareOptions({ delayMs: 250, runAt: 5_000 }, {}, 3, 1_000).runAt).toBe(5_000);
    expect(prepareOptions({ runAt: new Date(500) }, {}, 3, 1_000).runAt).toBe(0);
    expect(prepareOptions({ delayMs: 0 }, {}, 3, 1_000).runAt).toBe(0);
  });

  it('merges queue defaults under job options and falls back to the default attempts', () => {
    const prepared = prepareOptions({ timeoutMs: 50 }, { attempts: 7, removeOnFail: 100, group: 'tenant-1' }, 3, 0);
    expect(prepared.stored).toEqual({ attempts: 7, timeoutMs: 50, keepCompleted: 'k1000', keepFailed: 'k100', group: 'tenant-1' });
    expect(prepareOptions({}, {}, 4, 0).stored.attempts).toBe(4);
  });

  it('encodes keep policies', () => {
    expect(encodeKeep('x', true)).toBe('r');
    expect(encodeKeep('x', false)).toBe('');
    expect(encodeKeep('x', 0)).toBe('r');
    expect(encodeKeep('x', 25)).toBe('k25');
    expect(encodeKeep('x', { count: 3 })).toBe('k3');
    expect(encodeKeep('x', { ageMs: 60_000 })).toBe('a60000');
    expect(() => encodeKeep('removeOnComplete', { ageMs: 0 })).toThrow(/"removeOnComplete.ageMs"/);
  });

  it('serialises plain JSON, values with toJSON, and names the path of what JSON cannot carry', () => {
    expect(serializeData({ at: new Date(0), list: [1, 'a', null, { ok: true }], skip: undefined }, 1_000)).toBe(
      '{"at":"1970-01-01T00:00:00.000Z","list":[1,"a",null,{"ok":true}]}',
    );
    const error = (() => {
      try {
        serializeData({ user: { ids: [1, Infinity] } }, 1_000);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(ValidationError.isInstance(error) && error.field).toBe('data.user.ids[1]');
    expect(() => serializeData({ s: Symbol('x') }, 1_000)).toThrow(/"data.s" is a symbol/);
    expect(() => serializeData('é'.repeat(10), 20)).toThrow(/22 bytes of JSON, over the 20-byte cap/);
    const shared = { a: 1 };
    expect(serializeData({ one: shared, two: shared }, 1_000)).toBe('{"one":{"a":1},"two":{"a":1}}');
  });
});
