/** Received stanzas, and promises for the next one that matches: the synchronisation of every test. */
import type { Element } from '@xmpp/component-core';

type Matcher = (el: Element) => boolean;

export class Inbox {
  readonly received: Element[] = [];
  private waiters: Array<{ match: Matcher; resolve(el: Element): void }> = [];

  push(el: Element): void {
    const i = this.waiters.findIndex((w) => w.match(el));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(el);
    else this.received.push(el);
  }

  /** Next stanza (already received or future) that matches; rejects after timeoutMs. */
  waitFor(match: Matcher, timeoutMs = 5000): Promise<Element> {
    const i = this.received.findIndex(match);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (el: Element) => {
          clearTimeout(timer);
          resolve(el);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no matching stanza within ${timeoutMs} ms; unclaimed: ${this.received.map(String).join('\n') || 'nothing'}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Unclaimed stanzas that match (does not consume them). */
  matching(match: Matcher): Element[] {
    return this.received.filter(match);
  }

  /** Removes and returns unclaimed stanzas that match. */
  take(match: Matcher): Element[] {
    const out = this.received.filter(match);
    for (const el of out) this.received.splice(this.received.indexOf(el), 1);
    return out;
  }
}

/** The stanza error condition of an error reply, or null. */
export function errorCondition(el: Element): string | null {
  const e = el.getChild('error');
  if (!e) return null;
  return e.getChildElements().find((c) => c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text')?.name ?? null;
}

export function errorText(el: Element): string {
  return el.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? '';
}
