/**
 * Erasure between gateways (GDPR Art. 17 and 19), in the `urn:fedgate:gdpr:0` namespace. The source of
 * some data asks each recipient to erase what it received from it; a fedgate recipient applies the
 * request to the data it received from that source, and confirms:
 *
 *   <message from="meters@a.example.org" to="sink@b.example.org" id="fg…-77">
 *     <body xmlns="jabber:component:accept">meters@a.example.org asks you to erase …</body>
 *     <erase xmlns="urn:fedgate:gdpr:0" request="e0a1b2c3d4e5-3-1">
 *       <series>urn:dev:prm:30001442769830_*</series>
 *       <reason>erasure requested by the data subject (GDPR Art. 17)</reason>
 *     </erase>
 *     …the delivery request and the proof of origin, as for data…
 *   </message>
 *
 *   <message from="sink@b.example.org" to="meters@a.example.org" id="fg…-12">
 *     <erased xmlns="urn:fedgate:gdpr:0" request="e0a1b2c3d4e5-3-1" records="17568" complete="true"/>
 *     …
 *   </message>
 *
 * Both travel through the outbox like data: signed (the sender's proof of origin covers them), confirmed
 * by the receiver's signed receipt, retried, dead-lettered with the reason. The body is for people (a
 * plain XMPP client that received data by get_history reads it); a fedgate recipient reads the element.
 * The body carries its namespace explicitly so that both ends digest it alike (component/trace/digest.ts).
 */
import { NS_GDPR } from './retention.js';
import { escapeAttr, escapeText, type Element } from '../xmpp/xml.js';
import { dataDigest } from '../trace/digest.js';

export class ErasureFormatError extends Error {
  override name = 'ErasureFormatError';
}

/** At most this many series globs in one request (a person's series are a few globs). */
const MAX_SERIES = 100;
const MAX_TEXT = 2000;

export interface EraseRequest {
  /** Unique per source: e<instance>-<erasure>-<n>. */
  request: string;
  series: string[];
  reason: string;
}

export interface ErasedConfirmation {
  request: string;
  /** Records the recipient deleted. */
  records: number;
  /** False when part of the data is kept where the recipient's gateway cannot erase it (said in `note`). */
  complete: boolean;
  note?: string;
}

const BODY_NS = 'jabber:component:accept';

/** The outbox payload of an erasure request: a body for people, the element for gateways. */
export function erasePayload(r: EraseRequest, from: string): string {
  const body =
    `${from} asks you to erase the data you received from it about the series ${r.series.join(', ')} ` +
    `(GDPR Art. 17 and 19: ${r.reason}). Request ${r.request}. A fedgate gateway does it and confirms by itself.`;
  return (
    `<body xmlns="${BODY_NS}">${escapeText(body)}</body>` +
    `<erase xmlns="${NS_GDPR}" request="${escapeAttr(r.request)}">${r.series.map((s) => `<series>${escapeText(s)}</series>`).join('')}<reason>${escapeText(r.reason)}</reason></erase>`
  );
}

export function erasedPayload(c: ErasedConfirmation): string {
  return `<erased xmlns="${NS_GDPR}" request="${escapeAttr(c.request)}" records="${c.records}" complete="${c.complete}">${c.note ? `<note>${escapeText(c.note)}</note>` : ''}</erased>`;
}

/** The GDPR element of a message, if it carries one: an erasure request or its confirmation. */
export function controlElement(message: Element): { kind: 'erase' | 'erased'; el: Element } | null {
  const erase = message.getChild('erase', NS_GDPR);
  if (erase) return { kind: 'erase', el: erase };
  const erased = message.getChild('erased', NS_GDPR);
  return erased ? { kind: 'erased', el: erased } : null;
}

/** The digest the sender's log and proof of origin hold: over what its outbox row held (the body, then the element). */
export function controlDigest(message: Element, el: Element): string {
  const body = el.name === 'erase' ? message.getChild('body') : undefined;
  return dataDigest(body ? [body, el] : [el]);
}

function requestId(el: Element): string {
  const id = el.attrs.request;
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(id)) throw new ErasureFormatError('the request attribute must be an identifier of at most 100 letters, digits, dots, dashes');
  return id;
}

export function decodeErase(el: Element): EraseRequest {
  const series = el.getChildren('series').map((s) => s.getText().trim());
  if (series.length === 0) throw new ErasureFormatError('an erasure request names at least one series (an identifier or a glob)');
  if (series.length > MAX_SERIES) throw new ErasureFormatError(`an erasure request names at most ${MAX_SERIES} series`);
  for (const s of series) if (!s || /\s/.test(s) || s.length > 500) throw new ErasureFormatError(`series "${s.slice(0, 80)}" is not an identifier or a glob`);
  return { request: requestId(el), series, reason: (el.getChildText('reason') ?? '').slice(0, MAX_TEXT) };
}

export function decodeErased(el: Element): ErasedConfirmation {
  const records = Number(el.attrs.records);
  if (!Number.isSafeInteger(records) || records < 0) throw new ErasureFormatError('records must be a whole number');
  if (el.attrs.complete !== 'true' && el.attrs.complete !== 'false') throw new ErasureFormatError('complete must be true or false');
  const note = el.getChildText('note')?.slice(0, MAX_TEXT);
  return { request: requestId(el), records, complete: el.attrs.complete === 'true', ...(note ? { note } : {}) };
}
