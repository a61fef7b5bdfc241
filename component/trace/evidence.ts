/**
 * Peers' signatures kept as evidence (schema/007_trace.sql: trace_peer_notes, trace_peer_proofs): each
 * signed batch note once, and per message what makes it a standalone proof — its statement, index and
 * inclusion path. Written in the transaction of the log entry that records the message.
 */
import type { Db } from '../store/database.js';
import { formatProof } from './formats.js';
import { HASH_SIZE, type Hash } from './merkle.js';

/** A message's place in a peer's signed batch. */
export interface Evidence {
  /** The peer's verifier key. */
  peer: string;
  note: string;
  index: number;
  statement: string;
  path: readonly Hash[];
}

export class EvidenceStore {
  private readonly findNote;
  private readonly addNote;
  private readonly addProof;
  /** The last notes written (a batch's messages share one). */
  private readonly known = new Map<string, number>();

  constructor(private readonly db: Db) {
    this.findNote = db.prepare('SELECT id FROM trace_peer_notes WHERE note = ?').pluck();
    this.addNote = db.prepare('INSERT INTO trace_peer_notes (peer, note) VALUES (?, ?)');
    this.addProof = db.prepare('INSERT OR REPLACE INTO trace_peer_proofs (entry, note, idx, statement, path) VALUES (?, ?, ?, ?, ?)');
  }

  /** Keeps the evidence of log entry `entry` (inside the caller's transaction). */
  keep(entry: number, e: Evidence): void {
    let note = this.known.get(e.note);
    if (note === undefined) {
      note = (this.findNote.get(e.note) as number | undefined) ?? Number(this.addNote.run(e.peer, e.note).lastInsertRowid);
      if (this.known.size >= 64) this.known.clear();
      this.known.set(e.note, note);
    }
    this.addProof.run(entry, note, e.index, e.statement, Buffer.concat(e.path));
  }

  /** The evidence of an entry as a proof file, and the key that checks it. */
  proof(entry: number): { peer: string; proof: string } | null {
    const r = this.db
      .prepare('SELECT n.peer, n.note, p.idx, p.statement, p.path FROM trace_peer_proofs p JOIN trace_peer_notes n ON n.id = p.note WHERE p.entry = ?')
      .get(entry) as { peer: string; note: string; idx: number; statement: string; path: Buffer } | undefined;
    if (!r) return null;
    const path: Hash[] = [];
    for (let i = 0; i < r.path.length; i += HASH_SIZE) path.push(r.path.subarray(i, i + HASH_SIZE));
    return { peer: r.peer, proof: formatProof({ extra: Buffer.from(r.statement, 'utf8'), index: r.idx, path, checkpoint: r.note }) };
  }
}
