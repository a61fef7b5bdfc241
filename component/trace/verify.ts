/**
 * Offline verification of a whole log, from its database or from an export file: every leaf is
 * recomputed from the entry's bytes, the tree is rebuilt, and every checkpoint must be signed by a
 * trusted key and commit to exactly the tree of the entries before it. Two checkpoints that both match
 * the tree rebuilt from one sequence of entries are consistent — the later extends the earlier — which
 * is what an RFC 9162 consistency proof between them would show.
 *
 * The first thing that does not hold is named: a missing entry, an entry whose bytes changed, a
 * checkpoint that does not verify, or — when the entries and their recorded hashes were rewritten
 * together — the entries the stored tree no longer matches.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { FormatError, parseCheckpoint, type Checkpoint } from './formats.js';
import { Frontier, leafHash, nodeHash, type Hash } from './merkle.js';
import { NoteError, openNote, type NoteVerifier } from './note.js';
import type { LogStore, StoredCheckpoint } from './log-store.js';

export interface SourceEntry {
  idx: number;
  entry: string;
  /** The leaf hash recorded when the entry was written (only when asked for: pinpointing damage). */
  hash?: Hash | null;
}

export interface LogSource {
  /** What the source says about itself (an export's header); the checkpoints say it too. */
  origin: string | null;
  /** Verifier keys the source names (the keys that signed its checkpoints). */
  keys: string[];
  checkpoints(): StoredCheckpoint[];
  /** The entries in index order, from `from` on, with their recorded leaf hashes when `hashes`. */
  entries(opts?: { hashes?: boolean; from?: number }): Iterable<SourceEntry>;
  /** Stored roots of complete subtrees at one level, in order (the database only): to pinpoint rewritten entries. */
  nodes?(level: number): Iterable<{ idx: number; hash: Hash }>;
  /** The first entry whose indexed time or kind differs from the entry itself (the database only). */
  misindexed?(): number | null;
}

export interface Problem {
  /** The first entry that does not hold, when an entry is to blame. */
  entry?: number;
  /** The checkpoint (by tree size) that does not hold, when one is to blame. */
  checkpoint?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  origin: string | null;
  entries: number;
  checkpoints: number;
  /** Entries covered by the last valid checkpoint checked. */
  covered: number;
  problem?: Problem;
}

class Stop extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

const when = (ms: number) => new Date(ms).toISOString();

/** Checks each checkpoint's note on its own: format, signature by a trusted key, origin, order. */
function openCheckpoints(stored: StoredCheckpoint[], trusted: readonly NoteVerifier[], origin: string | null): Array<Checkpoint & { at: number }> {
  const out: Array<Checkpoint & { at: number }> = [];
  for (const s of stored) {
    const name = `checkpoint of size ${s.size} (signed ${when(s.at)})`;
    let cp: Checkpoint;
    try {
      cp = parseCheckpoint(openNote(s.note, trusted).text);
    } catch (err) {
      if (err instanceof NoteError || err instanceof FormatError) throw new Stop({ checkpoint: s.size, message: `${name}: ${err.message}` });
      throw err;
    }
    if (cp.size !== s.size) throw new Stop({ checkpoint: s.size, message: `${name}: the note inside commits to size ${cp.size}: the checkpoint was replaced` });
    if (origin !== null && cp.origin !== origin) throw new Stop({ checkpoint: s.size, message: `${name}: it is a checkpoint of ${cp.origin}, not of ${origin}` });
    origin = cp.origin;
    const prev = out.at(-1);
    if (prev && (cp.size <= prev.size || s.at < prev.at)) throw new Stop({ checkpoint: s.size, message: `${name}: out of order after the checkpoint of size ${prev.size}` });
    out.push({ ...cp, at: s.at });
  }
  return out;
}

/**
 * After a checkpoint's root did not match, names the damage: the first entry whose bytes no longer hash
 * to the leaf recorded when it was written; else (the recorded hashes were rewritten too) the first
 * stored subtree root (level 1 and up) the entries no longer produce; else null (the stored tree was
 * rewritten as well: only the checkpoint's range can be named).
 */
