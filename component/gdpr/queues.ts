/**
 * A person's data in fedgate's own queues — messages waiting to leave (outbox), received and not yet
 * applied (inbox), given up (dead letters) — erased by series: a message all of whose series match is
 * deleted; a message that also carries other series is rewritten without the matching records (so that
 * nothing of anyone else is touched). Rows are found by their `series` column, read in pages and
 * changed in short transactions. Messages without records (erasure requests and confirmations) are
 * never touched.
 */
import type { Db } from '../store/database.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import { parseXml } from '../quoalise/xml-parse.js';
import { decodeQuoalise, encodeQuoalise } from '../quoalise/payload.js';
import { decodeSen1 } from '../quoalise/sen1.js';
import { NS_QUOALISE, NS_SEN1 } from '../quoalise/namespaces.js';
import { QuoaliseFormatError } from '../quoalise/errors.js';
import { decodeRetention, encodeRetention, lastExpiryMs } from './retention.js';
import type { SeriesRecord } from '../quoalise/types.js';
import { payloadDigest } from '../trace/digest.js';

const PAGE = 1000;

export interface QueueErasure {
  /** Messages deleted from each queue. */
  outbox: number;
  inbox: number;
  deadLetters: number;
  /** Messages kept without the erased records (they carried other series too). */
  rewritten: number;
  /** Who outbox messages holding the data were for (our app's JID, the destination): some may have been on their way. */
  sentBy: Array<{ app: string; destination: string }>;
}

/** Which rows to look at: every queue, or those of one of our apps from one sender (an erasure a source asked for). */
export type QueueScope = { all: true } | { app: string; sender: string };

interface Row {
  id: number;
  series: string;
  payload: string;
  format?: string;
  sender?: string;
  destination?: string;
}

/** The series of a queued message: its column, or (for rows queued before it existed) its payload's. */
function seriesOf(r: Row): string[] {
  if (r.series) return r.series.split('\n').filter(Boolean);
  try {
    return recordsOf(r).map((x) => x.name);
  } catch {
    return [];
  }
}

function recordsOf(r: Row): SeriesRecord[] {
  const wrapper = parseXml(`<payload>${r.payload}</payload>`);
  const q = wrapper.getChild('quoalise', NS_QUOALISE);
  if (q) return decodeQuoalise(q).flatMap((b) => b.records);
  const s = wrapper.getChild('Sen1Message', NS_SEN1);
  if (s) return decodeSen1(s).block.records;
  return [];
}

/**
 * The payload without the records of matching series (and without their retention terms), or null
 * when nothing would be left. A payload the gateway cannot re-encode (a 2019 Sen1Message, which holds
 * one series) is all or nothing.
 */
export function withoutSeries(payload: string, erase: (series: string) => boolean): { payload: string; records: number; series: string[]; expiresAt: number | null } | null {
  const wrapper = parseXml(`<payload>${payload}</payload>`);
  const q = wrapper.getChild('quoalise', NS_QUOALISE);
  if (!q) return null;
  const blocks = decodeQuoalise(q)
    .map((b) => ({ meta: b.meta, records: b.records.filter((r) => !erase(r.name)) }))
    .filter((b) => b.records.length > 0);
  if (blocks.length === 0) return null;
  const kept = new Set(blocks.flatMap((b) => b.records.map((r) => r.name)));
  const retention = decodeRetention(wrapper);
  for (const s of [...(retention?.keys() ?? [])]) if (!kept.has(s)) retention!.delete(s);
  const records = blocks.flatMap((b) => b.records);
  return {
    payload: encodeQuoalise(blocks) + (retention ? encodeRetention(retention) : ''),
    records: records.length,
    series: [...kept],
    expiresAt: lastExpiryMs(retention, records),
  };
}

/**
 * Erases the records of series matching `globs` from the queues in scope. `onPage`, if given, is called
 * inside each page's transaction with the totals so far: what it records commits with the deletions.
 */
export function eraseFromQueues(db: Db, globs: readonly string[], scope: QueueScope, onPage?: (soFar: QueueErasure) => void): QueueErasure {
  const matchers = globs.map(seriesMatcher);
  const erase = (s: string) => matchers.some((m) => m(s));
  const out: QueueErasure = { outbox: 0, inbox: 0, deadLetters: 0, rewritten: 0, sentBy: [] };
  const sentBy = new Map<string, { app: string; destination: string }>();
  const all = 'all' in scope;
  const tables = [
    {
      key: 'outbox' as const,
      select: `SELECT id, series, payload, sender, destination FROM outbox WHERE id > ? AND records > 0 ${all ? '' : 'AND 0'} ORDER BY id LIMIT ${PAGE}`,
      args: [] as string[],
      del: 'DELETE FROM outbox WHERE id = ?',
      // The digest the send path signs is the payload's: computed again for the new payload.
      rewrite: 'UPDATE outbox SET payload = ?, records = ?, series = ?, expires_at = ?, digest = ? WHERE id = ?',
    },
    {
      key: 'inbox' as const,
      select: `SELECT id, series, payload, format FROM inbox WHERE id > ? AND state = 'pending' ${all ? '' : 'AND app = ? AND sender = ?'} ORDER BY id LIMIT ${PAGE}`,
      args: all ? [] : [scope.app, scope.sender],
      // A tombstone stays: the same message sent again is recognised as a duplicate, not applied.
      del: "UPDATE inbox SET state = 'done', payload = '', done_at = CAST(unixepoch('subsec') * 1000 AS INTEGER), last_error = 'erased (GDPR)' WHERE id = ?",
      rewrite: 'UPDATE inbox SET payload = ?, records = ?, series = ?, expires_at = ? WHERE id = ?',
    },
    {
      key: 'deadLetters' as const,
      select: `SELECT id, series, payload, format FROM dead_letters WHERE id > ? AND records > 0 ${all ? '' : "AND direction = 'inbound' AND app = ? AND peer = ?"} ORDER BY id LIMIT ${PAGE}`,
      args: all ? [] : [scope.app, scope.sender],
      del: 'DELETE FROM dead_letters WHERE id = ?',
      rewrite: 'UPDATE dead_letters SET payload = ?, records = ?, series = ?, expires_at = ? WHERE id = ?',
    },
  ];
  for (const t of tables) {
    const page = db.prepare(t.select);
    const del = db.prepare(t.del);
    const rewrite = db.prepare(t.rewrite);
    for (let after = 0; ; ) {
      const rows = page.all(after, ...t.args) as Row[];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const hit = rows.filter((r) => seriesOf(r).some(erase));
      if (hit.length) {
        db.transaction(() => {
          for (const r of hit) {
            let rest: ReturnType<typeof withoutSeries> = null;
            try {
              rest = r.format === 'sen1' ? null : withoutSeries(r.payload, erase);
            } catch (err) {
              if (!(err instanceof QuoaliseFormatError)) throw err;
            }
            if (rest) {
              if (t.key === 'outbox') rewrite.run(rest.payload, rest.records, rest.series.join('\n'), rest.expiresAt, payloadDigest(rest.payload), r.id);
              else rewrite.run(rest.payload, rest.records, rest.series.join('\n'), rest.expiresAt, r.id);
              out.rewritten++;
            } else {
              del.run(r.id);
              out[t.key]++;
            }
            if (r.sender && r.destination) sentBy.set(`${r.sender} ${r.destination}`, { app: r.sender, destination: r.destination });
          }
          onPage?.({ ...out, sentBy: [...sentBy.values()] });
        }).immediate();
      }
      if (rows.length < PAGE) break;
    }
  }
  out.sentBy = [...sentBy.values()];
  return out;
}
