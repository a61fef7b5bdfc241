/**
 * The `lanes` table (schema/004_delivery.sql): what the send job knows of each destination and why its
 * lane waits, readable by the CLI and kept across restarts. The send job saves a lane when its record
 * changed (a failure, a mode learnt), one row per lane; the CLI asks for a retry by stamping
 * `retry_requested_at`, which the running send job picks up within a second.
 */
import type { Db } from '../store/database.js';
import { laneRecord, type LaneMode, type LaneRecord } from './lane.js';

export interface LaneRow extends LaneRecord {
  retryRequestedAt: number | null;
  updatedAt: number;
}

const COLUMNS = `destination, mode, confirmed, mode_checked_at AS modeCheckedAt, held_until AS heldUntil,
  failed_id AS failedId, attempts, last_error AS lastError, retry_requested_at AS retryRequestedAt, updated_at AS updatedAt`;

function fromRow(r: Omit<LaneRow, 'confirmed'> & { confirmed: number }): LaneRow {
  return { ...r, confirmed: r.confirmed === 1, mode: r.mode as LaneMode };
}

export class LanesTable {
  private readonly save;
  private readonly one;
  private readonly requested;
  private readonly clearRequest;

  constructor(private readonly db: Db) {
    this.save = db.prepare(
      `INSERT INTO lanes (destination, mode, confirmed, mode_checked_at, held_until, failed_id, attempts, last_error, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (destination) DO UPDATE SET mode = excluded.mode, confirmed = excluded.confirmed,
         mode_checked_at = excluded.mode_checked_at, held_until = excluded.held_until, failed_id = excluded.failed_id,
         attempts = excluded.attempts, last_error = excluded.last_error, updated_at = excluded.updated_at`,
    );
    this.one = db.prepare(`SELECT ${COLUMNS} FROM lanes WHERE destination = ?`);
    this.requested = db.prepare('SELECT destination, retry_requested_at AS at FROM lanes WHERE retry_requested_at IS NOT NULL');
    this.clearRequest = db.prepare('UPDATE lanes SET retry_requested_at = NULL WHERE destination = ? AND retry_requested_at = ?');
  }

  all(): LaneRow[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM lanes ORDER BY destination`).all() as Parameters<typeof fromRow>[0][]).map(fromRow);
  }

  /** The stored record of a destination, or a fresh one. */
  record(destination: string): LaneRecord {
    const r = this.one.get(destination) as Parameters<typeof fromRow>[0] | undefined;
    if (!r) return laneRecord(destination);
    const { retryRequestedAt: _r, updatedAt: _u, ...record } = fromRow(r);
    return record;
  }

  /** Saves records in one transaction. */
  saveAll(records: readonly LaneRecord[], now = Date.now()): void {
    if (records.length === 0) return;
    this.db.transaction(() => {
      for (const l of records) {
        this.save.run(l.destination, l.mode, l.confirmed ? 1 : 0, l.modeCheckedAt, l.heldUntil, l.failedId, l.attempts, l.lastError, now);
      }
    }).immediate();
  }

  /**
   * Asks the running send job to send now (one destination, or all): lifts the hold at once for a
   * gateway that is not running. Returns the number of lanes concerned.
   */
  requestRetry(destination?: string, now = Date.now()): number {
    const sql = 'UPDATE lanes SET retry_requested_at = ?, held_until = 0, failed_id = NULL, attempts = 0';
    return destination === undefined
      ? this.db.prepare(sql).run(now).changes
      : this.db.prepare(`${sql} WHERE destination = ?`).run(now, destination).changes;
  }

  /**
   * Forgets lanes with nothing queued whose record has not changed since `before` (what was learnt of
   * a destination nobody sends to any more). Returns how many.
   */
  forgetIdle(before: number): number {
    return this.db
      .prepare('DELETE FROM lanes WHERE updated_at < ? AND retry_requested_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.destination = lanes.destination)')
      .run(before).changes;
  }

  /** Retry requests made since the send job last looked: takes them (each once). */
  takeRetryRequests(): string[] {
    const rows = this.requested.all() as Array<{ destination: string; at: number }>;
    if (rows.length === 0) return [];
    return this.db.transaction(() => rows.filter((r) => this.clearRequest.run(r.destination, r.at).changes === 1).map((r) => r.destination)).immediate();
  }
}
