/**
 * A strict parser of the Prometheus text exposition format for the monitoring tests, with the
 * checks promtool does not make: every histogram's `le` bounds strictly increase and end with
 * `+Inf`, bucket counts never decrease, the `+Inf` bucket equals `_count`, `_sum` is present,
 * and no series appears twice.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: Sample[];
}

export interface ParsedMetrics {
  families: Map<string, Family>;
  errors: string[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?$/;

function parseLabels(text: string, errors: string[], line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  while (i < text.length - 1) {
    const nameMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (nameMatch === null) {
      errors.push(`bad label syntax in: ${line}`);
      return labels;
    }
    const name = nameMatch[1]!;
    i += nameMatch[0].length;
    let value = '';
    for (;;) {
      const ch = text[i];
      if (ch === undefined) {
        errors.push(`unterminated label value in: ${line}`);
        return labels;
      }
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else errors.push(`bad escape in: ${line}`);
        i += 2;
        continue;
      }
      if (ch === '"') {
        i++;
        break;
      }
      value += ch;
      i++;
    }
    if (name in labels) errors.push(`duplicate label ${name} in: ${line}`);
    labels[name] = value;
    if (text[i] === ',') i++;
  }
  return labels;
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  return Number(raw);
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix)) {
      const family = families.get(name.slice(0, -suffix.length));
      if (family !== undefined) return family;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): ParsedMetrics {
  const families = new Map<string, Family>();
  const errors: string[] = [];
  const seenSeries = new Set<string>();
  if (!text.endsWith('\n')) errors.push('exposition does not end with a newline');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (meta === null) continue;
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { name, type: undefined, help: undefined, samples: [] };
      families.set(name, family);
      if (kind === 'TYPE') {
        if (family.type !== undefined) errors.push(`second TYPE line for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) errors.push(`unknown type ${rest} for ${name}`);
        if (family.samples.length > 0) errors.push(`TYPE of ${name} after its samples`);
        family.type = rest;
      } else {
        if (family.help !== undefined) errors.push(`second HELP line for ${name}`);
        family.help = rest;
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) {
      errors.push(`unparseable line: ${line}`);
      continue;
    }
    const [, name, labelText, rawValue] = match as unknown as [string, string, string | undefined, string];
    const labels = labelText === undefined ? {} : parseLabels(labelText, errors, line);
    const value = parseValue(rawValue);
    if (Number.isNaN(value) && rawValue !== 'NaN') errors.push(`bad value in: ${line}`);
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
    if (seenSeries.has(key)) errors.push(`duplicate series ${key}`);
    seenSeries.add(key);
    const family = familyOf(name, families);
    if (family === undefined) {
      errors.push(`sample ${name} has no TYPE/HELP family`);
      continue;
    }
    family.samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (family.type === 'histogram') checkHistogram(family, errors);
    if (family.type === 'counter') {
      for (const sample of family.samples) if (!(sample.value >= 0)) errors.push(`negative counter ${sample.name}`);
    }
  }
  return { families, errors };
}

function checkHistogram(family: Family, errors: string[]): void {
  const groups = new Map<string, { buckets: { le: number; raw: string; value: number }[]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) errors.push(`${family.name}_bucket without le`);
      else group.buckets.push({ le: parseValue(le), raw: le, value: sample.value });
    } else if (sample.name === `${family.name}_count`) group.count = sample.value;
    else if (sample.name === `${family.name}_sum`) group.sum = sample.value;
    else errors.push(`unexpected sample ${sample.name} in histogram ${family.name}`);
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.buckets.length === 0) errors.push(`${where}: no buckets`);
    for (let i = 1; i < group.buckets.length; i++) {
      const previous = group.buckets[i - 1]!;
      const current = group.buckets[i]!;
      if (!(current.le > previous.le)) errors.push(`${where}: le ${current.raw} does not increase after ${previous.raw}`);
      if (current.value < previous.value) errors.push(`${where}: bucket le=${current.raw} (${current.value}) < le=${previous.raw} (${previous.value})`);
    }
    const last = group.buckets[group.buckets.length - 1];
    if (last?.raw !== '+Inf') errors.push(`${where}: last bucket is not +Inf`);
    if (group.count === undefined) errors.push(`${where}: no _count`);
    if (group.sum === undefined) errors.push(`${where}: no _sum`);
    if (last !== undefined && group.count !== undefined && last.value !== group.count) errors.push(`${where}: +Inf bucket ${last.value} != _count ${group.count}`);
  }
}
