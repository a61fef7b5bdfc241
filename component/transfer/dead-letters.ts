/**
 * Dead letters: messages that could not be delivered (outbound) or applied (inbound), kept with
 * the reason. Nothing leaves this table by itself: `retry` puts a row back in its queue, `drop`
 * deletes it on an operator's explicit request.
 */
import { recordChange } from '../changes/feed.js';
import type { Db } from '../store/database.js';
import { traceOf } from '../trace/trace.js';
import { sha256Hex } from '../trace/digest.js';
import { instanceToken, stanzaIdOf } from '../delivery/outbox.js';

export interface DeadLetter {
  id: number;
  direction: 'outbound' | 'inbound';
  app: string;
  peer: string;
  stanzaId: string | null;
  /** Outbound: the outbox row it was (and will be again on retry: same stanza id). */
  outboxId: number | null;
  consumerId: number | null;
  records: number;
  attempts: number;
  reason: string;
  createdAt: number;
  diedAt: number;
}

interface Row {
  id: number;
  outbox_id: number | null;
  series: string;
  origin: string | null;
  version: number | null;
  retention: string | null;
  expires_at: number | null;
  direction: 'outbound' | 'inbound';
  app: string;
  peer: string;
  stanza_id: string | null;
  consumer_id: number | null;
  kind: string;
  format: string;
  payload: string;
  records: number;
  attempts: number;
  reason: string;
  created_at: number;
  died_at: number;
}

export class DeadLetterError extends Error {
  override name = 'DeadLetterError';
}

/** Outbox row → dead letter, inside the caller's transaction. */
export function moveOutboxRowToDeadLetters(db: Db, id: number, reason: string): void {
  const row = db.prepare('SELECT sender, destination, payload, records FROM outbox WHERE id = ?').get(id) as
    | { sender: string; destination: string; payload: string; records: number }
    | undefined;
  const moved = db
    .prepare(
      `INSERT INTO dead_letters (direction, app, peer, consumer_id, kind, payload, records, attempts, reason, created_at, died_at, outbox_id, series, expires_at)
       SELECT 'outbound', sender, destination, consumer_id, kind, payload, records, attempts, ?, created_at, ?, id, series, expires_at FROM outbox WHERE id = ?`,
    )
    .run(reason, Date.now(), id).changes;
  if (moved) db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
  if (moved && row) {
    traceOf(db).write('dead-letter', { direction: 'outbound', app: row.sender, peer: row.destination, id: stanzaIdOf(instanceToken(db), id), digest: sha256Hex(row.payload), records: row.records, reason });
  }
}

/** Inbox row → dead letter, inside the caller's transaction; the inbox keeps a 'dead' tombstone for duplicates. */
export function moveInboxRowToDeadLetters(db: Db, id: number, reason: string): boolean {
  const row = db.prepare("SELECT app, sender, stanza_id AS stanzaId, payload, records FROM inbox WHERE id = ? AND state = 'pending'").get(id) as
    | { app: string; sender: string; stanzaId: string; payload: string; records: number }
    | undefined;
  const moved = db
    .prepare(
      `INSERT INTO dead_letters (direction, app, peer, stanza_id, format, payload, records, attempts, reason, created_at, died_at, origin, version, retention, expires_at, series)
       SELECT 'inbound', app, sender, stanza_id, format, payload, records, attempts, ?, received_at, ?, origin, version, retention, expires_at, series FROM inbox WHERE id = ? AND state = 'pending'`,
    )
    .run(reason, Date.now(), id).changes;
  if (moved) db.prepare("UPDATE inbox SET state = 'dead', payload = '', done_at = ?, last_error = ? WHERE id = ?").run(Date.now(), reason, id);
  if (moved && row) {
    traceOf(db).write('dead-letter', { direction: 'inbound', app: row.app, peer: row.sender, id: row.stanzaId, digest: sha256Hex(row.payload), records: row.records, reason });
  }
  return moved > 0;
}

/** Inbox rows moved per transaction by `deadLetterOrphanedInbox`: each write lock stays short. */
const ORPHANS_PER_TRANSACTION = 500;

/**
 * Unapplied inbox rows of apps that no longer exist, moved to the dead letters with the reason, a page
 * per transaction; returns how many. `app remove` calls it until none are left; the housekeeping job finishes
 * a removal cut short. Acknowledged to their senders, such rows must not wait unseen for ever.
 */
export function deadLetterAllOrphanedInbox(db: Db): number {
  let total = 0;
  for (let n; (n = deadLetterOrphanedInbox(db)) > 0; ) total += n;
  return total;
}

/** One page of `deadLetterAllOrphanedInbox`, in one transaction; returns how many rows moved. */
export function deadLetterOrphanedInbox(db: Db): number {
  return db
    .transaction(() => {
      const rows = db
        .prepare(`SELECT id, app FROM inbox WHERE state = 'pending' AND app NOT IN (SELECT name FROM apps) ORDER BY id LIMIT ${ORPHANS_PER_TRANSACTION}`)
        .all() as Array<{ id: number; app: string }>;
      for (const r of rows) moveInboxRowToDeadLetters(db, r.id, `not applied: application ${r.app} was removed (add it again, then fedgate dead-letter retry)`);
      return rows.length;
    })
    .immediate();
}

