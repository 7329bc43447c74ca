/** The `Content-Type` of OpenMetrics 1.0 text. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * Rewrites Prometheus text exposition (as prom-client renders it) as OpenMetrics 1.0 text:
 * counter families lose their `_total` suffix while their samples keep (or gain) it, blank lines
 * go, and the body ends with `# EOF`. Done on the text so that metric objects are never renamed
 * (prom-client's own OpenMetrics registry renames counters in place).
 *
 * @example
 * ```ts
 * toOpenMetrics('# HELP jobs_total Jobs\n# TYPE jobs_total counter\njobs_total 3\n');
 * // '# HELP jobs Jobs\n# TYPE jobs counter\njobs_total 3\n# EOF\n'
 * ```
 */
export function toOpenMetrics(prometheusText: string): string {
  const counters = new Set<string>();
  for (const match of prometheusText.matchAll(/^# TYPE (\S+) counter$/gm)) {
    if (match[1] !== undefined) counters.add(match[1]);
  }
  const family = (name: string): string => (name.endsWith('_total') ? name.slice(0, -'_total'.length) : name);
  const out: string[] = [];
  for (const line of prometheusText.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    if (comment !== null) {
      const [, kind = '', name = '', rest = ''] = comment;
      out.push(counters.has(name) ? `# ${kind} ${family(name)}${rest}` : line);
      continue;
    }
    if (line.startsWith('#')) {
      out.push(line);
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    const name = nameEnd === -1 ? line : line.slice(0, nameEnd);
    if (counters.has(name) && !name.endsWith('_total')) out.push(`${name}_total${line.slice(name.length)}`);
    else out.push(line);
  }
  return `${out.join('\n')}\n# EOF\n`;
}
