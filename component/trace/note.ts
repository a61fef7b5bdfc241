/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, on Node's built-in crypto.
 *
 *   <text ending in a newline>
 *   <blank line>
 *   — <key name> base64(4-byte big-endian key ID || 64-byte Ed25519 signature of the text)
 *
 * Keys travel in the encodings of Go's golang.org/x/mod/sumdb/note, which the transparency tools
 * (sigsum, tessera, the Go checksum database) read:
 *   verifier key  <name>+<key ID, 8 hex digits>+base64(0x01 || 32-byte public key)
 *   signer key    PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte seed)
 * with key ID = first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { sha256 } from './merkle.js';

export class NoteError extends Error {
  override name = 'NoteError';
}

/** The signature type byte of plain Ed25519 signatures (signed-note §Signature types). */
const ED25519 = 0x01;
/** DER prefixes that wrap a raw 32-byte Ed25519 seed / public key as PKCS#8 / SPKI for Node's crypto. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const EM_DASH = '\u2014';
/** The note spec asks verifiers to accept at least 16 signatures; we stop well past that. */
const MAX_SIGNATURES = 100;

/** Key names: non-empty, no Unicode spaces, no plus signs. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

export function keyId(name: string, publicKey: Buffer): number {
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Buffer.from([ED25519]), publicKey).readUInt32BE(0);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

export interface NoteVerifier {
  name: string;
  keyId: number;
  publicKey: Buffer;
  /** The encoded verifier key: what `fedgate audit key` prints and disco publishes. */
  encoded: string;
  verify(message: Buffer, signature: Buffer): boolean;
}

export interface NoteSigner extends NoteVerifier {
  sign(message: Buffer): Buffer;
  /** The encoded signer key (secret): what the key file holds. */
  encodedSecret: string;
}