export class DeadLetters {
  constructor(private readonly db: Db) {}

  list(opts: { direction?: 'outbound' | 'inbound'; limit?: number } = {}): DeadLetter[] {
    const rows = (
      opts.direction
        ? this.db.prepare('SELECT * FROM dead_letters WHERE direction = ? ORDER BY id LIMIT ?').all(opts.direction, opts.limit ?? 100)
        : this.db.prepare('SELECT * FROM dead_letters ORDER BY id LIMIT ?').all(opts.limit ?? 100)
    ) as Row[];
    return rows.map((r) => ({
      id: r.id,
      direction: r.direction,
      app: r.app,
      peer: r.peer,
      stanzaId: r.stanza_id,
      outboxId: r.outbox_id,
      consumerId: r.consumer_id,
      records: r.records,
      attempts: r.attempts,
      reason: r.reason,
      createdAt: r.created_at,
      diedAt: r.died_at,
    }));
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM dead_letters').pluck().get() as number;
  }

  /**
   * Puts a dead letter back in its queue with its attempts reset, as the same message: an outbound one
   * under its old outbox id (so its stanza id, and the receiver's duplicate check, are unchanged), and
   * its lane is asked to send now; an inbound one in place of its tombstone, with its sender's id and
   * version. Returns the outbox/inbox id.
   */
  retry(id: number): number {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT * FROM dead_letters WHERE id = ?').get(id) as Row | undefined;
      if (!r) throw new DeadLetterError(`no dead letter with id ${id}`);
      const now = Date.now();
      let queued: number;
      if (r.direction === 'outbound') {
        queued = Number(
          this.db
            .prepare(
              `INSERT INTO outbox (id, consumer_id, kind, sender, destination, payload, records, series, created_at, expires_at)
               VALUES (?, (SELECT id FROM consumers WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(r.outbox_id, r.consumer_id, r.kind, r.app, r.peer, r.payload, r.records, r.series, r.created_at, r.expires_at).lastInsertRowid,
        );
        this.db
          .prepare(
            `INSERT INTO lanes (destination, retry_requested_at, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (destination) DO UPDATE SET retry_requested_at = excluded.retry_requested_at, held_until = 0, failed_id = NULL, attempts = 0`,
          )
          .run(r.peer, now, now);
      } else {
        // In place of the tombstone that kept duplicates out.
        this.db.prepare("DELETE FROM inbox WHERE app = ? AND sender = ? AND stanza_id = ? AND state = 'dead'").run(r.app, r.peer, r.stanza_id);
        queued = Number(
          this.db
            .prepare(
              `INSERT INTO inbox (app, sender, stanza_id, format, payload, records, next_attempt_at, received_at, origin, version, retention, expires_at, series)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(r.app, r.peer, r.stanza_id ?? `dead-letter-${r.id}`, r.format, r.payload, r.records, now, r.created_at, r.origin, r.version, r.retention, r.expires_at, r.series)
            .lastInsertRowid,
        );
        recordChange(this.db, 'inbox', { app: r.app });
      }
      this.db.prepare('DELETE FROM dead_letters WHERE id = ?').run(id);
      traceOf(this.db).write('dead-letter.retried', { deadLetter: id, direction: r.direction, app: r.app, peer: r.peer, queuedAs: queued, by: traceOf(this.db).actor });
      return queued;
    }).immediate();
  }

  /** The ids of the dead letters matching a filter (for `retry --all` and friends), oldest first. */
  ids(filter: { direction?: 'outbound' | 'inbound'; app?: string; appJid?: string; peer?: string } = {}): number[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.direction) (where.push('direction = ?'), args.push(filter.direction));
    // Inbound rows name our app, outbound ones its JID (the sender).
    if (filter.app) (where.push('app IN (?, ?)'), args.push(filter.app, filter.appJid ?? filter.app));
    if (filter.peer) (where.push('peer = ?'), args.push(filter.peer));
    return this.db.prepare(`SELECT id FROM dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`).pluck().all(...args) as number[];
  }

  /** Deletes a dead letter on purpose. */
  drop(id: number): void {
    this.db.transaction(() => {
      const r = this.db.prepare('SELECT direction, app, peer, payload, records FROM dead_letters WHERE id = ?').get(id) as Pick<Row, 'direction' | 'app' | 'peer' | 'payload' | 'records'> | undefined;
      if (!r) throw new DeadLetterError(`no dead letter with id ${id}`);
      this.db.prepare('DELETE FROM dead_letters WHERE id = ?').run(id);
      traceOf(this.db).write('dead-letter.dropped', { deadLetter: id, direction: r.direction, app: r.app, peer: r.peer, digest: sha256Hex(r.payload), records: r.records, by: traceOf(this.db).actor });
    }).immediate();
  }
}
