/**
 * Signed statements on the wire, in fedgate's delivery stanzas (namespace urn:fedgate:trace:0).
 *
 * A receiver's acknowledgements carry, per message, the index of its log entry and the payload digest it
 * computed, and one signature for the whole stanza:
 *
 *   <acks xmlns="urn:fedgate:delivery:0">
 *     <ack id="fg0a1b2c-41" index="1207" digest="9f86d0…"/>
 *     <ack id="fg0a1b2c-42" index="1208" digest="60303a…"/>
 *     <signed xmlns="urn:fedgate:trace:0" note="base64 of the signed batch note"/>
 *   </acks>
 *
 * The sender rebuilds each receipt statement from what it sent (its JID, the receiver's, the id, its own
 * digest of the payload) and the receiver's index, and checks the one signature over all of them.
 *
 * A sender's data message carries its proof of origin: the message's place in a signed batch, the
 * batch's note in parts (its id, size, root and signature; the receiver knows the sender's key name):
 *
 *   <origin xmlns="urn:fedgate:trace:0" batch="5f0c…" size="12" root="base64" sig="base64" index="3"
 *           path="base64 of the inclusion path's hashes, leaf's sibling first"/>
 */
import { escapeAttr, type Element } from '../xmpp/xml.js';
import { bareJid } from '../xmpp/jid.js';
import { NS_TRACE } from './disco.js';
import type { Hash } from './merkle.js';
import { receiptStatement, signBatch, StatementError, verifyBatch } from './receipts.js';
import type { NoteSigner, NoteVerifier } from './note.js';
import type { Evidence } from './evidence.js';

export interface AckItem {
  id: string;
  /** The receiver's log index of the message and the digest it computed; absent from peers that sign nothing. */
  index?: number;
  digest?: string;
}

/** The `<ack/>` elements and, when every item has its index and digest, the signature over their receipts. */
export function ackElements(sender: string, receiver: string, items: readonly AckItem[], signer: NoteSigner | null): string {
  let out = '';
  for (const a of items) {
    out += `<ack id="${escapeAttr(a.id)}"${a.index !== undefined && a.index >= 0 ? ` index="${a.index}" digest="${a.digest}"` : ''}/>`;
  }
  if (signer && items.every((a) => a.index !== undefined && a.index >= 0 && a.digest)) {
    try {
      const statements = items.map((a) => receiptStatement({ from: bareJid(sender), to: bareJid(receiver), id: a.id, digest: a.digest!, index: a.index! }));
      out += `<signed xmlns="${NS_TRACE}" note="${Buffer.from(signBatch(statements, 'receipts', signer).note, 'utf8').toString('base64')}"/>`;
    } catch (err) {
      // An id that cannot be signed (control characters): the acknowledgement still goes, unsigned.
      if (!(err instanceof StatementError)) throw err;
    }
  }
  return out;
}

/** What an `<acks/>` element says, as the sender reads it. */
export interface ReadAcks {
  items: AckItem[];
  /** The signed note, when the receiver signed. */
  note: string | null;
}

export function readAcks(acks: Element): ReadAcks {
  const items = acks.getChildren('ack').map((a) => {
    const index = a.attrs.index !== undefined && /^\d+$/.test(a.attrs.index) ? Number(a.attrs.index) : undefined;
    return { id: a.attrs.id ?? '', ...(index !== undefined ? { index } : {}), ...(a.attrs.digest ? { digest: String(a.attrs.digest) } : {}) };
  });
  const b64 = acks.getChild('signed', NS_TRACE)?.attrs.note;
  return { items, note: b64 ? Buffer.from(String(b64), 'base64').toString('utf8') : null };
}

/**
 * The sender's check of a receiver's signed acknowledgements: rebuilds every receipt of the stanza from
 * the acks themselves (the sender's and receiver's JIDs, each id, digest and index) and checks the one
 * signature over them. Returns, per acknowledged id, the receiver's log index, the digest it signed
 * (the caller compares it with its own) and the receipt's evidence. Throws StatementError /
 * NoteError / FormatError saying what does not hold.
 */
export function verifyAcks(read: ReadAcks, sender: string, receiver: string, key: NoteVerifier): Map<string, { index: number; digest: string; evidence: Evidence }> {
  if (!read.note) throw new StatementError('the acknowledgement is not signed');
  const statements = read.items.map((a) => {
    if (a.index === undefined || !a.digest) throw new StatementError(`the receipt of ${a.id} has no log index or no digest`);
    return receiptStatement({ from: bareJid(sender), to: bareJid(receiver), id: a.id, digest: a.digest, index: a.index });
  });
  verifyBatch(statements, read.note, 'receipts', key);
  // The evidence keeps the batch's statements once (with its note): no path per message.
  return new Map(read.items.map((a, i) => [a.id, { index: a.index!, digest: a.digest!, evidence: { peer: key.encoded, note: read.note!, index: i, statements } }]));
}

/**
 * A data message's proof of origin, compact (it goes with every message): the batch note's parts and the
 * message's place in it. The receiver puts the note back together with the sender's key name. Returns
 * the writer of each message's element (the note is taken apart once per batch).
 */
export function originElements(note: string): (index: number, path: readonly Hash[]) => string {
  const m = /^[^\n]*\/origins\/([0-9a-f]+)\n(\d+)\n(\S+)\n\n\u2014 \S+ (\S+)\n$/u.exec(note);
  if (!m) throw new StatementError('not a batch note of proofs of origin');
  const [, batch, size, root, sig] = m as unknown as [string, string, string, string, string];
  const head = `<origin xmlns="${NS_TRACE}" batch="${batch}" size="${size}" root="${root}" sig="${sig}" index="`;
  return (index, path) => {
    const hashes = path.length ? Buffer.concat(path).toString('base64') : '';
    return `${head}${index}"${hashes ? ` path="${hashes}"` : ''}/>`;
  };
}

/** The proof of origin a data message carries, if any, with its batch note rebuilt under `keyName`. */
/** 64 hashes of 32 bytes, in base64. */
const MAX_PATH_BASE64 = Math.ceil((64 * 32) / 3) * 4;

export function readOrigin(message: Element, keyName: string): { index: number; path: Hash[]; note: string } | null {
  const o = message.getChild('origin', NS_TRACE);
  if (!o) return null;
  const { batch, size, root, sig, index, path } = o.attrs as Record<string, string | undefined>;
  if (!batch || !/^[0-9a-f]+$/.test(batch) || !size || !/^\d+$/.test(size) || !root || !sig || !index || !/^\d+$/.test(index)) return null;
  // Sizes a real proof never exceeds (a tree of 2^64 leaves, a SHA-256 root, an Ed25519 signature): a
  // peer's megabyte-long attribute must not cost megabytes of hashing and memory per message.
  if (batch.length > 64 || size.length > 16 || index.length > 16 || root.length > 128 || sig.length > 256 || (path?.length ?? 0) > MAX_PATH_BASE64) return null;
  const raw = path ? Buffer.from(path, 'base64') : Buffer.alloc(0);
  const hashes: Hash[] = [];
  for (let i = 0; i + 32 <= raw.length; i += 32) hashes.push(raw.subarray(i, i + 32));
  const note = `${keyName}/origins/${batch}\n${size}\n${root}\n\n\u2014 ${keyName} ${sig}\n`;
  return { index: Number(index), path: hashes, note };
}
