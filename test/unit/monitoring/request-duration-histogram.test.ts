import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurationHistogram } from '../../../src/monitoring/request-duration-histogram.js';
import { parsePrometheusText } from '../../helpers/monitoring-prom-parser.js';

function make() {
  const registry = new Registry();
  const histogram = new RequestDurationHistogram({ name: 'd_seconds', help: 'Durations', labelNames: ['route'], buckets: [0.1, 1], registers: [registry] });
  return { registry, histogram };
}

describe('RequestDurationHistogram', () => {
  it('exports its series as cumulative buckets, +Inf, _sum and _count, beside prom-client observations', async () => {
    const { registry, histogram } = make();
    const users = histogram.series({ route: '/users/:id' });
    for (const value of [0.05, 0.1, 0.5, 3]) users.observe(value);
    histogram.series({ route: '/idle' }); // never observed: not exported
    histogram.observe({ route: '/direct' }, 0.2);
    const text = await registry.metrics();
    const parsed = parsePrometheusText(text);
    expect(parsed.errors).toEqual([]);
    const samples = parsed.families.get('d_seconds')?.samples ?? [];
    const of = (route: string) => samples.filter((sample) => sample.labels['route'] === route).map((sample) => `${sample.name}${sample.labels['le'] === undefined ? '' : `{le=${sample.labels['le']}}`} ${sample.value}`);
    expect(of('/users/:id')).toEqual(['d_seconds_bucket{le=0.1} 2', 'd_seconds_bucket{le=1} 3', 'd_seconds_bucket{le=+Inf} 4', 'd_seconds_sum 3.65', 'd_seconds_count 4']);
    expect(of('/direct')).toEqual(['d_seconds_bucket{le=0.1} 0', 'd_seconds_bucket{le=1} 1', 'd_seconds_bucket{le=+Inf} 1', 'd_seconds_sum 0.2', 'd_seconds_count 1']);
    expect(of('/idle')).toEqual([]);
  });

  it('gives JSON consumers (cluster aggregation) the same samples with all labels on each', async () => {
    const { registry, histogram } = make();
    histogram.series({ route: '/a' }).observe(0.5);
    const [json] = await registry.getMetricsAsJSON();
    expect(json?.values).toEqual([
      { labels: { le: 0.1, route: '/a' }, value: 0, metricName: 'd_seconds_bucket' },
      { labels: { le: 1, route: '/a' }, value: 1, metricName: 'd_seconds_bucket' },
      { labels: { le: '+Inf', route: '/a' }, value: 1, metricName: 'd_seconds_bucket' },
      { labels: { route: '/a' }, value: 0.5, metricName: 'd_seconds_sum' },
      { labels: { route: '/a' }, value: 1, metricName: 'd_seconds_count' },
    ]);
  });

  it('is cleared by registry.resetMetrics()', async () => {
    const { registry, histogram } = make();
    const series = histogram.series({ route: '/a' });
    series.observe(0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('route="/a"');
    series.observe(2);
    expect(await registry.metrics()).toContain('d_seconds_count{route="/a"} 1');
  });
});
