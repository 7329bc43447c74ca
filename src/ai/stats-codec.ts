import { emptyStats } from './bandit.js';
import type { ArmStats } from './types.js';

const FIELDS = {
  n: 'outcomes',
  st: 'successTrials',
  s: 'successes',
  qc: 'qualityCount',
  qs: 'qualitySum',
  qq: 'qualitySqSum',
  lc: 'latencyCount',
  ls: 'latencySumMs',
  tk: 'tokens',
  cu: 'costUsd',
} as const satisfies Record<string, keyof ArmStats>;

type ShortField = keyof typeof FIELDS;

/** Applies one short-field increment (`n`, `s`, `score.relevance.sum`, …) to stats. */
export function applyDelta(stats: ArmStats, field: string, value: number): void {
  if (field.startsWith('score.')) {
    const rest = field.slice(6);
    const dot = rest.lastIndexOf('.');
    const criterion = rest.slice(0, dot);
    const part = rest.slice(dot + 1);
    const entry = (stats.scores[criterion] ??= { count: 0, sum: 0 });
    if (part === 'count') entry.count += value;
    else if (part === 'sum') entry.sum += value;
    return;
  }
  const long = FIELDS[field as ShortField] as keyof ArmStats | undefined;
  if (long === undefined || long === 'scores') return;
  stats[long] += value;
}

/** Decodes flat `arm|context|field` → value pairs (context empty for global). */
export function decodeStats(flat: Readonly<Record<string, string | number>>): {
  global: Record<string, ArmStats>;
  contexts: Record<string, Record<string, ArmStats>>;
} {
  const global: Record<string, ArmStats> = {};
  const contexts: Record<string, Record<string, ArmStats>> = {};
  for (const [key, raw] of Object.entries(flat)) {
    const first = key.indexOf('|');
    const second = key.indexOf('|', first + 1);
    if (first < 0 || second < 0) continue;
    const arm = key.slice(0, first);
    const context = key.slice(first + 1, second);
    const field = key.slice(second + 1);
    const target = context === '' ? global : (contexts[context] ??= {});
    applyDelta((target[arm] ??= emptyStats()), field, Number(raw));
  }
  return { global, contexts };
}

/** The flat key of one field, as stored. Arm and context ids must not contain `|`. */
export function statsKey(arm: string, context: string, field: string): string {
  return `${arm}|${context}|${field}`;
}
