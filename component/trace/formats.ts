/**
 * The two text formats a third party handles, byte for byte as C2SP specifies them:
 *
 * c2sp.org/tlog-checkpoint — the text of a signed note:
 *   <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines]
 *
 * c2sp.org/tlog-proof@v1 — an entry's inclusion in a checkpointed tree, verifiable offline:
 *   c2sp.org/tlog-proof@v1\n[extra <base64>\n]index <n>\n<base64 hash>\n…\n\n<signed checkpoint>
 * fedgate puts the entry itself in `extra`: its leaf hash is what the inclusion proof proves, so the
 * extra data, unauthenticated by the format, is authenticated by the proof.
 */
import { HASH_SIZE, type Hash } from './merkle.js';

export class FormatError extends Error {
  override name = 'FormatError';
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeHash(b64: string, what: string): Hash {
  if (!BASE64.test(b64)) throw new FormatError(`${what}: not base64`);
  const h = Buffer.from(b64, 'base64');
  if (h.length !== HASH_SIZE || h.toString('base64') !== b64) throw new FormatError(`${what}: not the base64 of a 32-byte hash`);
  return h;
}

function decimal(s: string, what: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new FormatError(`${what}: "${s.slice(0, 30)}" is not a decimal number without leading zeros`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new FormatError(`${what}: ${s} is too large`);
  return n;
}

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;
}

/** Parses a checkpoint's note text (signatures already removed by openNote). Extension lines are ignored. */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines.at(-1) !== '') throw new FormatError('a checkpoint has an origin, a size and a root hash, each on its own line');
  const [origin, size, root] = lines as [string, string, string];
  if (origin === '') throw new FormatError('checkpoint origin is empty');
  if (lines.slice(3, -1).some((l) => l === '')) throw new FormatError('checkpoint extension lines must not be empty');
  return { origin, size: decimal(size, 'checkpoint size'), root: decodeHash(root, 'checkpoint root hash') };
}

export const PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

export interface TlogProof {
  extra: Buffer | null;
  index: number;
  path: Hash[];
  /** The signed checkpoint note, verbatim. */
  checkpoint: string;
}

export function formatProof(p: TlogProof): string {
  let out = `${PROOF_HEADER}\n`;
  if (p.extra) out += `extra ${p.extra.toString('base64')}\n`;
  out += `index ${p.index}\n`;
  for (const h of p.path) out += `${h.toString('base64')}\n`;
  return `${out}\n${p.checkpoint}`;
}

export function parseProof(text: string): TlogProof {
  const lines = text.split('\n');
  let i = 0;
  if (lines[i++] !== PROOF_HEADER) throw new FormatError(`not a tlog proof: the first line must be ${PROOF_HEADER}`);
  let extra: Buffer | null = null;
  if (lines[i]?.startsWith('extra ')) {
    const b64 = lines[i++]!.slice('extra '.length);
    if (!BASE64.test(b64)) throw new FormatError('proof extra data: not base64');
    extra = Buffer.from(b64, 'base64');
  }
  const idx = lines[i++];
  if (!idx?.startsWith('index ')) throw new FormatError('proof: missing the "index N" line');
  const index = decimal(idx.slice('index '.length), 'proof index');
  const path: Hash[] = [];
  while (i < lines.length && lines[i] !== '') path.push(decodeHash(lines[i++]!, `proof hash ${path.length + 1}`));
  if (lines[i++] !== '') throw new FormatError('proof: missing the empty line before the checkpoint');
  const checkpoint = lines.slice(i).join('\n');
  if (checkpoint === '') throw new FormatError('proof: missing the checkpoint');
  return { extra, index, path, checkpoint };
}
