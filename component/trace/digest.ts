/**
 * The digest the log and the signed statements use for data: SHA-256 in lower-case hex, as `sha256sum`
 * prints it. A message's data is digested in a canonical XML form that survives every server on the way
 * (ejabberd, Prosody: they re-serialize stanzas, and Prosody does not keep the order of attributes):
 * element by element, attributes sorted by name, a namespace declared only where it changes, text and
 * attribute values escaped one fixed way. Both gateways compute it from parsed elements — the sender
 * from its outbox row, the receiver from what it received — so they agree whatever the bytes in between.
 */
import { escapeAttr, escapeText, type Element } from '../xmpp/xml.js';
import { parseXml } from '../quoalise/xml-parse.js';
import { QuoaliseFormatError } from '../quoalise/errors.js';
import { sha256 } from './merkle.js';

export function sha256Hex(text: string): string {
  return sha256(Buffer.from(text, 'utf8')).toString('hex');
}

/** The canonical form of an element (see above). */
export function canonicalXml(el: Element, parentNs: string | undefined = undefined): string {
  const ns = el.getNS() ?? '';
  let out = `<${el.name}`;
  if (ns !== parentNs) out += ` xmlns="${escapeAttr(ns)}"`;
  const names = Object.keys(el.attrs)
    .filter((k) => k !== 'xmlns' && !k.startsWith('xmlns:') && el.attrs[k] !== undefined && el.attrs[k] !== null)
    .sort();
  for (const k of names) out += ` ${k}="${escapeAttr(String(el.attrs[k]))}"`;
  if (el.children.length === 0) return `${out}/>`;
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escapeText(c) : canonicalXml(c as Element, ns);
  return `${out}</${el.name}>`;
}

/** The digest of a message's data: its data element, then its retention terms when it carries some. */
export function dataDigest(elements: readonly Element[]): string {
  return sha256Hex(elements.map((e) => canonicalXml(e)).join(''));
}

/**
 * The digest of data fedgate encoded itself (encodeQuoalise, encodeRetention): those encoders write the
 * canonical form (attributes sorted, namespaces declared where they change, one escaping), so the digest
 * is the hash of the string as written — no parsing (test/trace/digest.test.ts holds them to it).
 */
export function canonicalPayloadDigest(payload: string): string {
  return sha256Hex(payload);
}

/** The same digest, from an outbox row's payload (the elements as fedgate serialized them). */
export function payloadDigest(payload: string): string {
  try {
    return dataDigest(parseXml(`<payload>${payload}</payload>`).getChildElements());
  } catch (err) {
    if (err instanceof QuoaliseFormatError) return sha256Hex(payload); // not XML: nothing would verify anyway
    throw err;
  }
}
