/**
 * Proofs a third party checks without the database: `fedgate audit prove ENTRY` writes one entry's
 * inclusion in a signed checkpoint as a c2sp.org/tlog-proof (the entry in its extra data);
 * `fedgate audit check PROOF --key KEY` verifies such a file — or a peer's receipt or proof of origin,
 * which have the same shape — with nothing but the key.
 */
import { FormatError, formatProof, parseCheckpoint, parseProof } from './formats.js';
import { inclusionProof, leafHash, verifyInclusion } from './merkle.js';
import { NoteError, openNote, type NoteVerifier } from './note.js';
import { LogError, type LogStore } from './log-store.js';

export class ProofError extends Error {
  override name = 'ProofError';
}

/** The proof of entry `idx` against the latest checkpoint that covers it. */
export function proveEntry(store: LogStore, idx: number): string {
  const entry = store.entry(idx);
  if (!entry) throw new ProofError(`the log has no entry ${idx} (it holds ${store.size()})`);
  const cp = store.checkpointCovering(idx);
  if (!cp) throw new ProofError(`entry ${idx} is not covered by a signed checkpoint yet: the running gateway signs one every few seconds; try again shortly`);
  let path;
  try {
    path = inclusionProof(idx, cp.size, store.nodeReader());
  } catch (err) {
    if (err instanceof LogError) throw new ProofError(err.message);
    throw err;
  }
  return formatProof({ extra: Buffer.from(entry.entry, 'utf8'), index: idx, path, checkpoint: cp.note });
}

export interface CheckedProof {
  /** What the proof is about: an entry of a log, or a gateway's signed receipt or proof of origin. */
  kind: 'log entry' | 'receipt' | 'proof of origin';
  /** The checkpoint's origin: the log, or the batch of statements. */
  origin: string;
  size: number;
  index: number;
  /** The entry or statement proven, as text. */
  content: string;
  /** The key that signed it (verifier-key name and ID). */
  signedBy: string;
}

/** Verifies a proof file with trusted keys only. Throws ProofError saying what does not hold. */
export function checkProof(text: string, trusted: readonly NoteVerifier[]): CheckedProof {
  try {
    const p = parseProof(text);
    if (!p.extra) throw new ProofError('the proof carries no entry (no "extra" line): nothing to check it against');
    const opened = openNote(p.checkpoint, trusted);
    const cp = parseCheckpoint(opened.text);
    const signer = opened.verified[0]!;
    const kind = cp.origin === signer.name ? 'log entry' : cp.origin.startsWith(`${signer.name}/receipts/`) ? 'receipt' : cp.origin.startsWith(`${signer.name}/origins/`) ? 'proof of origin' : null;
    if (!kind) throw new ProofError(`the checkpoint of ${cp.origin} is signed by ${signer.name}, which is not the log's key`);
    if (!verifyInclusion(p.index, cp.size, leafHash(p.extra), p.path, cp.root)) {
      throw new ProofError(`the ${kind} is not at index ${p.index} of the tree the checkpoint signs (size ${cp.size}): the proof or the ${kind} was changed`);
    }
    return { kind, origin: cp.origin, size: cp.size, index: p.index, content: p.extra.toString('utf8'), signedBy: `${signer.name}+${signer.keyId.toString(16).padStart(8, '0')}` };
  } catch (err) {
    if (err instanceof NoteError || err instanceof FormatError) throw new ProofError(err.message);
    throw err;
  }
}