function pinpoint(source: LogSource, upTo: number): { from: number; to: number; changed: boolean } | null {
  let level: Hash[] = [];
  for (const e of source.entries({ hashes: true })) {
    if (e.idx >= upTo) break;
    const h = leafHash(e.entry);
    if (e.hash && !h.equals(e.hash)) return { from: e.idx, to: e.idx, changed: true };
    level.push(h);
  }
  if (!source.nodes) return null;
  for (let l = 1; level.length >= 2; l++) {
    const stored = source.nodes(l)[Symbol.iterator]();
    try {
      let theirs = stored.next();
      const next: Hash[] = [];
      for (let i = 0; 2 * i + 1 < level.length; i++) {
        const mine = nodeHash(level[2 * i]!, level[2 * i + 1]!);
        while (!theirs.done && theirs.value.idx < i) theirs = stored.next();
        if (!theirs.done && theirs.value.idx === i && !theirs.value.hash.equals(mine)) {
          return { from: i * 2 ** l, to: Math.min(upTo, (i + 1) * 2 ** l) - 1, changed: false };
        }
        next.push(mine);
      }
      level = next;
    } finally {
      stored.return?.(); // an open SQLite iterator keeps the connection busy
    }
  }
  return null;
}

function damage(source: LogSource, cp: { size: number }, prev: number): Problem {
  const where = pinpoint(source, cp.size);
  if (where?.changed) return { entry: where.from, message: `entry ${where.from} was changed: its bytes no longer hash to the leaf recorded when it was written` };
  if (where) {
    const which = where.from === where.to ? `entry ${where.from} is` : `entries ${where.from}–${where.to} are`;
    return { entry: where.from, message: `${which} not what the log recorded (changed, removed or reordered): the checkpoint of size ${cp.size} does not match` };
  }
  return { entry: prev, checkpoint: cp.size, message: `the checkpoint of size ${cp.size} does not match the entries: one of entries ${prev}–${cp.size - 1} was changed, removed or reordered` };
}

/**
 * Verifies a whole log against trusted keys; stops at the first thing that does not hold. One pass over
 * the entries' bytes (a million in a few seconds): the recorded hashes and the stored tree are read
 * only to name what a failed checkpoint found.
 */
export function verifyLog(source: LogSource, trusted: readonly NoteVerifier[]): VerifyReport {
  const report: VerifyReport = { ok: false, origin: source.origin, entries: 0, checkpoints: 0, covered: 0 };
  try {
    if (trusted.length === 0) throw new Stop({ message: 'no trusted key to check the checkpoints with (pass --key)' });
    const cps = openCheckpoints(source.checkpoints(), trusted, source.origin);
    report.origin = cps[0]?.origin ?? source.origin;
    const misindexed = source.misindexed?.() ?? null;
    if (misindexed !== null) throw new Stop({ entry: misindexed, message: `entry ${misindexed}: its indexed time or kind differs from the entry itself (what fedgate audit list shows was changed)` });
    const f = Frontier.empty();
    let next = 0;
    for (const e of source.entries()) {
      if (e.idx !== f.size) {
        throw new Stop(e.idx > f.size ? { entry: f.size, message: `entry ${f.size} is missing (the next entry is ${e.idx})` } : { entry: e.idx, message: `entry ${e.idx} appears twice or out of order` });
      }
      f.append(leafHash(e.entry));
      while (next < cps.length && cps[next]!.size === f.size) {
        const cp = cps[next]!;
        if (!cp.root.equals(f.root())) throw new Stop(damage(source, cp, next > 0 ? cps[next - 1]!.size : 0));
        report.checkpoints++;
        report.covered = cp.size;
        next++;
      }
    }
    report.entries = f.size;
    if (next < cps.length) {
      const cp = cps[next]!;
      throw new Stop({ entry: f.size, checkpoint: cp.size, message: `the checkpoint of size ${cp.size} covers entries up to ${cp.size - 1}, but the log ends at entry ${f.size - 1}: entries ${f.size}–${cp.size - 1} are missing` });
    }
    // Entries written after the last checkpoint are not signed yet; their recorded hashes still catch an edit.
    for (const e of source.entries({ hashes: true, from: report.covered })) {
      if (e.hash && !leafHash(e.entry).equals(e.hash)) throw new Stop({ entry: e.idx, message: `entry ${e.idx} was changed: its bytes no longer hash to the leaf recorded when it was written` });
    }
    report.ok = true;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    report.problem = err.problem;
  }
  return report;
}

