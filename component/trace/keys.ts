/**
 * The gateway's signing key: one Ed25519 key per gateway, named after its log (`<domain>/fedgate`),
 * generated on first start into `trace.key_file` (mode 0600) as a signed-note signer key. It signs the
 * log's checkpoints and the gateway's receipts and proofs of origin; its public half is published on the
 * domain's disco#info and printed by `fedgate audit key`.
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { formatKeyId, generateSigner, NoteError, parseSignerKey, type NoteSigner } from './note.js';
import type { Db } from '../store/database.js';
import { LogStore } from './log-store.js';
import { traceOf } from './trace.js';

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

/** The log's origin line, which is also its key's name: a schema-less URL under the gateway's domain. */
export function logOrigin(domain: string): string {
  return `${domain}/fedgate`;
}

/**
 * Reads the signer key from `path`, or creates it (mode 0600) when the file does not exist. Refuses a
 * file others may read, a malformed one, and a key made for another name (the domain changed).
 */
export function loadOrCreateKey(path: string, name: string): { signer: NoteSigner; created: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(`trace.key_file ${path}: cannot read: ${(err as NodeJS.ErrnoException).code}`);
    const signer = generateSigner(name);
    mkdirSync(dirname(path), { recursive: true });
    let tmp: string;
    try {
      tmp = writeKeyAside(path, signer.encodedSecret);
    } catch (e) {
      throw new KeyFileError(`trace.key_file ${path}: cannot create: ${(e as NodeJS.ErrnoException).code}`);
    }
    try {
      linkSync(tmp, path); // appears whole or not at all, and never replaces another process's key
      syncFolder(path);
      return { signer, created: true };
    } catch (e) {
      // Another process (the CLI, a second start) created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new KeyFileError(`trace.key_file ${path}: cannot create: ${(e as NodeJS.ErrnoException).code}`);
      return loadOrCreateKey(path, name);
    } finally {
      unlinkSync(tmp);
    }
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new KeyFileError(`trace.key_file ${path} may be read by other users (mode ${mode.toString(8)}): run chmod 600 ${path}`);
  let signer: NoteSigner;
  try {
    signer = parseSignerKey(text);
  } catch (err) {
    if (err instanceof NoteError) throw new KeyFileError(`trace.key_file ${path}: ${err.message}`);
    throw err;
  }
  if (signer.name !== name) {
    throw new KeyFileError(`trace.key_file ${path} holds the key of ${signer.name}, but this gateway's log is ${name} (did link.domain change? see "Key handling" in the README)`);
  }
  return { signer, created: false };
}

/**
 * Replaces the gateway's key (the gateway must be stopped): the log records the rotation — old and new
 * public keys — in an entry that the OLD key signs into a last checkpoint, so that whoever trusts the old
 * key can follow the log to the new one; the old key file is kept aside (`<key_file>.<key id>.retired`).
 * Checkpoints signed before stay verifiable: the old public key stays in the log's key history.
 */
export function rotateKey(db: Db, path: string, name: string, by: string): { previous: NoteSigner; next: NoteSigner; retired: string } {
  finishRotation(db, path, name);
  const { signer: previous } = loadOrCreateKey(path, name);
  const next = generateSigner(name);
  // The new key on disk (`<key_file>.next`) before the log names it; then the old one kept aside and
  // the new one put in its place in one rename. A crash in between is finished (or undone) by
  // finishRotation at the next start or rotation: the key file always holds the key the log last named.
  renameSync(writeKeyAside(path, next.encodedSecret), nextKeyPath(path));
  syncFolder(path);
  traceOf(db).write('key.rotated', { previous: previous.encoded, next: next.encoded, by });
  return { previous, next, retired: installNext(db, path, name, previous) };
}

const nextKeyPath = (path: string) => `${path}.next`;

/** The log names the key in `<key_file>.next`: the old key signs the log up to there, is kept aside, and the new one takes its place. */
function installNext(db: Db, path: string, name: string, previous: NoteSigner): string {
  new LogStore(db).seal(previous, name, Date.now(), 0);
  const retired = `${path}.${formatKeyId(previous.keyId)}.retired`;
  try {
    linkSync(path, retired);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  renameSync(nextKeyPath(path), path);
  syncFolder(path);
  return retired;
}

/**
 * A rotation cut short (a crash between writing the new key and putting it in place): if the log names
 * the key waiting in `<key_file>.next`, the rotation is finished; if it does not (the crash came before
 * the log entry), that key is thrown away and the old one stands. Run before the key is used: at start
 * and before a rotation. Returns what it did, if anything.
 */
export function finishRotation(db: Db, path: string, name: string): 'finished' | 'discarded' | null {
  const next = nextKeyPath(path);
  let text: string;
  try {
    text = readFileSync(next, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyFileError(`${next}: cannot read: ${(err as NodeJS.ErrnoException).code}`);
  }
  let key: NoteSigner | null = null;
  try {
    key = parseSignerKey(text);
  } catch {
    // Not a whole key: the crash came while it was written, before the log could name it.
  }
  const named =
    key !== null &&
    db.prepare("SELECT 1 FROM trace_entries WHERE kind = 'key.rotated' AND idx = (SELECT max(idx) FROM trace_entries WHERE kind = 'key.rotated') AND instr(entry, ?) > 0").get(key.encoded) !== undefined;
  if (!named) {
    unlinkSync(next);
    syncFolder(path);
    return 'discarded';
  }
  installNext(db, path, name, loadOrCreateKey(path, name).signer);
  return 'finished';
}

/** The folder's entries on disk too (a new name survives a power cut). */
function syncFolder(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a key beside `path`, whole and on disk (mode exactly 0600), for the caller to move into place:
 * a crash while writing must never leave an empty or half-written key file that stops the next start.
 */
function writeKeyAside(path: string, encodedSecret: string): string {
  // A name of its own: a file left by a crash (the same pid again, in a container) is never in the way.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${encodedSecret}\n`);
    fchmodSync(fd, 0o600); // the umask may have taken bits away, never added: make it exact
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}
