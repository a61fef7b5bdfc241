/**
 * The hourly purge reads "now" from the wall clock, and deletes for ever: a clock ahead by more than a
 * retention period (a VM's clock at boot before NTP corrects it, a bad step) deleted records still
 * within it — all 1,000 of a P1D app at a start two days ahead (fifth crash campaign), logged as a
 * routine purge. Each hourly run records the time it went by; when the clock has moved on by more than
 * a day since, the run deletes nothing and says so, every hour, until an operator runs
 * `fedgate retention purge`, which accepts the clock as it is. A gateway stopped for more than a day
 * holds the same way: from the database alone the two cannot be told apart, and waiting loses nothing.
 * The housekeeping job keeps applied inbox rows (the ids that recognise repeats) on the same verdict.
 */
import type { Db } from '../store/database.js';

/** The `settings` row holding the wall-clock time (ms) of the last purge. */
const SETTING = 'purge.last_at';

/** The purge runs hourly: a longer gap is said; past a day the run holds. */
export const PURGE_WARN_GAP_MS = 2 * 3_600_000;
export const PURGE_HOLD_GAP_MS = 24 * 3_600_000;

export type PurgeClockVerdict = { run: true; gapMs: number | null; unusual: boolean } | { run: false; gapMs: number };

/** Whether the purge may trust `now`, given the time the last one went by (null: none yet). */
export function judgePurgeClock(lastAt: number | null, now: number): PurgeClockVerdict {
  if (lastAt === null) return { run: true, gapMs: null, unusual: false };
  const gapMs = now - lastAt;
  if (gapMs > PURGE_HOLD_GAP_MS) return { run: false, gapMs };
  // A clock stepped back deletes later, never early: not worth a word.
  return { run: true, gapMs, unusual: gapMs > PURGE_WARN_GAP_MS };
}

export function lastPurgeAt(db: Db): number | null {
  const v = db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(SETTING) as string | undefined;
  return v === undefined ? null : Number(v);
}

/** The time a purge went by: the next hourly run is judged against it. */
export function recordPurgeAt(db: Db, at: number): void {
  db.prepare('INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)').run(SETTING, String(at));
}

/** One line for the log when a run holds. */
export function describeHeldPurge(gapMs: number, lastAt: number): string {
  const hours = Math.round(gapMs / 3_600_000);
  return `retention purge held: the wall clock is ${hours} h past the last purge (${new Date(lastAt).toISOString()}), more than a day; a clock ahead would delete records still within their retention. If the time is right (the gateway was stopped that long), run fedgate retention purge once`;
}