/** The database as a source. */
export function databaseSource(store: LogStore): LogSource {
  return {
    origin: null,
    keys: store.keys(),
    checkpoints: () => store.checkpoints(),
    entries: (opts) => store.entries(opts),
    nodes: (level) => store.nodesOfLevel(level),
    misindexed: () => store.misindexed(),
  };
}

export const EXPORT_FORMAT = 'fedgate-log/1';

/**
 * An export file as a source: JSON lines — a header `{"format","origin","keys"}`, the checkpoints
 * `{"checkpoint": note, "at": ms}`, then the entries `{"index", "hash", "entry"}` in order. Read line
 * by line: a million entries never sit in memory at once.
 */
export function exportSource(path: string): LogSource {
  const lines = () => readLines(path);
  const header = (() => {
    for (const line of lines()) {
      const h = JSON.parse(line) as { format?: string; origin?: string; keys?: string[] };
      if (h.format !== EXPORT_FORMAT) throw new FormatError(`${path} is not a fedgate log export (${EXPORT_FORMAT})`);
      return { origin: h.origin ?? null, keys: h.keys ?? [] };
    }
    throw new FormatError(`${path} is empty`);
  })();
  return {
    ...header,
    checkpoints: () => {
      const out: StoredCheckpoint[] = [];
      for (const line of lines()) {
        const o = JSON.parse(line) as { checkpoint?: string; at?: number };
        if (o.checkpoint === undefined) continue;
        let size = -1;
        try {
          size = parseCheckpoint(o.checkpoint.slice(0, o.checkpoint.lastIndexOf('\n\n') + 1)).size;
        } catch {
          /* reported by the verifier */
        }
        out.push({ size, at: o.at ?? 0, note: o.checkpoint });
      }
      return out;
    },
    *entries(opts = {}) {
      for (const line of lines()) {
        if (!line.startsWith('{"index":')) continue;
        const o = JSON.parse(line) as { index: number; hash?: string; entry: string };
        if (o.index < (opts.from ?? 0)) continue;
        yield { idx: o.index, entry: o.entry, hash: opts.hashes && o.hash ? Buffer.from(o.hash, 'base64') : null };
      }
    },
  };
}

/** Writes the export of a log to a file descriptor (see exportSource for the format). */
export function writeExport(store: LogStore, origin: string | null, write: (s: string) => void): { entries: number; checkpoints: number } {
  const cps = store.checkpoints();
  write(`${JSON.stringify({ format: EXPORT_FORMAT, origin, keys: store.keys() })}\n`);
  for (const c of cps) write(`${JSON.stringify({ checkpoint: c.note, at: c.at })}\n`);
  let n = 0;
  let chunk = '';
  for (const e of store.entries({ hashes: true })) {
    chunk += `${JSON.stringify({ index: e.idx, hash: e.hash!.toString('base64'), entry: e.entry })}\n`;
    if (++n % 10_000 === 0) (write(chunk), (chunk = ''));
  }
  write(chunk);
  return { entries: n, checkpoints: cps.length };
}

/** The lines of a file, read in 1 MB chunks. */
function* readLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const utf8 = new StringDecoder('utf8'); // a character may straddle two chunks
    let rest = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + utf8.write(buf.subarray(0, n));
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (l) yield l;
    }
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}

