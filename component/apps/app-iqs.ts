/**
 * IQs sent by adapters (adapter contract: `sendIq`), on the XMPP thread: the request from an app's
 * worker becomes `<iq from="app@domain" to=… id=…>` on the link, and the answer goes back to that worker.
 * An answer counts only from the entity asked (judged by its `from`, not by the id alone) and to the app
 * that asked; ids are random, so nobody can guess one. Each app has a limit of IQs in flight.
 */
import { randomBytes } from 'node:crypto';
import { xml } from '../xmpp/xml.js';
import type { Element } from '../xmpp/xml.js';
import { bareJid, parseJid } from '../xmpp/jid.js';
import { parseXml } from '../quoalise/xml-parse.js';
import type { AppHost, IqRequest } from './app-host.js';

/** IQs one app may have waiting for an answer. */
export const MAX_IQS_PER_APP = 256;

interface Pending {
  host: AppHost;
  id: number;
  to: string;
  timer: NodeJS.Timeout;
}

export class AppIqs {
  private pending = new Map<string, Pending>();
  private perApp = new Map<AppHost, number>();

  constructor(private readonly send: (el: Element) => boolean) {}

  /** An adapter's request: send it, or answer at once why it cannot leave. */
  request(host: AppHost, r: IqRequest): void {
    const fail = (message: string) => host.answerIq({ t: 'iqAnswer', id: r.id, ok: false, message });
    if ((this.perApp.get(host) ?? 0) >= MAX_IQS_PER_APP) return fail(`${host.jid} has ${MAX_IQS_PER_APP} IQs waiting for an answer already`);
    let payload: Element;
    try {
      payload = parseXml(r.payload);
    } catch (err) {
      return fail(`the IQ payload is not one XML element: ${(err as Error).message}`);
    }
    const stanzaId = `fgq-${randomBytes(12).toString('base64url')}`;
    if (!this.send(xml('iq', { from: host.jid, to: r.to, type: r.type, id: stanzaId }, payload))) return fail('the XMPP link is offline');
    const timer = setTimeout(() => {
      if (this.settle(stanzaId)) fail(`no answer from ${r.to} within ${r.timeoutMs} ms`);
    }, r.timeoutMs);
    timer.unref();
    this.pending.set(stanzaId, { host, id: r.id, to: r.to, timer });
    this.perApp.set(host, (this.perApp.get(host) ?? 0) + 1);
  }

  /** An IQ result or error addressed to an app: true when it answered one of the adapters' IQs. */
  onAnswer(el: Element): boolean {
    const p = el.attrs.id ? this.pending.get(el.attrs.id) : undefined;
    if (!p || !sameJid(el.attrs.from ?? '', p.to) || bareJid(el.attrs.to ?? '') !== p.host.jid) return false;
    this.settle(el.attrs.id!);
    p.host.answerIq({ t: 'iqAnswer', id: p.id, ok: true, xml: el.toString() });
    return true;
  }

  private settle(stanzaId: string): boolean {
    const p = this.pending.get(stanzaId);
    if (!p) return false;
    this.pending.delete(stanzaId);
    clearTimeout(p.timer);
    const n = (this.perApp.get(p.host) ?? 1) - 1;
    if (n <= 0) this.perApp.delete(p.host);
    else this.perApp.set(p.host, n);
    return true;
  }
}

/** The same entity: local part and domain compared case-insensitively (parseJid lower-cases them), the resource exactly. */
function sameJid(a: string, b: string): boolean {
  const x = parseJid(a);
  const y = parseJid(b);
  return !!x && !!y && x.local === y.local && x.domain === y.domain && x.resource === y.resource;
}
