import type { EmailCounts, EmailStats } from './email-state-store.js';
import type { EmailEventType } from './types.js';

/** Every event type, in a fixed order. */
export const EMAIL_EVENT_TYPES: readonly EmailEventType[] = ['sent', 'delivered', 'bounced', 'opened', 'clicked', 'complained', 'unsubscribed'];

/** All-zero counters. */
export function emptyCounts(): EmailCounts {
  return { sent: 0, delivered: 0, bounced: 0, opened: 0, clicked: 0, complained: 0, unsubscribed: 0 };
}

const DAY_MS = 86_400_000;
let cachedDay = { index: Number.NaN, key: '' };

/** The UTC day of `ms` as `YYYY-MM-DD`. */
export function dayKey(ms: number): string {
  const index = Math.floor(ms / DAY_MS);
  if (index !== cachedDay.index) cachedDay = { index, key: new Date(index * DAY_MS).toISOString().slice(0, 10) };
  return cachedDay.key;
}

/** The UTC days from `fromMs` to `toMs` (inclusive), at most 400. */
export function daysBetween(fromMs: number, toMs: number): string[] {
  const days: string[] = [];
  for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor(toMs / DAY_MS) && days.length < 400; day++) days.push(dayKey(day * DAY_MS));
  return days;
}

/** Adds one `field` → count entry (`all:sent`, `template:welcome:opened`, `tag:x:clicked`) of day `day` to `stats`. */
export function addCounter(stats: EmailStats, day: string, field: string, count: number): void {
  const cut = field.lastIndexOf(':');
  const event = field.slice(cut + 1) as EmailEventType;
  if (!EMAIL_EVENT_TYPES.includes(event)) return;
  const group = field.slice(0, cut);
  if (group === 'all') {
    stats.total[event] += count;
    (stats.byDay[day] ??= emptyCounts())[event] += count;
  } else if (group.startsWith('template:')) {
    (stats.byTemplate[group.slice(9)] ??= emptyCounts())[event] += count;
  } else if (group.startsWith('tag:')) {
    (stats.byTag[group.slice(4)] ??= emptyCounts())[event] += count;
  }
}

/** The counter fields one event of `type` increments. */
export function counterFields(type: EmailEventType, template: string | undefined, tags: readonly string[]): string[] {
  const fields = [`all:${type}`];
  if (template !== undefined) fields.push(`template:${template}:${type}`);
  for (const tag of tags) fields.push(`tag:${tag}:${type}`);
  return fields;
}
