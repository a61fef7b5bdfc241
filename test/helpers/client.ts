/** A real XMPP user (xmpp.js @xmpp/client over c2s) for tests that need a server-side account: presence, rosters. */
import { Inbox } from './inbox.js';
import type { Element } from '@xmpp/component-core';

interface XmppClient {
  on(event: string, fn: (arg: never) => void): void;
  start(): Promise<{ toString(): string }>;
  stop(): Promise<void>;
  send(el: unknown): Promise<void>;
  reconnect: { stop(): void };
}

export class User {
  readonly inbox = new Inbox();
  private nextId = 0;
  private constructor(private readonly client: XmppClient, readonly jid: string, readonly xml: (...a: unknown[]) => Element) {
    client.on('stanza', (el: Element) => this.inbox.push(el));
  }

  static async connect(port: number, username: string, password: string, domain = 'localhost'): Promise<User> {
    const { client, xml } = (await import('@xmpp/client')) as unknown as {
      client(o: object): XmppClient;
      xml: (...a: unknown[]) => Element;
    };
    const c = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'test' });
    c.on('error', () => {});
    c.reconnect.stop();
    const jid = await c.start();
    return new User(c, jid.toString(), xml);
  }

  send(el: Element): void {
    void this.client.send(el);
  }

  waitFor(match: (el: Element) => boolean, timeoutMs?: number): Promise<Element> {
    return this.inbox.waitFor(match, timeoutMs);
  }

  async iq(to: string, type: 'get' | 'set', payload: Element, timeoutMs?: number): Promise<Element> {
    const id = `u${this.nextId++}`;
    this.send(this.xml('iq', { to, type, id }, payload));
    return this.waitFor((el) => el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'), timeoutMs);
  }

  /** An ad-hoc command (XEP-0050) IQ set; `fields` puts a submitted form in the command element. */
  command(to: string, node: string, r: { action?: string; sessionid?: string; fields?: Record<string, string> } = {}): Promise<Element> {
    const x = r.fields
      ? this.xml(
          'x',
          { xmlns: 'jabber:x:data', type: 'submit' },
          ...Object.entries(r.fields).map(([k, v]) => this.xml('field', { var: k, type: 'text-single' }, this.xml('value', {}, v))),
        )
      : null;
    return this.iq(to, 'set', this.xml('command', { xmlns: 'http://jabber.org/protocol/commands', node, action: r.action ?? 'execute', sessionid: r.sessionid }, x));
  }

  async close(): Promise<void> {
    try {
      await this.client.stop();
    } catch {
      /* already gone */
    }
  }
}
