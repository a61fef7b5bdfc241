/**
 * The change feed's one watcher (schema/005_change_feed.sql): reads the `changes` rows committed since
 * the last it saw — one indexed query every 50 ms, nothing else while nothing changes — and hands
 * each topic's changes, in commit order and decoded, to whoever subscribed to that topic:
 *
 *   feed.on('consents', () => authz.refresh());
 *
 * Runs on the gateway's main thread, which routes what concerns an app to that app's worker. Start it
 * before loading the state it keeps fresh (the registry, the grants…): a change committed while that
 * loads is then delivered too, and handlers are idempotent reloads of what changed.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { decoders, encoders, type ChangeTopics, type Topic } from './topics.js';

export type ChangeHandler<T extends Topic> = (changes: Array<ChangeTopics[T]>) => void;

interface ChangeRow {
  seq: number;
  topic: string;
  key: string;
  detail: string | null;
}

/** Rows read per query; a longer backlog is read in several turns of the event loop. */
const PAGE = 1000;

export class ChangeFeed {
  private position = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly handlers = new Map<Topic, Array<ChangeHandler<Topic>>>();
  private readonly read: Statement<[number, number]>;

  constructor(private readonly db: Db, private readonly log?: Logger) {
    this.read = db.prepare('SELECT seq, topic, key, detail FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
  }

  /** Calls `handler` with the changes of `topic`, batched per read. Returns the function that unsubscribes. */
  on<T extends Topic>(topic: T, handler: ChangeHandler<T>): () => void {
    let list = this.handlers.get(topic);
    if (!list) this.handlers.set(topic, (list = []));
    list.push(handler as ChangeHandler<Topic>);
    return () => list.splice(list.indexOf(handler as ChangeHandler<Topic>), 1);
  }

  /** From now on, changes committed after this call are delivered. */
  start(pollMs = 50): void {
    this.position = (this.db.prepare('SELECT coalesce(max(seq), 0) FROM changes').pluck().get() as number) ?? 0;
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads and delivers what changed since the last read (also called by the timer). */
  poll(): void {
    for (;;) {
      const rows = this.read.all(this.position, PAGE) as ChangeRow[];
      if (rows.length === 0) return;
      this.position = rows[rows.length - 1]!.seq;
      this.deliver(rows);
      if (rows.length < PAGE) return;
    }
  }

  private deliver(rows: ChangeRow[]): void {
    const byTopic = new Map<Topic, Array<ChangeTopics[Topic]>>();
    for (const r of rows) {
      const decode = decoders[r.topic as Topic];
      if (!decode || !this.handlers.has(r.topic as Topic)) continue; // a topic nobody here watches
      let list = byTopic.get(r.topic as Topic);
      if (!list) byTopic.set(r.topic as Topic, (list = []));
      list.push(decode(r.key, r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>)));
    }
    for (const [topic, changes] of byTopic) {
      for (const handler of this.handlers.get(topic) ?? []) {
        try {
          handler(changes);
        } catch (err) {
          // One failing watcher must not stop the feed for the others.
          this.log?.error({ topic, err: (err as Error).stack ?? String(err) }, 'change handler failed');
        }
      }
    }
  }
}

/**
 * Records a change that no trigger sees (records written to another file, an explicit wake-up). Call it
 * inside the transaction of the write it announces when there is one.
 */
export function recordChange<T extends 'consents' | 'data' | 'inbox'>(db: Db, topic: T, change: ChangeTopics[T]): void {
  const { key, detail } = encoders[topic]!(change);
  db.prepare('INSERT INTO changes (topic, key, detail, at) VALUES (?, ?, ?, ?)').run(topic, key, detail === null ? null : JSON.stringify(detail), Date.now());
}

/** Forgets changes older than `before` (ms): the housekeeping job's part. */
export function purgeChanges(db: Db, before: number): number {
  return db.prepare('DELETE FROM changes WHERE at < ?').run(before).changes;
}
