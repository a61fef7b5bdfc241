/**
 * One answer per IQ. Every get/set that reaches fedgate goes through `answerIq`: the handler's
 * result, its StanzaError, `internal-server-error` if it throws anything else — never zero, never two.
 */
import { CleanXml, stripForbiddenXmlChars, xml, type Element } from '../xmpp/xml.js';
import { StanzaError, errorReply, quoted } from '../xmpp/stanza-error.js';
import type { Logger } from '../log/logger.js';

/**
 * Serialized XML, already escaped and free of the characters XML forbids (our encoders check every
 * string they write): lets a large answer (100,000 records encoded in an app worker) go to the socket
 * without being parsed into elements, nor scanned again, on the XMPP thread.
 */
export class RawXml {
  constructor(readonly xml: string) {}
}

/** What an IQ handler returns: the payload child of the result (or null for an empty result). */
export type IqResult = Element | RawXml | null;
export type IqHandler = (iq: Element) => IqResult | Promise<IqResult>;

/** The namespace and name of an IQ's payload, e.g. `http://jabber.org/protocol/disco#info info`. */
export function iqPayload(iq: Element): Element | undefined {
  return iq.getChildElements()[0];
}

export function resultReply(iq: Element, payload: IqResult): Element | CleanXml {
  const { from, to, id } = iq.attrs;
  const reply = xml('iq', { from: to, to: from, id, type: 'result' });
  if (payload instanceof RawXml) {
    // `<iq …/>` opened around the payload. Concatenated, not String.replace: the payload may hold `$&`.
    const head = stripForbiddenXmlChars(reply.toString());
    return new CleanXml(`${head.slice(0, -2)}>${payload.xml}</iq>`);
  }
  if (payload) reply.append(payload);
  return reply;
}

/**
 * The stanza size limit of the server (null: none): an answer over it would make the server close the
 * link (Prosody: `not-well-formed` past 512 KiB), so the requester gets a bad-request instead.
 */
function tooLarge(reply: Element | CleanXml, maxBytes: number | null): StanzaError | null {
  if (maxBytes === null) return null;
  const text = reply instanceof CleanXml ? reply.xml : reply.toString();
  if (text.length * 3 <= maxBytes) return null;
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return null;
  return new StanzaError(
    'bad-request',
    `narrow the range: the answer would be ${bytes} bytes, more than the XMPP server accepts in one stanza (${maxBytes} bytes, link.max_stanza_bytes); ask for less at a time`,
  );
}

/**
 * The bad-request `iq` gets instead of `payload` when the reply would be over `maxBytes`, or null. Asked
 * by a command before it logs what it disclosed: an answer refused here was never sent.
 */
export function oversizedAnswer(iq: Element, payload: IqResult, maxBytes: number | null): StanzaError | null {
  return maxBytes === null ? null : tooLarge(resultReply(iq, payload), maxBytes);
}

/** Answers the IQ (exactly once) and resolves with the outcome: `result`, or the error condition sent. */
export async function answerIq(
  iq: Element,
  handler: IqHandler | undefined,
  send: (el: Element | CleanXml) => void,
  log: Logger,
  maxBytes: number | null = null,
): Promise<string> {
  let reply: Element | CleanXml;
  let outcome = 'result';
  try {
    // RFC 6120 §8.2.3: a get or set holds exactly one child element.
    const children = iq.getChildElements().length;
    if (children !== 1) throw new StanzaError('bad-request', `an iq get or set holds exactly one child element, this one holds ${children}`);
    if (!handler) {
      const ns = iqPayload(iq)?.attrs.xmlns ?? 'none';
      throw new StanzaError('service-unavailable', `this entity does not support ${quoted(ns)}`);
    }
    reply = resultReply(iq, await handler(iq));
    const over = tooLarge(reply, maxBytes);
    if (over) throw over;
  } catch (err) {
    const e =
      err instanceof StanzaError
        ? err
        : new StanzaError('internal-server-error', 'the gateway failed to handle this request; the error was logged');
    if (!(err instanceof StanzaError)) log.error({ err: (err as Error).stack ?? String(err), to: iq.attrs.to }, 'iq handler failed');
    reply = errorReply(iq, e);
    outcome = e.condition;
  }
  send(reply);
  return outcome;
}

/** Handlers keyed by `type payloadNs payloadName`, e.g. `get urn:xmpp:ping ping`. */
export class IqHandlers {
  private map = new Map<string, IqHandler>();

  on(type: 'get' | 'set', ns: string, name: string, handler: IqHandler): this {
    this.map.set(`${type} ${ns} ${name}`, handler);
    return this;
  }

  /**
   * The handler of this IQ's type and payload. A payload handled with the other type (a command asked
   * with `get`, a ping with `set`) gets a handler answering not-allowed, naming the type to use, as
   * ejabberd answers: "does not support" the namespace would send the requester looking elsewhere.
   */
  find(iq: Element): IqHandler | undefined {
    const p = iqPayload(iq);
    if (!p) return undefined;
    const { type } = iq.attrs;
    const payload = `${p.attrs.xmlns ?? ''} ${p.name}`;
    const handler = this.map.get(`${type} ${payload}`);
    if (handler || (type !== 'get' && type !== 'set')) return handler;
    const other = type === 'get' ? 'set' : 'get';
    if (!this.map.has(`${other} ${payload}`)) return undefined;
    return () => {
      throw new StanzaError('not-allowed', `<${p.name}/> of ${quoted(p.attrs.xmlns ?? '')} is asked with an iq of type ${other}, not ${type}`);
    };
  }

  /** The namespaces handled, for disco#info features. */
  namespaces(): string[] {
    return [...new Set([...this.map.keys()].map((k) => k.split(' ')[1]!))];
  }
}
