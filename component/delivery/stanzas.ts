/**
 * The data message as it goes on the wire. Its id is the outbox row's stable id, also carried as
 * XEP-0359 `origin-id`. How the destination confirms (its lane's mode) decides the request element:
 * - `acks` (a fedgate peer): `<request xmlns="urn:fedgate:delivery:0" epoch="…" version="…"/>` —
 *   confirm with batched `<acks/>`; `epoch` (our database's instance token) and `version` (the row
 *   id, which grows with every message we queue) let the receiver keep the newest value of a record
 *   whatever order messages arrive in;
 * - `receipt`: XEP-0184 `<request xmlns="urn:xmpp:receipts"/>`;
 * - `window`: nothing to ask (the destination confirms nothing).
 * `proof` is the message's proof of origin (component/trace/wire.ts), for fedgate peers.
 *
 * The message comes out clean (only characters XML 1.0 allows): the send worker builds it, so the XMPP
 * thread writes it without scanning it again (CleanXml) — the scan costs in proportion to the length,
 * and the proof of origin (hex, base64 and digits only) is about half of a small message.
 */
import { escapeAttr, stripForbiddenXmlChars } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { stanzaIdOf, type OutboxRow } from './outbox.js';
import type { PeerMode } from './lane.js';

/**
 * The longest message id (XEP-0359 origin-id, or the stanza's id) a receiver takes; fedgate's own are
 * ~20 characters. Ids go into the transparency log, kept for ever.
 */
export const MAX_STANZA_ID = 256;

export function dataMessage(row: Pick<OutboxRow, 'id' | 'sender' | 'destination' | 'payload'>, mode: PeerMode, instance: string, proof = ''): string {
  const id = stanzaIdOf(instance, row.id);
  const request =
    mode === 'acks' ? `<request xmlns="${NS.fedgateDelivery}" epoch="${instance}" version="${row.id}"/>` : mode === 'receipt' ? `<request xmlns="${NS.receipts}"/>` : '';
  const head = stripForbiddenXmlChars(`<message from="${escapeAttr(row.sender)}" to="${escapeAttr(row.destination)}" id="${id}">${row.payload}`);
  return `${head}${request}${proof}<origin-id xmlns="${NS.stanzaId}" id="${id}"/></message>`;
}
