/**
 * The outbox: messages waiting to leave, one SQLite row each (schema/002_transfer.sql, 004_delivery.sql).
 * Rows are grouped in lanes by destination and leave a lane in id order. A row is deleted only once
 * its delivery is confirmed or when it moves to the dead letters. Holding a lane after a failure is
 * the lane's business (lanes-table.ts): a row only counts its own attempts.
 */
import type { Db } from '../store/database.js';
import { moveOutboxRowToDeadLetters } from '../transfer/dead-letters.js';
import { payloadDigest } from '../trace/digest.js';

export interface OutboxRow {
  id: number;
  consumerId: number | null;
  kind: 'flow' | 'push';
  sender: string;
  destination: string;
  payload: string;
  records: number;
  /** The records' series identifiers, one per line. */
  series: string;
  /** SHA-256 of the payload (null for rows queued without one: computed when sent). */
  digest: string | null;
  attempts: number;
  lastError: string | null;
  createdAt: number;
}

export interface NewOutboxMessage {
  consumerId?: number | null;
  kind?: 'flow' | 'push';
  sender: string;
  destination: string;
  payload: string;
  records: number;
  /** The series of the records (checked against the destination's grants before a push leaves). */
  series?: readonly string[];
  /** When every record of the message is past its retention (ms); absent: kept without limit. */
  expiresAt?: number | null;
  /** The payload's digest when the producer knows it (component/trace/digest.ts); computed here otherwise. */
  digest?: string;
}

/** The columns under the names of OutboxRow: rows come out of SQLite already in shape. */
const COLUMNS = `id, consumer_id AS consumerId, kind, sender, destination, payload, records, series, digest, attempts,
  last_error AS lastError, created_at AS createdAt`;

/** The stanza id of an outbox row: unique across databases thanks to the instance token. */
export function stanzaIdOf(instance: string, rowId: number): string {
  return `fg${instance}-${rowId}`;
}

/** The outbox row id named by one of our stanza ids, or null if the id is not ours. */
export function rowIdOf(instance: string, stanzaId: string | undefined): number | null {
  const prefix = `fg${instance}-`;
  if (!stanzaId?.startsWith(prefix)) return null;
  const n = Number(stanzaId.slice(prefix.length));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export function instanceToken(db: Db): string {
  return db.prepare("SELECT value FROM settings WHERE name = 'instance'").pluck().get() as string;
}

export class Outbox {
  private readonly insert;
  private readonly laneRows;
  private readonly deleteOne;
  private readonly failOne;
  private readonly lane;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO outbox (consumer_id, kind, sender, destination, payload, records, series, created_at, expires_at, digest)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.laneRows = db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE destination = ? AND id > ? ORDER BY id LIMIT ?`);
    this.deleteOne = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.failOne = db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?');
    this.lane = db.prepare('INSERT INTO lanes (destination, updated_at) VALUES (?, ?) ON CONFLICT (destination) DO NOTHING');
  }

  /**
   * Appends messages in one transaction (nested in the caller's, when other writes must commit with
   * them), and makes sure each destination has its lane.
   */
  enqueue(messages: readonly NewOutboxMessage[], now = Date.now()): number[] {
    return this.db.transaction(() => {
      for (const d of new Set(messages.map((m) => m.destination))) this.lane.run(d, now);
      return messages.map(
        (m) =>
          Number(
            this.insert.run(
              m.consumerId ?? null,
              m.kind ?? 'flow',
              m.sender,
              m.destination,
              m.payload,
              m.records,
              (m.series ?? []).join('\n'),
              now,
              m.expiresAt ?? null,
              m.digest ?? payloadDigest(m.payload),
            ).lastInsertRowid,
          ),
      );
    }).immediate();
  }

  /** Up to `limit` rows of a lane after `afterId`, in order. */
  laneAfter(destination: string, afterId: number, limit: number): OutboxRow[] {
    return this.laneRows.all(destination, afterId, limit) as OutboxRow[];
  }

  /** Confirmed deliveries leave the outbox. */
  confirm(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.db.transaction(() => {
      for (const id of ids) this.deleteOne.run(id);
    }).immediate();
  }

  /** Counts a failed attempt on the row (the lane is held elsewhere, in O(1)). */
  fail(id: number, error: string): void {
    this.failOne.run(error, id);
  }

  /** Moves a row to the dead letters with the reason (permanent error, retries exhausted, no longer covered). */
  kill(id: number, reason: string): void {
    this.db.transaction(() => moveOutboxRowToDeadLetters(this.db, id, reason)).immediate();
  }

  get(id: number): OutboxRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE id = ?`).get(id) as OutboxRow | undefined;
  }

  list(opts: { destination?: string; limit?: number } = {}): OutboxRow[] {
    const rows = opts.destination
      ? this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE destination = ? ORDER BY id LIMIT ?`).all(opts.destination, opts.limit ?? 100)
      : this.db.prepare(`SELECT ${COLUMNS} FROM outbox ORDER BY id LIMIT ?`).all(opts.limit ?? 100);
    return rows as OutboxRow[];
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
  }
}
