import { describe, expect, it } from 'vitest';
import { RollingWindow } from '../../../src/monitoring/index.js';

describe('RollingWindow', () => {
  it('reports throughput, error rate and interpolated percentiles over the window', () => {
    const window = new RollingWindow({ windowMs: 10_000, slots: 10 });
    const start = 1_000_000;
    // 100 requests over 10 s: 90 fast (4 ms, first bucket), 10 slow (between 0.5 and 0.75 s).
    for (let i = 0; i < 100; i++) window.record(start + i * 100, i % 10 === 9 ? 0.6 : 0.004, i % 20 === 0);
    const stats = window.stats(start + 9_999);
    expect(stats.requests).toBe(100);
    expect(stats.errors).toBe(5);
    expect(stats.errorRate).toBe(0.05);
    expect(stats.throughputPerSecond).toBeCloseTo(10, 1);
    // Rank 95 of 100 falls halfway through the 10 slow requests, in the 0.5–0.75 s bucket.
    expect(stats.p95LatencyMs).toBeCloseTo(625, 5);
    expect(stats.p99LatencyMs).toBeCloseTo(725, 5);
  });

  it('forgets slots older than the window', () => {
    const window = new RollingWindow({ windowMs: 10_000, slots: 10 });
    window.record(0, 0.01, true);
    window.record(5_000, 0.01, false);
    expect(window.stats(9_999).requests).toBe(2);
    expect(window.stats(10_000).requests).toBe(1);
    expect(window.stats(15_000).requests).toBe(0);
    expect(window.stats(15_000).p95LatencyMs).toBe(0);
    // A slot reused after a full turn starts from zero.
    window.record(20_000, 0.01, false);
    expect(window.stats(20_000)).toMatchObject({ requests: 1, errors: 0 });
  });

  it('caps percentiles past the last bucket at the last bound, like histogram_quantile', () => {
    const window = new RollingWindow({ bucketsSeconds: [0.1, 1] });
    window.record(0, 30, false);
    expect(window.stats(0).p95LatencyMs).toBe(1000);
  });

  it('validates its options', () => {
    expect(() => new RollingWindow({ windowMs: 0 })).toThrow('"windowMs"');
    expect(() => new RollingWindow({ slots: 0 })).toThrow('"slots"');
    expect(() => new RollingWindow({ bucketsSeconds: [1, 0.5] })).toThrow('"bucketsSeconds"');
  });
});
