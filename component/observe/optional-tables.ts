/**
 * Tables that other parts of fedgate add in their own migrations, read here only when they exist, so
 * that the status page and the metrics work on any schema version.
 *
 * HOOK for consent (issue 8, migration 006): pending consent requests are read from a view
 * `consent_requests_pending` with the columns (id, app, requester, purpose, requested_at). Until the
 * consent migration creates it, there is nothing pending to show and `pendingConsentRequests` is null.
 */
import type { Db } from '../store/database.js';
import { iso } from '../cli/json.js';

export interface PendingConsent {
  count: number;
  /** The oldest first, at most 20. */
  requests: Array<{ id: number; app: string; requester: string; purpose: string; requestedAt: string | null }>;
}

function exists(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')").get(name) !== undefined;
}

export function pendingConsentRequests(db: Db): PendingConsent | null {
  if (!exists(db, 'consent_requests_pending')) return null;
  const count = db.prepare('SELECT count(*) FROM consent_requests_pending').pluck().get() as number;
  const rows = db
    .prepare('SELECT id, app, requester, purpose, requested_at AS requestedAt FROM consent_requests_pending ORDER BY requested_at LIMIT 20')
    .all() as Array<{ id: number; app: string; requester: string; purpose: string; requestedAt: number | null }>;
  return { count, requests: rows.map((r) => ({ ...r, requestedAt: iso(r.requestedAt) })) };
}

/** Entries of the transparency log (issue 9, migration 007: `trace_head.size`), or null without one. */
export function traceSize(db: Db): number | null {
  if (!exists(db, 'trace_head')) return null;
  return (db.prepare('SELECT size FROM trace_head WHERE id = 1').pluck().get() as number | undefined) ?? 0;
}
