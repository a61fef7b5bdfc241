/**
 * The log in SQLite (schema/007_trace.sql): extending the tree over new entries, signing checkpoints,
 * reading entries, nodes and checkpoints back for proofs and listings. Entries themselves are written
 * by trace.ts, in the transactions of what they record.
 */
import type { Db } from '../store/database.js';
import { formatCheckpoint } from './formats.js';
import { Frontier, HASH_SIZE, type Hash, type NodeReader } from './merkle.js';
import { signNote, type NoteSigner } from './note.js';

export interface StoredEntry {
  idx: number;
  at: number;
  kind: string;
  entry: string;
  hash: Hash;
}

export interface StoredCheckpoint {
  size: number;
  at: number;
  note: string;
}

/** Leaves read per step while extending the tree: bounded memory, short transactions. */
const EXTEND_BATCH = 10_000;

export class LogError extends Error {
  override name = 'LogError';
}

export class LogStore {
  constructor(private readonly db: Db) {}

  /** Size of the tree built so far and its right edge. */
  head(): Frontier {
    const r = this.db.prepare('SELECT size, frontier FROM trace_head WHERE id = 1').get() as { size: number; frontier: Buffer };
    const hashes: Hash[] = [];
    for (let i = 0; i < r.frontier.length; i += HASH_SIZE) hashes.push(r.frontier.subarray(i, i + HASH_SIZE));
    return Frontier.restore(r.size, hashes);
  }

