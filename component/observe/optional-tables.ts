/**
 * Tables that other parts of fedgate own, read here only when they exist (a database not yet migrated
 * by a newer fedgate still shows its status): the consent records (migration 006) and the
 * transparency log (migration 007).
 */
import type { Db } from '../store/database.js';
import { iso } from '../cli/json.js';

export interface PendingConsent {
  count: number;
  /** The oldest first, at most 20. */
  requests: Array<{ id: number; app: string; requester: string; purpose: string; requestedAt: string | null; renewal: boolean }>;
}

function exists(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')").get(name) !== undefined;
}

/** Consent requests and renewals waiting for a decision (schema/006: the consents_awaiting index). */
export function pendingConsentRequests(db: Db): PendingConsent | null {
  if (!exists(db, 'consents')) return null;
  const waiting = "(state = 'requested' OR renewal_until IS NOT NULL)";
  const count = db.prepare(`SELECT count(*) FROM consents WHERE ${waiting}`).pluck().get() as number;
  const rows = db
    .prepare(
      `SELECT id, app, coalesce(requested_by, recipient) AS requester, purpose, state_at AS requestedAt, renewal_until IS NOT NULL AS renewal
       FROM consents WHERE ${waiting} ORDER BY state_at, id LIMIT 20`,
    )
    .all() as Array<{ id: number; app: string; requester: string; purpose: string; requestedAt: number; renewal: number }>;
  return { count, requests: rows.map((r) => ({ ...r, requestedAt: iso(r.requestedAt), renewal: r.renewal === 1 })) };
}

/** Entries of the transparency log (issue 9, migration 007: `trace_head.size`), or null without one. */
export function traceSize(db: Db): number | null {
  if (!exists(db, 'trace_head')) return null;
  return (db.prepare('SELECT size FROM trace_head WHERE id = 1').pluck().get() as number | undefined) ?? 0;
}
