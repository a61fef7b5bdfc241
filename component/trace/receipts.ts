/**
 * Signed statements between gateways, as pure functions: the receiver's receipt ("I logged this message
 * at this index of my log") and the sender's proof of origin ("I sent this message"), each over the
 * message's identity and the SHA-256 of its payload.
 *
 * Statements are signed in batches — all the acknowledgements of one ack stanza, all the messages of one
 * send burst — as a tiny Merkle tree whose head is a signed note shaped like a C2SP checkpoint:
 *
 *   <key name>/receipts/<batch id>     (or /origins/<batch id>: each batch is a log of its own)
 *   <number of statements>
 *   <base64 root over the statements>
 *
 *   — <key name> <signature>
 *
 * One Ed25519 signature per batch instead of one per message, and still a standalone proof per message:
 * the statement, its index and inclusion path, and the note — exactly a c2sp.org/tlog-proof with the
 * statement as its extra data, checked by `fedgate audit check` like a proof of a log entry.
 */
import { randomBytes } from 'node:crypto';
import { formatCheckpoint, formatProof, parseCheckpoint, type Checkpoint } from './formats.js';
import { EMPTY_ROOT, leafHash, nodeHash, verifyInclusion, type Hash } from './merkle.js';
import { openNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';

export type StatementKind = 'receipts' | 'origins';

/** What both sides know of a message: who sent it to whom, its id, and the SHA-256 of its payload (hex). */
export interface MessageFacts {
  /** The sender's bare JID. */
  from: string;
  /** The destination's bare JID. */
  to: string;
  /** The message id the receiver deduplicates on. */
  id: string;
  digest: string;
}

export class StatementError extends Error {
  override name = 'StatementError';
}

const CONTROL = /[\u0000-\u001f\u007f]/;

function field(name: string, value: string): string {
  if (value === '' || CONTROL.test(value)) throw new StatementError(`${name} "${value.slice(0, 60)}" is empty or holds control characters: it cannot be signed`);
  return `${name} ${value}\n`;
}

function facts(m: MessageFacts): string {
  if (!/^[0-9a-f]{64}$/.test(m.digest)) throw new StatementError(`digest "${m.digest.slice(0, 70)}" is not a hex SHA-256`);
  // One test for the three fields (every message pays it twice); field() names the culprit otherwise.
  if (m.from !== '' && m.to !== '' && m.id !== '' && !CONTROL.test(m.from + m.to + m.id)) return `from ${m.from}\nto ${m.to}\nid ${m.id}\ndigest ${m.digest}\n`;
  return field('from', m.from) + field('to', m.to) + field('id', m.id) + field('digest', m.digest);
}

/** The sender's statement: "from sent to `to` the message `id` whose payload hashes to `digest`". */
export function originStatement(m: MessageFacts): string {
  return `fedgate-origin/v1\n${facts(m)}`;
}

/** The receiver's statement: "…and I recorded it as entry `index` of my log". */
export function receiptStatement(m: MessageFacts & { index: number }): string {
  if (!Number.isSafeInteger(m.index) || m.index < 0) throw new StatementError(`log index ${m.index} is not a natural number`);
  return `fedgate-receipt/v1\n${facts(m)}index ${m.index}\n`;
}

export interface SignedBatch {
  /** The signed note over the batch's root. */
  note: string;
  /** The inclusion path of statement i. */
  path(i: number): Hash[];
  /** The standalone proof of statement i (a c2sp.org/tlog-proof). */
  proof(i: number): string;
}

/**
 * The origin line of a batch note: the signing key's name, the kind, a batch id unique to this thread's
 * run (a random prefix drawn once, then a counter: a random draw per batch costs more than it buys).
 */
const batchPrefix = randomBytes(6).toString('hex');
let batchCounter = 0;
function batchOrigin(keyName: string, kind: StatementKind): string {
  return `${keyName}/${kind}/${batchPrefix}${(batchCounter++).toString(16).padStart(8, '0')}`;
}

/**
 * A batch's tree, built once, level by level: RFC 6962's tree over the statements is the one where each
 * level pairs its nodes left to right and a last odd node moves up unchanged, so the root costs one hash
 * per node and each statement's inclusion path none (its siblings are read from the levels).
 */
export class BatchTree {
  readonly root: Hash;
  /** levels[0]: the leaves' hashes; each next level: their parents; the last: the root. */
  private readonly levels: Hash[][];

  constructor(readonly statements: readonly string[]) {
    let level = statements.map((s) => leafHash(s));
    this.levels = [level];
    while (level.length > 1) {
      const up: Hash[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
      if (level.length % 2 === 1) up.push(level[level.length - 1]!);
      this.levels.push((level = up));
    }
    this.root = level[0] ?? EMPTY_ROOT;
  }

  /** RFC 6962 §2.1.1 PATH(i, D[0:n]), leaf's sibling first: the sibling on each level, where there is one. */
  path(i: number): Hash[] {
    const out: Hash[] = [];
    for (let l = 0; l < this.levels.length - 1; l++, i >>= 1) {
      const sibling = this.levels[l]![i ^ 1];
      if (sibling) out.push(sibling);
    }
    return out;
  }

  /** The standalone proof of statement i under the batch's signed note. */
  proof(i: number, note: string): string {
    return formatProof({ extra: Buffer.from(this.statements[i]!, 'utf8'), index: i, path: this.path(i), checkpoint: note });
  }
}

/** Signs a batch of statements of one kind. */
export function signBatch(statements: readonly string[], kind: StatementKind, signer: NoteSigner): SignedBatch {
  if (statements.length === 0) throw new StatementError('an empty batch has nothing to sign');
  const tree = new BatchTree(statements);
  const note = signNote(formatCheckpoint({ origin: batchOrigin(signer.name, kind), size: statements.length, root: tree.root }), [signer]);
  return { note, path: (i) => tree.path(i), proof: (i) => tree.proof(i, note) };
}

/** Opens a batch note signed by `key`: its checkpoint, after checking the signature and that it is a batch of this kind by this key. */
export function openBatchNote(note: string, kind: StatementKind, key: NoteVerifier): Checkpoint {
  const cp = parseCheckpoint(openNote(note, [key]).text);
  if (!cp.origin.startsWith(`${key.name}/${kind}/`)) throw new StatementError(`the note is not a batch of ${kind} signed by ${key.name} (it is ${cp.origin})`);
  return cp;
}

/**
 * Checks a whole batch received at once (the acknowledgements of one stanza): the note's root must be the
 * root of exactly these statements. Returns the batch's tree (for each statement's proof). Throws.
 */
export function verifyBatch(statements: readonly string[], note: string, kind: StatementKind, key: NoteVerifier): BatchTree {
  const cp = openBatchNote(note, kind, key);
  const tree = new BatchTree(statements);
  if (cp.size !== statements.length || !tree.root.equals(cp.root)) {
    throw new StatementError(`the signed ${kind} do not match the messages they claim to cover`);
  }
  return tree;
}

/** Checks one statement of a batch (a data message's proof of origin). Throws. */
export function verifyBatchMember(statement: string, index: number, path: readonly Hash[], note: string, kind: StatementKind, key: NoteVerifier): void {
  const cp = openBatchNote(note, kind, key);
  if (!verifyInclusion(index, cp.size, leafHash(statement), path, cp.root)) throw new StatementError(`the signed ${kind} do not cover this message`);
}


