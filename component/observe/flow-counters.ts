/**
 * The flow counters (schema/009_operations.sql) are written by triggers; this is their only deletion.
 * A row per (direction, app, peer), and a subscriber's JID is a peer: without it, every destination
 * ever served would keep a row, read by every status refresh and metrics scrape, for ever.
 */
import type { Db } from '../store/database.js';

/**
 * Forgets the counters of flows idle since `before` with nothing of theirs still in the outbox (its
 * rows are shown with their flow). A flow that resumes counts again from zero, which Prometheus'
 * rate() reads as a counter reset.
 */
export function forgetIdleFlows(db: Db, before: number): number {
  return db
    .prepare(
      `DELETE FROM flow_counters WHERE last_at < ?
         AND NOT (direction = 'out' AND EXISTS (SELECT 1 FROM outbox WHERE outbox.destination = flow_counters.peer AND outbox.sender = flow_counters.app))`,
    )
    .run(before).changes;
}
