/**
 * Who received which series, and when (GDPR Art. 15(1)(c), Art. 19, Art. 30): a summary of the
 * transparency log — its `transfer.sent` entries (flows and subscription pushes whose delivery was
 * confirmed) and its `access` entries (get_history answers that held records) — in the table
 * `gdpr_disclosures` (schema/010_gdpr_rights.sql), one row per (app, series, recipient, via).
 *
 * The summary follows the log with a cursor, in short transactions (`catchUp`): the gateway's GDPR
 * worker keeps it a few seconds behind, and the GDPR commands catch it up fully before they read it.
 * It is derived from the log, never the evidence: each row names the first and last log entries it
 * stands for. A data subject reading their own series is not a disclosure and is not counted.
 */
import type { Db } from '../store/database.js';
import { seriesMatcher } from '../transfer/series-pattern.js';

const CURSOR = 'gdpr_disclosures_read';
/**
 * Log entries read per transaction, and per step of the GDPR worker (catchUp(DISCLOSURE_BATCH)): 2,000
 * at once held the write lock 10–20 ms, which the XMPP thread's inbox commit then waited out.
 */
export const DISCLOSURE_BATCH = 256;

export interface Disclosure {
  app: string;
  series: string;
  recipient: string;
  via: 'transfer' | 'access';
  firstAt: number;
  lastAt: number;
  messages: number;
  /** Records of the messages (or answers) that carried the series. */
  records: number;
  firstEntry: number;
  lastEntry: number;
}

const COLUMNS = `app, series, recipient, via, first_at AS firstAt, last_at AS lastAt, messages, records, first_entry AS firstEntry, last_entry AS lastEntry`;

/** A `transfer.sent` entry: one per app, destination and commit, listing its messages (older logs: one entry per message). */
interface Sent {
  app?: string;
  destination?: string;
  records?: number;
  series?: string[];
  messages?: Array<{ records?: number; series?: string[] }>;
}
interface Access {
  app?: string;
  requester?: string;
  command?: string;
  series?: string;
  outcome?: string;
  subject?: string;
  records?: number;
}

/** The app's name from a log field that holds its JID (transfer.sent) or its name (access). */
const appName = (s: string) => (s.includes('@') ? s.slice(0, s.indexOf('@')) : s);

