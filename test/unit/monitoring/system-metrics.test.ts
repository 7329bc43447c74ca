import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SystemMetrics } from '../../../src/monitoring/index.js';
import { parsePrometheusText } from '../../helpers/monitoring-prom-parser.js';

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the event loop is blocked and the process burns CPU
  }
}

describe('SystemMetrics', () => {
  it('measures a blocked event loop, process CPU, memory, load and handles', async () => {
    const system = new SystemMetrics({ env: {}, alerts: [], eventLoopResolutionMs: 5 }).start();
    // Let the delay histogram record some normal turns, then block the loop for 120 ms.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    blockFor(120);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const snapshot = system.sample();
    await system.close();
    expect(snapshot.eventLoopDelayMaxMs).toBeGreaterThanOrEqual(100);
    expect(snapshot.eventLoopDelayMaxMs).toBeLessThan(5_000);
    expect(snapshot.eventLoopDelayP50Ms).toBeLessThanOrEqual(snapshot.eventLoopDelayP99Ms);
    expect(snapshot.eventLoopUtilization).toBeGreaterThan(0.3);
    expect(snapshot.processCpuUtilization).toBeGreaterThan(0);
    expect(snapshot.processCpuUtilization).toBeLessThanOrEqual(1);
    expect(snapshot.heapUsedBytes).toBeGreaterThan(0);
    expect(snapshot.heapUsedBytes).toBeLessThanOrEqual(snapshot.heapTotalBytes);
    expect(snapshot.rssBytes).toBeGreaterThan(snapshot.heapUsedBytes);
    expect(snapshot.activeHandles).toBeGreaterThan(0);
    expect(snapshot.loadAverage1m).toBeGreaterThanOrEqual(0);
  });

  it('reports GC pauses by kind', async () => {
    const system = new SystemMetrics({ env: {}, alerts: [] }).start();
    const gc = (globalThis as { gc?: () => void }).gc;
    // Without --expose-gc, allocate until the young generation collects.
    if (gc !== undefined) gc();
    else for (let i = 0; i < 20; i++) void new Array(100_000).fill(i).map(String);
    await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries are delivered asynchronously
    const snapshot = system.sample();
    await system.close();
    expect(snapshot.gcPauseMs).toBeGreaterThan(0);
    const kinds = snapshot.gcPauseMsByKind;
    expect(kinds.minor + kinds.major + kinds.incremental + kinds.weakcb).toBeCloseTo(snapshot.gcPauseMs, 6);
  });

  it('exports its last reading as Prometheus gauges', async () => {
    const registry = new Registry();
    const system = new SystemMetrics({ env: {}, alerts: [], registry }).start();
    system.sample();
    const { families, errors } = parsePrometheusText(await registry.metrics());
    await system.close();
    expect(errors).toEqual([]);
    expect(families.get('nodejs_memory_bytes')?.samples.map((s) => s.labels['type'])).toEqual(['rss', 'heap_used', 'heap_total', 'external', 'array_buffers']);
    expect(families.get('system_load_average')?.samples).toHaveLength(3);
    expect(families.get('nodejs_eventloop_delay_p99_seconds')?.type).toBe('gauge');
  });

  it('validates options', () => {
    expect(() => new SystemMetrics({ intervalMs: 10 })).toThrow('"intervalMs"');
    expect(() => new SystemMetrics({ alerts: [{ metric: 'rssBytes', threshold: -1, resolveThreshold: 5 }] })).toThrow('"alerts[0].resolveThreshold"');
  });
});
