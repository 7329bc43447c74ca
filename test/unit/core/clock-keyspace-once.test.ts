import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyspace, once, sleep, systemClock } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/index.js';

const root = resolve(import.meta.dirname, '../../..');

describe('FakeClock', () => {
  it('fires timers in due order, including timers set by timers', () => {
    const clock = new FakeClock({ now: 100 });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
    }, 10);
    clock.advance(30);
    expect(fired).toEqual(['a@110', 'c@115', 'b@120']);
    expect(clock.now()).toBe(130);
    expect(clock.monotonic()).toBe(30);
  });

  it('cleared timers never fire and time never goes back', () => {
    const clock = new FakeClock();
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 10);
    clock.clearTimeout(handle);
    clock.advance(100);
    expect(fired).toBe(false);
    expect(() => clock.set(50)).toThrow(RangeError);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('advanceAsync lets awaited code schedule and run its next timers', async () => {
    const clock = new FakeClock();
    const steps: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(100, { clock });
        steps.push(clock.now());
      }
    })();
    await clock.advanceAsync(1000);
    await loop;
    expect(steps).toEqual([100, 200, 300]);
    expect(clock.now()).toBe(1000);
  });
});

describe('sleep', () => {
  it('rejects with AbortError when aborted and clears its timer', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const pending = sleep(1000, { clock, signal: controller.signal });
    controller.abort('stop');
    await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: 'stop' });
    expect(clock.pendingTimers).toBe(0);
    await expect(sleep(1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('systemClock timers are unref()d unless asked to keep the process alive', () => {
    const background = systemClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    const awaited = systemClock.setTimeout(() => undefined, 60_000, { keepAlive: true }) as NodeJS.Timeout;
    expect(background.hasRef()).toBe(false);
    expect(awaited.hasRef()).toBe(true);
    systemClock.clearTimeout(background);
    systemClock.clearTimeout(awaited);
  });

  it('an awaited sleep keeps a script alive until it resolves', () => {
    const script = "import('./src/core/clock.ts').then(async ({ sleep }) => { await sleep(200); console.log('woke'); })";
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('woke');
  });
});

describe('Keyspace', () => {
  it('wraps the namespace in a hash tag', () => {
    const keys = new Keyspace('uxflow', 'queue:emails');
    expect(keys.base).toBe('uxflow:{queue:emails}');
    expect(keys.key('wait')).toBe('uxflow:{queue:emails}:wait');
    expect(keys.key('job', 42)).toBe('uxflow:{queue:emails}:job:42');
    expect(keys.key()).toBe('uxflow:{queue:emails}');
    expect(new Keyspace('', 'x').key('a')).toBe('{x}:a');
  });

  it('escapes glob characters in its SCAN pattern', () => {
    expect(new Keyspace('t', 'a*b?[c]').pattern()).toBe('t:{a\\*b\\?\\[c\\]}*');
  });

  it('rejects braces and empty namespaces naming the field', () => {
    expect(() => new Keyspace('a{b', 'q')).toThrow(/"prefix"/);
    expect(() => new Keyspace('a', '')).toThrow(/"namespace"/);
    expect(() => new Keyspace('a', 'q}')).toThrow(/"namespace"/);
  });
});

describe('once', () => {
  it('runs the operation once and hands every caller the same promise', async () => {
    let runs = 0;
    const close = once(async () => {
      runs++;
      await Promise.resolve();
      return runs;
    });
    const [a, b] = await Promise.all([close(), close()]);
    expect([a, b, await close(), runs]).toEqual([1, 1, 1, 1]);
  });

  it('keeps a rejection for later callers too', async () => {
    const close = once(() => Promise.reject(new Error('failed to close')));
    await expect(close()).rejects.toThrow('failed to close');
    await expect(close()).rejects.toThrow('failed to close');
  });
});