  /** Number of entries written (built into the tree or not yet). */
  size(): number {
    return (this.db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM trace_entries').pluck().get() as number) ?? 0;
  }

  /**
   * Builds the tree over entries written since the last call, up to `limit` leaves, in one transaction:
   * the completed subtrees and the new right edge. Returns the tree's size.
   */
  extend(limit = EXTEND_BATCH): Frontier {
    // Nothing new (the common tick of an idle gateway): no write lock taken.
    const built = this.head();
    if (built.size >= this.size()) return built;
    return this.db
      .transaction(() => {
        const f = this.head();
        const rows = this.db.prepare('SELECT idx, hash FROM trace_entries WHERE idx >= ? ORDER BY idx LIMIT ?').all(f.size, limit) as Array<{ idx: number; hash: Buffer }>;
        if (rows.length === 0) return f;
        const putNode = this.db.prepare('INSERT OR REPLACE INTO trace_nodes (level, idx, hash) VALUES (?, ?, ?)');
        for (const r of rows) {
          // Entries commit in index order under SQLite's write lock: a gap is damage, never a race.
          if (r.idx !== f.size) throw new LogError(`entry ${f.size} is missing from the log (found ${r.idx} next): not extending the tree`);
          for (const n of f.append(r.hash)) putNode.run(n.level, n.index, n.hash);
        }
        this.db.prepare('UPDATE trace_head SET size = ?, frontier = ? WHERE id = 1').run(f.size, Buffer.concat(f.hashes()));
        return f;
      })
      .immediate();
  }

  lastCheckpoint(): StoredCheckpoint | undefined {
    return this.db.prepare('SELECT size, at, note FROM trace_checkpoints ORDER BY size DESC LIMIT 1').get() as StoredCheckpoint | undefined;
  }

  /**
   * Extends the tree over every entry written so far, then signs a checkpoint of it when it grew and the
   * last checkpoint is at least `minIntervalMs` old. Returns the new checkpoint, if one was written.
   */
  seal(signer: NoteSigner, origin: string, now: number, minIntervalMs: number): StoredCheckpoint | null {
    let f: Frontier;
    do f = this.extend();
    while (f.size < this.size());
    return this.signHead(f, signer, origin, now, minIntervalMs);
  }

  /**
   * One step of the log's job: extends the tree by at most `maxLeaves` (one short write lock), and signs
   * as `seal` does only once the tree covers every entry written; `caughtUp` false: come back soon.
   */
  step(signer: NoteSigner, origin: string, now: number, minIntervalMs: number, maxLeaves: number): { checkpoint: StoredCheckpoint | null; caughtUp: boolean } {
    const f = this.extend(maxLeaves);
    if (f.size < this.size()) return { checkpoint: null, caughtUp: false };
    return { checkpoint: this.signHead(f, signer, origin, now, minIntervalMs), caughtUp: true };
  }

  /** Signs a checkpoint of tree `f` if it grew since the last one, at least `minIntervalMs` later. */
  private signHead(f: Frontier, signer: NoteSigner, origin: string, now: number, minIntervalMs: number): StoredCheckpoint | null {
    const last = this.lastCheckpoint();
    if (f.size === 0 || (last && (last.size >= f.size || now - last.at < minIntervalMs))) return null;
    const note = signNote(formatCheckpoint({ origin, size: f.size, root: f.root() }), [signer]);
    const cp = { size: f.size, at: now, note };
    this.db.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO trace_keys (key, first_used_at) VALUES (?, ?)').run(signer.encoded, now);
      this.db.prepare('INSERT INTO trace_checkpoints (size, at, note) VALUES (?, ?, ?)').run(cp.size, cp.at, cp.note);
    }).immediate();
    return cp;
  }

  checkpoints(): StoredCheckpoint[] {
    return this.db.prepare('SELECT size, at, note FROM trace_checkpoints ORDER BY size').all() as StoredCheckpoint[];
  }

  /** The latest checkpoint that covers entry `idx`. */
  checkpointCovering(idx: number): StoredCheckpoint | undefined {
    return this.db.prepare('SELECT size, at, note FROM trace_checkpoints WHERE size > ? ORDER BY size DESC LIMIT 1').get(idx) as StoredCheckpoint | undefined;
  }

  /** Verifier keys that signed checkpoints here. */
  keys(): string[] {
    return this.db.prepare('SELECT key FROM trace_keys ORDER BY first_used_at').pluck().all() as string[];
  }

  entry(idx: number): StoredEntry | undefined {
    return this.db.prepare('SELECT idx, at, kind, entry, hash FROM trace_entries WHERE idx = ?').get(idx) as StoredEntry | undefined;
  }

  /** Entries in index order from `from`, streamed: index and bytes, and the recorded leaf hash when asked. */
  *entries(opts: { hashes?: boolean; from?: number } = {}): Generator<{ idx: number; entry: string; hash?: Hash }> {
    const sql = opts.hashes ? 'SELECT idx, entry, hash FROM trace_entries WHERE idx >= ? ORDER BY idx' : 'SELECT idx, entry FROM trace_entries WHERE idx >= ? ORDER BY idx';
    yield* this.db.prepare(sql).iterate(opts.from ?? 0) as Iterable<{ idx: number; entry: string; hash?: Hash }>;
  }

  /** The first entry whose indexed time or kind differs from the entry's own (checked by SQLite itself). */
  misindexed(): number | null {
    const prefix = `'{"at":' || at || ',"kind":' || json_quote(kind)`;
    return (this.db.prepare(`SELECT idx FROM trace_entries WHERE substr(entry, 1, length(${prefix})) <> ${prefix} ORDER BY idx LIMIT 1`).pluck().get() as number | undefined) ?? null;
  }

  /** The stored roots of complete subtrees (level ≥ 1), in leaf order: for pinpointing damage. */
  *nodesOfLevel(level: number): Generator<{ idx: number; hash: Hash }> {
    yield* this.db.prepare('SELECT idx, hash FROM trace_nodes WHERE level = ? ORDER BY idx').iterate(level) as Iterable<{ idx: number; hash: Hash }>;
  }

  /** Reads stored subtree roots for proofs; level 0 is the entries' own hash. */
  nodeReader(): NodeReader {
    const leaf = this.db.prepare('SELECT hash FROM trace_entries WHERE idx = ?').pluck();
    const node = this.db.prepare('SELECT hash FROM trace_nodes WHERE level = ? AND idx = ?').pluck();
    return (level, index) => {
      const h = (level === 0 ? leaf.get(index) : node.get(level, index)) as Buffer | undefined;
      if (!h) throw new LogError(`the tree has no node at level ${level}, index ${index}: the log's job has not built it yet`);
      return h;
    };
  }

  /** Entries matching the filters, oldest first. */
  list(filter: { since?: number; kinds?: string[]; limit: number; afterIdx?: number }): StoredEntry[] {
    const where = ['idx > ?'];
    const args: Array<string | number> = [filter.afterIdx ?? -1];
    if (filter.since !== undefined) (where.push('at >= ?'), args.push(filter.since));
    if (filter.kinds?.length) {
      where.push(`(${filter.kinds.map(() => "(kind = ? OR kind LIKE ? || '.%')").join(' OR ')})`);
      for (const k of filter.kinds) args.push(k, k);
    }
    return this.db.prepare(`SELECT idx, at, kind, entry, hash FROM trace_entries WHERE ${where.join(' AND ')} ORDER BY idx LIMIT ?`).all(...args, filter.limit) as StoredEntry[];
  }
}
