/**
 * When a consumer's extract job runs: 'on-change' (as soon as the source app reports new data),
 * 'every 30s' / 'every 5m' / 'every 1h', a 5-field cron expression (UTC), or 'none' (an inbound
 * entitlement, nothing to extract here).
 */
import later from '@breejs/later';
import cronValidate from 'cron-validate';

// A CommonJS module compiled from ESM: under Node's ESM loader its function is the default's default.
const cron = ((cronValidate as unknown as { default?: unknown }).default ?? cronValidate) as (expr: string) => { isValid(): boolean };

export type Schedule =
  | { type: 'on-change' }
  | { type: 'none' }
  | { type: 'interval'; ms: number }
  | { type: 'cron'; expression: string };

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

export function parseSchedule(s: string): Schedule {
  const text = s.trim();
  if (text === 'on-change' || text === 'none') return { type: text };
  const every = /^every\s+(\d+)\s*([smh])$/.exec(text);
  if (every) {
    const ms = Number(every[1]) * UNITS[every[2]!]!;
    if (ms < 1000) throw new ScheduleError(`schedule "${s}": the shortest interval is 1s`);
    return { type: 'interval', ms };
  }
  // later (bree's scheduler) accepts out-of-range fields silently; cron-validate (bree's validator) does not.
  if (text.split(/\s+/).length === 5 && cron(text).isValid()) return { type: 'cron', expression: text };
  throw new ScheduleError(`schedule "${s}": use on-change, none, "every N(s|m|h)" or a 5-field cron expression`);
}

/** Milliseconds from `now` to the next run of a timed schedule (interval or cron). */
export function nextRunDelay(schedule: Schedule, lastRunAt: number | null, now = Date.now()): number | null {
  if (schedule.type === 'interval') return Math.max(0, (lastRunAt ?? 0) + schedule.ms - now);
  if (schedule.type === 'cron') {
    later.date.UTC();
    const next = later.schedule(later.parse.cron(schedule.expression)).next(1, new Date(now + 1000)) as Date | 0;
    return next ? Math.max(0, Math.floor(next.getTime() / 1000) * 1000 - now) : null;
  }
  return null;
}
