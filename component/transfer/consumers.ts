/**
 * Consumers: who gets what. One row per flow of records (source → destination, for a series or a
 * glob of series), with the extract job's schedule and cursor. Quoalise subscriptions are consumers
 * of kind 'subscription'. See schema/002_transfer.sql.
 */
import { cachedStatement, type Db } from '../store/database.js';
import { bareJid, parseJid } from '../xmpp/jid.js';
import { parseSchedule } from './schedule.js';
import { traceOf } from '../trace/trace.js';

export interface Consumer {
  id: number;
  source: string;
  series: string;
  destination: string;
  schedule: string;
  kind: 'flow' | 'subscription';
  batch: number;
  cursor: string | null;
  lastRunAt: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The columns under the names of Consumer: rows come out of SQLite already in shape. */
const COLUMNS = `id, source, series, destination, schedule, kind, batch, cursor, last_run_at AS lastRunAt,
  last_error AS lastError, created_at AS createdAt, updated_at AS updatedAt`;

export class ConsumerError extends Error {
  override name = 'ConsumerError';
}

export interface NewConsumer {
  source: string;
  series: string;
  destination: string;
  schedule: string;
  kind?: 'flow' | 'subscription';
  batch?: number;
  cursor?: string | null;
}

function checkJid(what: string, s: string): string {
  // A component's domain is a JID too (a Quoalise client can be a component).
  if (!parseJid(s) || /\s/.test(s)) throw new ConsumerError(`${what} "${s}" is not a JID such as app@energy.example.org`);
  return bareJid(s);
}

/** A consumer as the log records it: which flow of which series, from whom to whom. */
function consumerFields(c: Consumer) {
  return { consumer: c.id, type: c.kind, source: c.source, destination: c.destination, series: c.series };
}

export class ConsumerStore {
  constructor(private readonly db: Db) {}

  add(c: NewConsumer): Consumer {
    const source = checkJid('source', c.source);
    const destination = checkJid('destination', c.destination);
    if (!c.series || /\s/.test(c.series)) throw new ConsumerError(`series "${c.series}" must be an identifier or a glob without spaces`);
    try {
      parseSchedule(c.schedule);
    } catch (err) {
      throw new ConsumerError((err as Error).message);
    }
    const batch = c.batch ?? 1000;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1000) throw new ConsumerError('batch must be an integer from 1 to 1000 (records per message)');
    const now = Date.now();
    try {
      return this.db.transaction(() => {
        const { lastInsertRowid } = this.db
          .prepare(
            `INSERT INTO consumers (source, series, destination, schedule, kind, batch, cursor, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(source, c.series, destination, c.schedule.trim(), c.kind ?? 'flow', batch, c.cursor ?? null, now, now);
        const added = this.get(Number(lastInsertRowid))!;
        const by = added.kind === 'subscription' ? added.destination : traceOf(this.db).actor;
        traceOf(this.db).write('consumer.added', { ...consumerFields(added), schedule: added.schedule, by });
        return added;
      }).immediate();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new ConsumerError(`a consumer of ${c.series} from ${source} to ${destination} already exists`);
      }
      throw err;
    }
  }

  get(id: number): Consumer | undefined {
    return cachedStatement(this.db, `SELECT ${COLUMNS} FROM consumers WHERE id = ?`).get(id) as Consumer | undefined;
  }

  find(source: string, series: string, destination: string): Consumer | undefined {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM consumers WHERE source = ? AND series = ? AND destination = ?`)
      .get(bareJid(source), series, bareJid(destination)) as Consumer | undefined;
  }

  list(filter: { source?: string; destination?: string; kind?: 'flow' | 'subscription' } = {}): Consumer[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.source) (where.push('source = ?'), args.push(bareJid(filter.source)));
    if (filter.destination) (where.push('destination = ?'), args.push(bareJid(filter.destination)));
    if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
    const sql = `SELECT ${COLUMNS} FROM consumers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.db.prepare(sql).all(...args) as Consumer[];
  }

  /**
   * Whether another consumer than `id` takes this series of the app: one step of the unique index
   * (source, series, destination). An unsubscribe asked it by listing every consumer of the app on the
   * XMPP thread (21 ms each at 5,000 subscriptions: one domain's churn held every stanza ~400 ms).
   */
  hasOther(source: string, series: string, id: number): boolean {
    return this.db.prepare('SELECT 1 FROM consumers WHERE source = ? AND series = ? AND id <> ? LIMIT 1').get(bareJid(source), series, id) !== undefined;
  }

  count(filter: { destination: string; kind: 'flow' | 'subscription' }): number {
    return this.db.prepare('SELECT count(*) FROM consumers WHERE destination = ? AND kind = ?').pluck().get(bareJid(filter.destination), filter.kind) as number;
  }

  /** Subscriptions held by all the subscribers of one domain (schema/011_subscriber_domains.sql). */
  subscriptionsOfDomain(domain: string): number {
    return this.db
      .prepare("SELECT count(*) FROM consumers WHERE kind = 'subscription' AND substr(destination, instr(destination, '@') + 1) = ?")
      .pluck()
      .get(domain) as number;
  }

  remove(id: number): void {
    this.db.transaction(() => {
      const c = this.get(id);
      if (!c || this.db.prepare('DELETE FROM consumers WHERE id = ?').run(id).changes === 0) throw new ConsumerError(`no consumer with id ${id}`);
      traceOf(this.db).write('consumer.removed', { ...consumerFields(c), by: traceOf(this.db).actor });
    }).immediate();
  }

  /**
   * A Quoalise subscription: idempotent (subscribing twice keeps the first cursor). `cursor` is where
   * the source stands now, so that only records arriving after the subscription are pushed.
   */
  subscribe(app: string, series: string, subscriber: string, cursor: string | null): Consumer {
    return this.find(app, series, subscriber) ?? this.add({ source: app, series, destination: subscriber, schedule: 'on-change', kind: 'subscription', cursor });
  }

  /** Ends a subscription; true if there was one. Records queued for it are not sent (schema/004_delivery.sql). */
  unsubscribe(app: string, series: string, subscriber: string): boolean {
    return this.db.transaction(() => {
      const c = this.find(app, series, subscriber);
      if (c?.kind !== 'subscription') return false;
      this.db.prepare('DELETE FROM consumers WHERE id = ?').run(c.id);
      traceOf(this.db).write('consumer.removed', { ...consumerFields(c), by: c.destination });
      return true;
    }).immediate();
  }
}
