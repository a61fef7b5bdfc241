/**
 * Stanza errors (RFC 6120 §8.3): the conditions fedgate uses, their default type, and the builder of
 * error replies. Every error we send carries a human `text`.
 */
import { xml, Element } from './xml.js';
import { NS } from './namespaces.js';

export type ErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** RFC 6120 §8.3.3 conditions with the type the RFC suggests for each. */
export const CONDITIONS = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'cancel', // Quoalise uses cancel here (quoalise.md); RFC suggests auth.
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
} as const satisfies Record<string, ErrorType>;

export type Condition = keyof typeof CONDITIONS;

/**
 * An error's text, at most (characters). Texts quote what the sender wrote, who may write megabytes: an
 * answer echoing 600 KB was over Prosody's stanza limit and never left, and a refused command's text
 * is kept in the transparency log for ever (sixth hostile campaign).
 */
export const MAX_ERROR_TEXT = 1000;

/** What a text quotes of one string the sender wrote (a node, a namespace, a sessionid), at most. */
const MAX_QUOTED = 100;

/** `s` in quotes for an error's text, cut to MAX_QUOTED characters. */
export function quoted(s: string): string {
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}

/** An error a handler throws to answer with a precise stanza error. */
export class StanzaError extends Error {
  readonly condition: Condition;
  readonly type: ErrorType;
  readonly extra: Element | undefined;
  constructor(condition: Condition, text: string, opts: { type?: ErrorType; extra?: Element } = {}) {
    super(text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 1)}…` : text);
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = opts.type ?? CONDITIONS[condition];
    this.extra = opts.extra;
  }
}

export function errorElement(err: StanzaError): Element {
  const el = xml('error', { type: err.type }, xml(err.condition, { xmlns: NS.stanzas }));
  if (err.message) el.append(xml('text', { xmlns: NS.stanzas, 'xml:lang': 'en' }, err.message));
  if (err.extra) el.append(err.extra);
  return el;
}

/** Gets/sets and messages other than errors get an error answer; results, errors and presences never do. */
export function answerable(el: Element): boolean {
  return (el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set')) || (el.name === 'message' && el.attrs.type !== 'error');
}

/** The error reply to a stanza: swap from/to, same id, type="error" (RFC 6120 §8.2). */
export function errorReply(stanza: Element, err: StanzaError): Element {
  const { from, to, id } = stanza.attrs;
  return xml(stanza.name, { from: to, to: from, id, type: 'error' }, errorElement(err));
}

/** Reads condition, type and text out of an incoming `type="error"` stanza. */
export function readError(stanza: Element): { condition: string; type: string; text: string } {
  const error = stanza.getChild('error');
  if (!error) return { condition: 'undefined-condition', type: 'cancel', text: '' };
  const cond = error.getChildElements().find((c) => c.attrs.xmlns === NS.stanzas && c.name !== 'text');
  return {
    condition: cond?.name ?? 'undefined-condition',
    type: error.attrs.type ?? 'cancel',
    text: error.getChildText('text', NS.stanzas) ?? '',
  };
}

/** An error answer received from a peer. */
export class RemoteStanzaError extends Error {
  override name = 'RemoteStanzaError';
  readonly condition: string;
  readonly type: string;
  constructor(e: { condition: string; type: string; text: string }) {
    super(e.text ? `${e.condition}: ${e.text}` : e.condition);
    this.condition = e.condition;
    this.type = e.type;
  }
}