function verifierFromPublic(name: string, publicKey: Buffer): NoteVerifier {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name "${name}": it must be non-empty, without spaces or "+"`);
  if (publicKey.length !== 32) throw new NoteError(`an Ed25519 public key has 32 bytes, got ${publicKey.length}`);
  const id = keyId(name, publicKey);
  const key: KeyObject = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  return {
    name,
    keyId: id,
    publicKey,
    encoded: `${name}+${hex8(id)}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`,
    verify: (message, signature) => signature.length === 64 && edVerify(null, message, key, signature),
  };
}

/** The signer of a 32-byte Ed25519 seed under `name`. */
export function signerFromSeed(name: string, seed: Buffer): NoteSigner {
  if (seed.length !== 32) throw new NoteError(`an Ed25519 seed has 32 bytes, got ${seed.length}`);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const v = verifierFromPublic(name, Buffer.from(publicKey));
  return {
    ...v,
    sign: (message) => edSign(null, message, priv),
    encodedSecret: `PRIVATE+KEY+${name}+${hex8(v.keyId)}+${Buffer.concat([Buffer.from([ED25519]), seed]).toString('base64')}`,
  };
}

/** A new random key under `name`. */
export function generateSigner(name: string): NoteSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return signerFromSeed(name, Buffer.from(seed));
}

/** Splits `name+hash+base64` and checks the hash and the key type. */
function decodeKey(encoded: string, what: string): { name: string; id: number; key: Buffer } {
  // The base64 part may itself hold "+": only the first two separate fields.
  const m = /^([^+]+)\+([^+]*)\+(.*)$/s.exec(encoded.trim());
  if (!m) throw new NoteError(`malformed ${what}: expected NAME+KEYID+BASE64`);
  const [, name, idHex, b64] = m as unknown as [string, string, string, string];
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new NoteError(`malformed ${what}`);
  const raw = Buffer.from(b64, 'base64');
  if (raw[0] !== ED25519 || raw.length !== 33) throw new NoteError(`${what}: not an Ed25519 key (type byte 0x01 and 32 bytes expected)`);
  return { name, id: Number.parseInt(idHex, 16), key: raw.subarray(1) };
}

/** Parses an encoded verifier key (`name+keyid+base64`). */
export function parseVerifierKey(encoded: string): NoteVerifier {
  const { name, id, key } = decodeKey(encoded, 'verifier key');
  const v = verifierFromPublic(name, key);
  if (v.keyId !== id) throw new NoteError(`verifier key ${name}: key ID ${hex8(id)} does not match the key (${hex8(v.keyId)})`);
  return v;
}

/** Parses an encoded signer key (`PRIVATE+KEY+name+keyid+base64`). */
export function parseSignerKey(encoded: string): NoteSigner {
  const text = encoded.trim();
  if (!text.startsWith('PRIVATE+KEY+')) throw new NoteError('malformed signer key: it must start with PRIVATE+KEY+');
  const { name, id, key } = decodeKey(text.slice('PRIVATE+KEY+'.length), 'signer key');
  const s = signerFromSeed(name, key);
  if (s.keyId !== id) throw new NoteError(`signer key ${name}: key ID ${hex8(id)} does not match the key (${hex8(s.keyId)})`);
  return s;
}

/** Signs `text` (which must end with a newline) with each signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkNoteChars(text);
  if (!text.endsWith('\n')) throw new NoteError('a note text ends with a newline');
  const message = Buffer.from(text, 'utf8');
  const lines = signers.map((s) => {
    const sig = Buffer.alloc(4 + 64);
    sig.writeUInt32BE(s.keyId, 0);
    s.sign(message).copy(sig, 4);
    return `${EM_DASH} ${s.name} ${sig.toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

function checkNoteChars(s: string): void {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) throw new NoteError('a note must not contain control characters other than newline');
}

export interface OpenedNote {
  text: string;
  /** The signatures that verified with a known key. */
  verified: Array<{ name: string; keyId: number }>;
  /** Signatures by keys we do not know (ignored, as the spec requires). */
  unknown: Array<{ name: string; keyId: number }>;
}

/**
 * Parses a signed note and checks its signatures against `known` keys. Throws NoteError when the note
 * is malformed, when a signature by a known key does not verify, or when no known key signed it.
 */
export function openNote(note: string, known: readonly NoteVerifier[]): OpenedNote {
  checkNoteChars(note);
  if (!note.endsWith('\n')) throw new NoteError('malformed note: it must end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  const message = Buffer.from(text, 'utf8');
  const opened: OpenedNote = { text, verified: [], unknown: [] };
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m) throw new NoteError(`malformed signature line "${line.slice(0, 80)}"`);
    const [, name, b64] = m as unknown as [string, string, string];
    const sig = Buffer.from(b64, 'base64');
    if (sig.length < 5) throw new NoteError(`signature of ${name} is too short`);
    const id = sig.readUInt32BE(0);
    const key = known.find((k) => k.name === name && k.keyId === id);
    if (!key) {
      opened.unknown.push({ name, keyId: id });
      continue;
    }
    if (!key.verify(message, sig.subarray(4))) throw new NoteError(`the signature of ${name}+${hex8(id)} does not verify: the note was changed or signed by another key`);
    opened.verified.push({ name, keyId: id });
  }
  if (opened.verified.length === 0) {
    const by = opened.unknown.map((u) => `${u.name}+${hex8(u.keyId)}`).join(', ') || 'nobody';
    throw new NoteError(`no trusted key signed this note (signed by ${by})`);
  }
  return opened;
}

/**
 * Who signed a note, as its signature lines say — nothing verified (to notice a key we do not know yet:
 * a peer that rotated its key). Malformed lines are skipped.
 */
export function noteSigners(note: string): Array<{ name: string; keyId: number }> {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return [];
  const out: Array<{ name: string; keyId: number }> = [];
  for (const line of note.slice(split + 2).split('\n').slice(0, MAX_SIGNATURES)) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]{8,}={0,2})$/u.exec(line);
    if (m) out.push({ name: m[1]!, keyId: Buffer.from(m[2]!, 'base64').readUInt32BE(0) });
  }
  return out;
}

export function formatKeyId(id: number): string {
  return hex8(id);
}
