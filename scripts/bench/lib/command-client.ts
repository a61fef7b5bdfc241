/**
 * A Quoalise client over a real XEP-0114 connection (a second component: no c2s shaper in the way):
 * runs commands with the form in the first execute and measures the time to the last byte of the answer.
 */
import { Component, xml, type Element } from '@xmpp/component-core';

export interface CommandAnswer {
  answer: Element;
  /** From writing the request to receiving the answer's last byte (before parsing it), ms. */
  ms: number;
  /** Bytes received meanwhile (the answer's size, on a quiet connection). */
  bytes: number;
}

export class CommandClient {
  private nextId = 0;

  private constructor(private readonly conn: Component, readonly jid: string) {}

  static async connect(port: number, domain: string, secret: string): Promise<CommandClient> {
    const conn = new Component({ service: `xmpp://127.0.0.1:${port}`, domain });
    conn.on('open', (el: Element) => void conn.authenticate(el.attrs.id ?? '', secret).catch(() => {}));
    conn.on('error', () => {});
    await conn.start();
    return new CommandClient(conn, `bench@${domain}/quoalise`);
  }

  /** disco#info features of `to`. */
  async features(to: string): Promise<string[]> {
    const { answer } = await this.request(to, 'get', '<query xmlns="http://jabber.org/protocol/disco#info"/>');
    return answer.getChild('query')?.getChildren('feature').map((f) => f.attrs.var ?? '') ?? [];
  }

  /** A Quoalise command with its filled form in the first execute (as the federation's clients send it). */
  execute(to: string, node: string, fields: Record<string, string>, timeoutMs?: number): Promise<CommandAnswer> {
    const form = xml(
      'x',
      { xmlns: 'jabber:x:data', type: 'submit' },
      ...Object.entries(fields).map(([k, v]) => xml('field', { var: k, type: 'text-single' }, xml('value', {}, v))),
    );
    return this.request(to, 'set', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node, action: 'execute' }, form).toString(), timeoutMs);
  }

  /**
   * Calls `handler` with every message addressed to this client (pushed data of a subscription, whose
   * subscriber is the bare JID `bench@<domain>`); returns the function that stops listening.
   */
  onMessage(handler: (el: Element) => void): () => void {
    const listener = (el: Element) => {
      if (el.name === 'message') handler(el);
    };
    this.conn.on('stanza', listener);
    return () => this.conn.off('stanza', listener);
  }

  /**
   * Behaves as a client that confirms what it receives (XEP-0184): advertises `urn:xmpp:receipts` in
   * disco#info and answers every message carrying a receipt request. Without it, fedgate's send job
   * counts a message as delivered only when no bounce came within its bounce window, and keeps at
   * most `delivery.window` messages that long in flight to this client.
   */
  confirmReceipts(): void {
    this.conn.on('stanza', (el: Element) => {
      const { from, to, id } = el.attrs;
      if (el.name === 'iq' && el.attrs.type === 'get' && el.getChild('query', 'http://jabber.org/protocol/disco#info')) {
        void this.conn.send(xml('iq', { type: 'result', from: to, to: from, id }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }, xml('feature', { var: 'urn:xmpp:receipts' }))));
      } else if (el.name === 'message' && id && el.getChild('request', 'urn:xmpp:receipts')) {
        void this.conn.send(xml('message', { from: to, to: from }, xml('received', { xmlns: 'urn:xmpp:receipts', id })));
      }
    });
  }

  /**
   * Sends `payload` in a message to this component's own domain and waits for it to come back: the
   * XMPP hop alone (ejabberd parsing, routing and writing the same bytes), a baseline for answers.
   */
  bounce(payload: string, timeoutMs?: number): Promise<CommandAnswer> {
    const id = `b${this.nextId++}`;
    const domain = this.jid.slice(this.jid.indexOf('@') + 1, this.jid.indexOf('/'));
    return this.exchange(id, `<message to="echo@${domain}" from="${this.jid}" id="${id}">${payload}</message>`, (el) => el.name === 'message', timeoutMs);
  }

  /**
   * Sends every payload in its own message to this component's own domain at once and waits for all
   * of them to come back: the XMPP hop alone at full speed. Resolves with the elapsed ms.
   */
  relayMany(payloads: string[], timeoutMs = 120_000): Promise<number> {
    const domain = this.jid.slice(this.jid.indexOf('@') + 1, this.jid.indexOf('/'));
    const prefix = `m${this.nextId++}-`;
    let left = payloads.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${left} messages still out after ${timeoutMs} ms`)), timeoutMs);
      const onStanza = (el: Element) => {
        if (!el.attrs.id?.startsWith(prefix)) return;
        if (--left === 0) {
          clearTimeout(timer);
          this.conn.off('stanza', onStanza);
          resolve(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      };
      this.conn.on('stanza', onStanza);
      const t0 = process.hrtime.bigint();
      this.conn.socket!.write(payloads.map((p, i) => `<message to="echo@${domain}" from="${this.jid}" id="${prefix}${i}">${p}</message>`).join(''));
    });
  }

  private request(to: string, type: 'get' | 'set', payload: string, timeoutMs?: number): Promise<CommandAnswer> {
    const id = `q${this.nextId++}`;
    return this.exchange(id, `<iq to="${to}" from="${this.jid}" type="${type}" id="${id}">${payload}</iq>`, (el) => el.name === 'iq' && el.attrs.type === 'result', timeoutMs);
  }

  private exchange(id: string, stanza: string, ok: (el: Element) => boolean, timeoutMs = 120_000): Promise<CommandAnswer> {
    const socket = this.conn.socket!;
    let lastByteAt = 0n;
    let bytes = 0;
    // Prepended so that it runs before the parser, which emits the answer while handling its last chunk.
    const onData = (chunk: Buffer) => {
      lastByteAt = process.hrtime.bigint();
      bytes += chunk.length;
    };
    socket.prependListener('data', onData);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        socket.off('data', onData);
        this.conn.off('stanza', onStanza);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no answer to ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onStanza = (el: Element) => {
        if (el.attrs.id !== id) return;
        done();
        if (!ok(el)) reject(new Error(`error answer: ${el.toString().slice(0, 500)}`));
        else resolve({ answer: el, ms: Number(lastByteAt - t0) / 1e6, bytes });
      };
      this.conn.on('stanza', onStanza);
      const t0 = process.hrtime.bigint();
      socket.write(stanza);
    });
  }

  async close(): Promise<void> {
    await this.conn.stop().catch(() => this.conn.socket?.destroy());
  }
}
