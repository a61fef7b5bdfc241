/** The `mqtt` adapter's count of refused payloads (table mqtt_malformed, schema/store/020_mqtt.sql). */
import type { Db } from '../../component/store/database.js';
import type { Logger } from '../../component/log/logger.js';

/** One log line per filter at most this often about its malformed payloads. */
const MALFORMED_LOG_MS = 10_000;

/**
 * Counts refused payloads per filter (in SQLite, so that an operator sees them) and logs them sparingly.
 * Counted in memory and written once per flush, in one transaction: a device flooding the broker with
 * garbage must not cost a write transaction per message.
 */
export class MalformedCounter {
  private readonly upsert;
  private readonly writeAll;
  private readonly lastLog = new Map<string, { at: number; since: number }>();
  /** Per filter (bounded by the configuration), what the next write adds. */
  private pending = new Map<string, { count: number; topic: string; reason: string; at: number }>();

  constructor(db: Db, private readonly app: string, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.upsert = db.prepare(
      `INSERT INTO mqtt_malformed (app, filter, count, last_topic, last_reason, last_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, filter) DO UPDATE SET count = count + excluded.count, last_topic = excluded.last_topic, last_reason = excluded.last_reason, last_at = excluded.last_at`,
    );
    this.writeAll = db.transaction((rows: Array<[string, { count: number; topic: string; reason: string; at: number }]>) => {
      for (const [filter, p] of rows) this.upsert.run(this.app, filter, p.count, p.topic, p.reason, p.at);
    });
  }

  count(filter: string, topic: string, reason: string): void {
    const now = this.now();
    const p = this.pending.get(filter);
    if (p) Object.assign(p, { count: p.count + 1, topic, reason, at: now });
    else this.pending.set(filter, { count: 1, topic, reason, at: now });
    const l = this.lastLog.get(filter) ?? { at: 0, since: 0 };
    l.since++;
    if (now - l.at >= MALFORMED_LOG_MS) {
      this.log.warn({ filter, topic, reason, refused: l.since }, 'malformed MQTT payload refused (not stored)');
      l.at = now;
      l.since = 0;
    }
    this.lastLog.set(filter, l);
  }

  /** Writes what was counted since the last write; on failure (a full disk) keeps it for the next. */
  write(): void {
    if (this.pending.size === 0) return;
    const rows = [...this.pending];
    this.pending = new Map();
    try {
      this.writeAll(rows);
    } catch (err) {
      for (const [filter, p] of rows) {
        const later = this.pending.get(filter);
        this.pending.set(filter, later ? { ...later, count: later.count + p.count } : p);
      }
      throw err;
    }
  }
}