export class Disclosures {
  private readonly upsert;

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO gdpr_disclosures (app, series, recipient, via, first_at, last_at, messages, records, first_entry, last_entry)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, series, recipient, via) DO UPDATE SET first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at),
         messages = messages + excluded.messages, records = records + excluded.records, first_entry = min(first_entry, excluded.first_entry), last_entry = max(last_entry, excluded.last_entry)`,
    );
  }

  /** The last log entry summarised (-1: none). */
  cursor(): number {
    return Number((this.db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(CURSOR) as string | undefined) ?? -1);
  }

  /** Entries of the log not summarised yet. */
  behind(): number {
    return (this.db.prepare('SELECT count(*) FROM trace_entries WHERE idx > ?').pluck().get(this.cursor()) as number) ?? 0;
  }

  /** Reads the log after the cursor, at most `budget` entries, one short transaction per batch; returns how many it read. */
  catchUp(budget = Infinity): number {
    const rows = this.db.prepare(
      `SELECT idx, at, kind, CASE WHEN kind IN ('transfer.sent', 'access') THEN entry END AS entry FROM trace_entries WHERE idx > ? ORDER BY idx LIMIT ?`,
    );
    let read = 0;
    while (read < budget) {
      const n = this.db
        .transaction(() => {
          const from = this.cursor();
          const batch = rows.all(from, Math.min(DISCLOSURE_BATCH, budget - read)) as Array<{ idx: number; at: number; kind: string; entry: string | null }>;
          // Summed in memory first: one upsert per (app, series, recipient) of the batch, not one per message.
          const sums = new Map<string, Disclosure>();
          for (const r of batch) if (r.entry !== null) this.summarise(sums, r.idx, r.at, r.kind, r.entry);
          for (const d of sums.values()) this.upsert.run(d.app, d.series, d.recipient, d.via, d.firstAt, d.lastAt, d.messages, d.records, d.firstEntry, d.lastEntry);
          if (batch.length) this.db.prepare('INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)').run(CURSOR, String(batch[batch.length - 1]!.idx));
          return batch.length;
        })
        .immediate();
      read += n;
      if (n < DISCLOSURE_BATCH) break;
    }
    return read;
  }

  private summarise(sums: Map<string, Disclosure>, idx: number, at: number, kind: string, entry: string): void {
    if (kind === 'transfer.sent') {
      const e = JSON.parse(entry) as Sent;
      if (!e.app || !e.destination) return;
      for (const m of e.messages ?? [e]) {
        // Messages without records are control messages (erasure requests and confirmations), not data.
        if (!m.records) continue;
        for (const s of m.series ?? []) add(sums, appName(e.app), s, e.destination, 'transfer', at, m.records, idx);
      }
    } else {
      const e = JSON.parse(entry) as Access;
      if (e.command !== 'get_history' || e.outcome !== 'allowed' || !e.records || !e.series || !e.app || !e.requester || e.subject) return;
      add(sums, e.app, e.series, e.requester, 'access', at, e.records, idx);
    }
  }

  /**
   * Who received series matching one of `globs` (of one app, or of every app), oldest first; at most
   * `limit` of them (the most recent).
   */
  of(globs: readonly string[], app?: string, limit = Infinity): Disclosure[] {
    const matchers = globs.map(seriesMatcher);
    const rows = app === undefined ? (this.db.prepare(`SELECT ${COLUMNS} FROM gdpr_disclosures`).all() as Disclosure[]) : this.ofApp(globs, app);
    const found = rows.filter((r) => matchers.some((m) => m(r.series)));
    found.sort((a, b) => a.firstAt - b.firstAt);
    if (found.length <= limit) return found;
    return found.sort((a, b) => b.lastAt - a.lastAt).slice(0, limit).sort((a, b) => a.firstAt - b.firstAt);
  }

  /**
   * The app's rows whose series start with a glob's literal start: a range of the primary key (app,
   * series, …) per glob. `my_data` read every row of the app on the XMPP thread and filtered them in
   * JS: a million rows (what a grant holder's reads from many JIDs make in an hour) held it 8–13 s.
   */
  private ofApp(globs: readonly string[], app: string): Disclosure[] {
    const starts = [...new Set(globs.map(literalStart))].sort();
    // A start that another one begins (`urn:a` and `urn:ab`) is read with it: each row once.
    const ranges = starts.filter((p, i) => !starts.slice(0, i).some((q) => p.startsWith(q)));
    const read = this.db.prepare(`SELECT ${COLUMNS} FROM gdpr_disclosures WHERE app = ? AND series >= ? AND series < ?`);
    return ranges.flatMap((p) => read.all(app, p, `${p}\u{10FFFF}`) as Disclosure[]);
  }
}

/** What every series a glob matches starts with: its characters before the first `*` or `?`. */
function literalStart(glob: string): string {
  const wild = glob.search(/[*?]/);
  return wild < 0 ? glob : glob.slice(0, wild);
}

/** Counts one message (or answer) of a log entry into the batch's sums. */
function add(sums: Map<string, Disclosure>, app: string, series: string, recipient: string, via: Disclosure['via'], at: number, records: number, idx: number): void {
  const key = JSON.stringify([app, series, recipient, via]);
  const d = sums.get(key);
  if (!d) {
    sums.set(key, { app, series, recipient, via, firstAt: at, lastAt: at, messages: 1, records, firstEntry: idx, lastEntry: idx });
    return;
  }
  d.firstAt = Math.min(d.firstAt, at);
  d.lastAt = Math.max(d.lastAt, at);
  d.messages++;
  d.records += records;
  d.firstEntry = Math.min(d.firstEntry, idx);
  d.lastEntry = Math.max(d.lastEntry, idx);
}
