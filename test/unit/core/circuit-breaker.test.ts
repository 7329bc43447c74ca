import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitCallInfo, CircuitOpenError, type CircuitStateChange } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/testing/index.js';

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new FakeClock({ now: 1_000_000 });
  const changes: CircuitStateChange[] = [];
  const calls: CircuitCallInfo[] = [];
  const breaker = new CircuitBreaker({
    name: 'smtp',
    clock,
    minimumThroughput: 4,
    failureRateThreshold: 0.5,
    windowMs: 10_000,
    openTimeoutMs: 5000,
    onCall: (info) => calls.push(info),
    ...options,
  });
  breaker.on('stateChange', (change) => changes.push(change));
  const fail = () => breaker.execute(() => Promise.reject(new Error('down'))).catch((e: unknown) => e);
  const ok = () => breaker.execute(() => Promise.resolve('sent'));
  return { clock, breaker, changes, calls, fail, ok };
}

describe('CircuitBreaker', () => {
  it('stays closed below the minimum throughput, whatever the failure rate', async () => {
    const { breaker, fail } = setup();
    for (let i = 0; i < 3; i++) await fail();
    expect(breaker.state).toBe('closed');
  });

  it('opens when the failure rate reaches the threshold with enough calls', async () => {
    const { breaker, changes, ok, fail } = setup();
    await ok();
    await ok();
    await fail();
    expect(breaker.state).toBe('closed'); // 1/3, below throughput
    await fail(); // 2/4 = 0.5
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ name: 'smtp', from: 'closed', to: 'open', failureRate: 0.5, at: 1_000_000 }]);
  });

  it('refuses calls while open without running them, with retryAfterMs', async () => {
    const { breaker, clock, fail, calls } = setup();
    for (let i = 0; i < 4; i++) await fail();
    clock.advance(1000);
    let ran = false;
    const error = await breaker
      .execute(() => {
        ran = true;
        return Promise.resolve();
      })
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(CircuitOpenError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ breaker: 'smtp', retryAfterMs: 4000 });
    expect(calls.at(-1)).toEqual({ name: 'smtp', outcome: 'rejected', state: 'open' });
  });

  it('half-opens after the open timeout, and one successful probe closes it', async () => {
    const { breaker, clock, changes, fail, ok } = setup();
    for (let i = 0; i < 4; i++) await fail();
    clock.advance(5000);
    expect(breaker.state).toBe('half-open');
    await expect(ok()).resolves.toBe('sent');
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    // The window was cleared: old failures do not reopen it.
    await fail();
    expect(breaker.state).toBe('closed');
  });

  it('a failed probe reopens for a full timeout', async () => {
    const { breaker, clock, fail } = setup();
    for (let i = 0; i < 4; i++) await fail();
    clock.advance(5000);
    await fail();
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs()).toBe(5000);
  });

  it('limits concurrent probes while half-open', async () => {
    const { breaker, clock, fail } = setup({ halfOpenProbes: 2 });
    for (let i = 0; i < 4; i++) await fail();
    clock.advance(5000);
    const first = breaker.tryAcquire();
    const second = breaker.tryAcquire();
    const third = breaker.tryAcquire();
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(third).toBeUndefined();
    first?.success();
    expect(breaker.state).toBe('half-open'); // needs two successes
    second?.success();
    expect(breaker.state).toBe('closed');
  });

  it('forgets calls that slid out of the rolling window', async () => {
    const { breaker, clock, fail, ok } = setup();
    await fail();
    await fail();
    await fail();
    clock.advance(11_000);
    await ok();
    await fail(); // window holds 1 ok + 1 fail: below throughput
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ calls: 2, failures: 1, failureRate: 0.5 });
  });

  it('errors that isFailure rejects count as successes', async () => {
    const { breaker } = setup({ isFailure: (e) => !(e instanceof RangeError) });
    for (let i = 0; i < 6; i++) await breaker.execute(() => Promise.reject(new RangeError('404'))).catch(() => undefined);
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().failures).toBe(0);
  });

  it('a permit reports once; a second report is ignored', async () => {
    const { breaker } = setup();
    const permit = breaker.tryAcquire();
    permit?.failure(new Error('x'));
    permit?.failure(new Error('x'));
    permit?.success();
    expect(breaker.snapshot().calls).toBe(1);
  });

  it('throwing listeners and hooks are logged, never thrown into the caller', async () => {
    const logged: unknown[] = [];
    const logger = { trace() {}, debug() {}, info() {}, warn() {}, fatal() {}, error: (obj: unknown) => logged.push(obj), child: () => logger };
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({
      name: 'x',
      clock,
      minimumThroughput: 1,
      logger,
      onCall: () => {
        throw new Error('metrics down');
      },
    });
    breaker.on('stateChange', () => {
      throw new Error('listener bug');
    });
    await expect(breaker.execute(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    expect(logged.length).toBeGreaterThanOrEqual(2);
  });

  it('open() and reset() force the state', () => {
    const { breaker } = setup();
    breaker.open();
    expect(breaker.state).toBe('open');
    breaker.reset();
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', calls: 0 });
  });

  it('snapshot reports when an open circuit will probe', async () => {
    const { breaker, clock, fail } = setup();
    for (let i = 0; i < 4; i++) await fail();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', nextProbeAt: clock.now() + 5000 });
  });

  it('validates options naming the field', () => {
    const cases: [Partial<CircuitBreakerOptions>, RegExp][] = [
      [{ name: '' }, /"name"/],
      [{ failureRateThreshold: 0 }, /"failureRateThreshold"/],
      [{ failureRateThreshold: 1.1 }, /"failureRateThreshold"/],
      [{ minimumThroughput: 0 }, /"minimumThroughput"/],
      [{ windowBuckets: 2.5 }, /"windowBuckets"/],
      [{ windowMs: 5, windowBuckets: 10 }, /"windowMs"/],
      [{ openTimeoutMs: -1 }, /"openTimeoutMs"/],
      [{ halfOpenProbes: 0 }, /"halfOpenProbes"/],
    ];
    for (const [options, message] of cases) expect(() => new CircuitBreaker({ name: 'n', ...options })).toThrow(message);
  });
});
