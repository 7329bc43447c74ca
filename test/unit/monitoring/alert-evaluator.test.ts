import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/index.js';
import { AlertEvaluator, type AlertEvent, PerformanceMonitor, SystemMetrics } from '../../../src/monitoring/index.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

describe('AlertEvaluator', () => {
  it('fires only after the breach lasted forMs, and resolves only after the value stayed below the resolve threshold', () => {
    const clock = new FakeClock({ now: 1_000_000 });
    const alerts = new AlertEvaluator([{ metric: 'p99', threshold: 200, forMs: 30_000 }]);
    const step = (value: number) => {
      const transitions = alerts.evaluate({ p99: value }, clock.now());
      clock.advance(5_000);
      return transitions.map((t) => t.type);
    };
    // 25 s above: not yet.
    for (let i = 0; i < 6; i++) expect(step(250)).toEqual([]);
    expect(step(250)).toEqual(['alert']); // 30 s above
    expect(alerts.firing).toEqual(['p99 above 200']);
    // Dipping just under the threshold (but above the 180 resolve threshold) does not resolve.
    for (let i = 0; i < 20; i++) expect(step(i % 2 === 0 ? 195 : 210)).toEqual([]);
    // Below 180 for less than 30 s, then back up: still firing, no flap.
    for (let i = 0; i < 5; i++) expect(step(100)).toEqual([]);
    expect(step(205)).toEqual([]);
    for (let i = 0; i < 6; i++) expect(step(100)).toEqual([]);
    expect(step(100)).toEqual(['alert:resolved']);
    expect(alerts.firing).toEqual([]);
  });

  it('restarts the breach timer when the value recovers before forMs', () => {
    const alerts = new AlertEvaluator([{ metric: 'x', threshold: 10, forMs: 10_000 }]);
    expect(alerts.evaluate({ x: 11 }, 0)).toEqual([]);
    expect(alerts.evaluate({ x: 11 }, 9_000)).toEqual([]);
    expect(alerts.evaluate({ x: 5 }, 9_500)).toEqual([]);
    expect(alerts.evaluate({ x: 11 }, 10_000)).toEqual([]);
    expect(alerts.evaluate({ x: 11 }, 19_999)).toEqual([]);
    const [transition] = alerts.evaluate({ x: 12 }, 20_000);
    expect(transition).toEqual({
      type: 'alert',
      event: { name: 'x above 10', metric: 'x', value: 12, threshold: 10, direction: 'above', since: 10_000, at: 20_000 },
    });
  });

  it('supports below-thresholds with their own resolve threshold and duration', () => {
    const alerts = new AlertEvaluator([{ metric: 'rps', threshold: 10, direction: 'below', resolveThreshold: 20, resolveForMs: 0, name: 'traffic drop' }]);
    expect(alerts.evaluate({ rps: 9 }, 0).map((t) => t.type)).toEqual(['alert']);
    expect(alerts.evaluate({ rps: 15 }, 1)).toEqual([]);
    expect(alerts.evaluate({ rps: 20 }, 2).map((t) => `${t.type}:${t.event.name}`)).toEqual(['alert:resolved:traffic drop']);
  });

  it('ignores metrics missing from a reading', () => {
    const alerts = new AlertEvaluator([{ metric: 'a', threshold: 1 }]);
    expect(alerts.evaluate({}, 0)).toEqual([]);
    expect(alerts.evaluate({ a: Number.NaN }, 0)).toEqual([]);
  });

  it('rejects malformed rules naming the field', () => {
    expect(() => new AlertEvaluator([{ metric: 'a', threshold: Number.NaN }])).toThrow('"alerts[0].threshold" must be a finite number');
    expect(() => new AlertEvaluator([{ metric: 'a', threshold: 1 }, { metric: 'b', threshold: 1, forMs: -1 }])).toThrow(ValidationError);
    expect(() => new AlertEvaluator([{ metric: 'a', threshold: 10, resolveThreshold: 11 }])).toThrow('"alerts[0].resolveThreshold"');
  });
});

describe('PerformanceMonitor alerts', () => {
  it('emits an error-rate alert after its duration and resolves it with hysteresis, driven by an injected clock', async () => {
    const clock = new FakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
    const monitor = new PerformanceMonitor('alerts', {
      clock,
      env: {},
      enableSystemMetrics: false,
      defaultMetrics: false,
      windowMs: 10_000,
      evaluateIntervalMs: 1_000,
      alerts: [{ metric: 'errorRate', threshold: 0.5, forMs: 5_000 }],
    });
    const events: string[] = [];
    monitor.on('alert', (event: AlertEvent) => events.push(`alert ${event.metric} ${event.value}`));
    monitor.on('alert:resolved', (event: AlertEvent) => events.push(`resolved ${event.metric} ${event.value}`));
    const traffic = (errorShare: number, seconds: number) => {
      for (let s = 0; s < seconds; s++) {
        for (let i = 0; i < 10; i++) monitor.record({ method: 'GET', route: '/r', statusCode: i < errorShare * 10 ? 503 : 200, durationSeconds: 0.01 });
        clock.advance(1_000);
      }
    };
    traffic(1, 4);
    expect(events).toEqual([]);
    traffic(1, 2);
    expect(events).toEqual(['alert errorRate 1']);
    // 20% errors: the 10 s window still holds the burst for a while, then drops below 0.45.
    traffic(0.2, 30);
    expect(events).toHaveLength(2);
    const [, value] = /^resolved errorRate (\S+)$/.exec(events[1]!)!;
    expect(Number(value)).toBeLessThanOrEqual(0.45); // the resolve threshold, 10% inside 0.5
    expect(Number(value)).toBeGreaterThanOrEqual(0.2);
    expect(monitor.firingAlerts).toEqual([]);
    await monitor.shutdown();
  });

  it('forwards system alerts, and a throwing listener does not break sampling', async () => {
    const clock = new FakeClock({ now: 0 });
    const errors: unknown[] = [];
    const system = new SystemMetrics({
      clock,
      env: {},
      intervalMs: 1_000,
      alerts: [{ metric: 'heapUsedBytes', threshold: 1, forMs: 3_000 }],
    });
    system.on('error', (error) => errors.push(error));
    const seen: number[] = [];
    system.on('alert', (event) => {
      seen.push(event.at);
      throw new Error('listener bug');
    });
    system.start();
    clock.advance(2_500);
    expect(seen).toEqual([]);
    clock.advance(2_000); // samples at 1, 2, 3, 4 s: breach since 1 s, 3 s later at 4 s
    expect(seen).toEqual([4_000]);
    expect(errors).toHaveLength(1);
    clock.advance(5_000);
    expect(system.latest?.at).toBe(9_000); // sampling went on
    await system.close();
    expect(clock.pendingTimers).toBe(0);
  });
});
