import { describe, expect, it } from 'vitest';
import { toOpenMetrics } from '../../../src/monitoring/index.js';
import { parsePrometheusText } from '../../helpers/monitoring-prom-parser.js';

const histogram = (buckets: [string, number][], count: number) =>
  [
    '# HELP d Duration',
    '# TYPE d histogram',
    ...buckets.map(([le, value]) => `d_bucket{le="${le}",route="/a"} ${value}`),
    `d_sum{route="/a"} 1.5`,
    `d_count{route="/a"} ${count}`,
    '',
  ].join('\n');

describe('the histogram checks of the test parser', () => {
  it('accepts a well-formed histogram', () => {
    expect(parsePrometheusText(histogram([['0.1', 1], ['1', 2], ['+Inf', 3]], 3)).errors).toEqual([]);
  });

  it('catches non-increasing le, decreasing buckets, a missing +Inf, +Inf != _count and duplicate series', () => {
    expect(parsePrometheusText(histogram([['1', 1], ['0.1', 2], ['+Inf', 3]], 3)).errors.join()).toContain('does not increase');
    expect(parsePrometheusText(histogram([['0.1', 2], ['1', 1], ['+Inf', 3]], 3)).errors.join()).toContain('bucket le=1 (1) < le=0.1 (2)');
    expect(parsePrometheusText(histogram([['0.1', 1], ['1', 2]], 2)).errors.join()).toContain('last bucket is not +Inf');
    expect(parsePrometheusText(histogram([['0.1', 1], ['+Inf', 3]], 4)).errors.join()).toContain('+Inf bucket 3 != _count 4');
    const duplicated = '# HELP g G\n# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n';
    expect(parsePrometheusText(duplicated).errors).toEqual(['duplicate series g{a="1"}']);
  });
});

describe('toOpenMetrics', () => {
  it('renames counter families, keeps _total samples, drops blank lines and ends with # EOF', () => {
    const text = '# HELP jobs_total Jobs done\n# TYPE jobs_total counter\njobs_total{q="a"} 3\n\n# HELP up Up\n# TYPE up gauge\nup 1\n\n# HELP raw Raw\n# TYPE raw counter\nraw 2\n';
    expect(toOpenMetrics(text)).toBe(
      '# HELP jobs Jobs done\n# TYPE jobs counter\njobs_total{q="a"} 3\n# HELP up Up\n# TYPE up gauge\nup 1\n# HELP raw Raw\n# TYPE raw counter\nraw_total 2\n# EOF\n',
    );
  });
});
