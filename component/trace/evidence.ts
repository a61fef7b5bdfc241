/**
 * Peers' signatures kept as evidence (schema/007_trace.sql: trace_peer_notes, trace_peer_proofs): each
 * signed batch note once, and per message what makes it a standalone proof — its statement, index and
 * inclusion path — one row per log entry (an entry records the messages of one commit). Written in the
 * transaction of that entry.
 */
import type { Db } from '../store/database.js';
import { formatProof } from './formats.js';
import { HASH_SIZE, type Hash } from './merkle.js';
import { BatchTree } from './receipts.js';

/**
 * A message's place in a peer's signed batch: its statement and inclusion path, or — when the whole
 * batch is at hand (a receiver's acknowledgements) — the batch's statements, kept once with the note.
 */
export interface Evidence {
  /** The peer's verifier key. */
  peer: string;
  note: string;
  index: number;
  statement?: string;
  path?: readonly Hash[];
  statements?: readonly string[];
}

interface StoredProof {
  id: string;
  note: number;
  idx: number;
  statement?: string;
  path?: string;
}

export class EvidenceStore {
  private readonly findNote;
  private readonly addNote;
  private readonly addProofs;
  /** The last notes written (a batch's messages share one). */
  private readonly known = new Map<string, number>();

  constructor(private readonly db: Db) {
    this.findNote = db.prepare('SELECT id FROM trace_peer_notes WHERE note = ?').pluck();
    this.addNote = db.prepare('INSERT INTO trace_peer_notes (peer, note, statements) VALUES (?, ?, ?)');
    this.addProofs = db.prepare('INSERT OR REPLACE INTO trace_peer_proofs (entry, proofs) VALUES (?, ?)');
  }

  /** Keeps the evidence of the messages log entry `entry` records (inside the caller's transaction). */
  keep(entry: number, proofs: ReadonlyArray<{ id: string; evidence: Evidence }>): void {
    if (proofs.length === 0) return;
    const rows: StoredProof[] = proofs.map(({ id, evidence: e }) => ({
      id,
      note: this.noteId(e),
      idx: e.index,
      ...(e.statements ? {} : { statement: e.statement ?? '', path: Buffer.concat(e.path ?? []).toString('base64') }),
    }));
    this.addProofs.run(entry, JSON.stringify(rows));
  }

  /** The evidence of one message of an entry (the only one when `id` is not given) as a proof file, and the key that checks it. */
  proof(entry: number, id?: string): { peer: string; proof: string } | { ids: string[] } | null {
    const json = this.db.prepare('SELECT proofs FROM trace_peer_proofs WHERE entry = ?').pluck().get(entry) as string | undefined;
    if (!json) return null;
    const rows = JSON.parse(json) as StoredProof[];
    const r = id === undefined ? (rows.length === 1 ? rows[0] : undefined) : rows.find((x) => x.id === id);
    if (!r) return id === undefined ? { ids: rows.map((x) => x.id) } : null;
    const note = this.db.prepare('SELECT peer, note, statements FROM trace_peer_notes WHERE id = ?').get(r.note) as { peer: string; note: string; statements: string | null };
    if (note.statements !== null) {
      // The batch's statements were kept with its note: the message's path is rebuilt from them.
      return { peer: note.peer, proof: new BatchTree(JSON.parse(note.statements) as string[]).proof(r.idx, note.note) };
    }
    const raw = Buffer.from(r.path ?? '', 'base64');
    const path: Hash[] = [];
    for (let i = 0; i < raw.length; i += HASH_SIZE) path.push(raw.subarray(i, i + HASH_SIZE));
    return { peer: note.peer, proof: formatProof({ extra: Buffer.from(r.statement ?? '', 'utf8'), index: r.idx, path, checkpoint: note.note }) };
  }

  /**
   * Forgets the note ids cached: a transaction that wrote some of them rolled back (a note row added in
   * it is gone, and its id may be given to another note).
   */
  forgetCached(): void {
    this.known.clear();
  }

  private noteId(e: Evidence): number {
    let note = this.known.get(e.note);
    if (note === undefined) {
      note = (this.findNote.get(e.note) as number | undefined) ?? Number(this.addNote.run(e.peer, e.note, e.statements ? JSON.stringify(e.statements) : null).lastInsertRowid);
      if (this.known.size >= 64) this.known.clear();
      this.known.set(e.note, note);
    }
    return note;
  }
}
