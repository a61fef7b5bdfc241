/**
 * A test peer: a bare XEP-0114 component (xmpp.js component-core, not our code) on its own domain,
 * used to talk to fedgate over the real server.
 */
import { Component, xml, type Element } from '@xmpp/component-core';
import { Inbox } from './inbox.js';

export { xml };
export type { Element };

export class Peer {
  readonly inbox = new Inbox();
  private nextId = 0;

  private constructor(readonly conn: Component, readonly domain: string) {
    conn.on('stanza', (el: Element) => this.inbox.push(el));
  }

  static async connect(port: number, domain: string, secret: string): Promise<Peer> {
    const conn = new Component({ service: `xmpp://127.0.0.1:${port}`, domain });
    conn.on('open', (el: Element) => void conn.authenticate(el.attrs.id ?? '', secret).catch(() => {}));
    conn.on('error', () => {});
    await conn.start();
    return new Peer(conn, domain);
  }

  id(): string {
    return `t${this.nextId++}`;
  }

  send(el: Element): void {
    void this.conn.send(el);
  }

  waitFor(match: (el: Element) => boolean, timeoutMs?: number): Promise<Element> {
    return this.inbox.waitFor(match, timeoutMs);
  }

  /**
   * Answers disco#info like a plain client (no receipts): fedgate's send job asks before pushing, and
   * holds what it would push to an entity that never answers.
   */
  answerDisco(features: string[] = []): this {
    this.conn.on('stanza', (el: Element) => {
      if (el.name !== 'iq' || el.attrs.type !== 'get' || !el.getChild('query', 'http://jabber.org/protocol/disco#info')) return;
      this.send(xml('iq', { type: 'result', id: el.attrs.id, to: el.attrs.from, from: el.attrs.to },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }, xml('identity', { category: 'client', type: 'bot' }), ...features.map((f) => xml('feature', { var: f })))));
    });
    return this;
  }

  /** Sends an IQ and waits for the answer with the same id (result or error). */
  async iq(to: string, type: 'get' | 'set', payload: Element, opts: { from?: string; timeoutMs?: number } = {}): Promise<Element> {
    const id = this.id();
    this.send(xml('iq', { to, from: opts.from ?? `tester@${this.domain}/t`, type, id }, payload));
    return this.waitFor((el) => el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'), opts.timeoutMs);
  }

  async close(): Promise<void> {
    try {
      await this.conn.stop();
    } catch {
      this.conn.socket?.destroy();
    }
  }
}
