/**
 * A closed-loop load generator over a real XEP-0114 connection: keeps `window` requests in flight,
 * records each round-trip latency, and reports throughput and percentiles.
 */
import { Component, xml, type Element } from '@xmpp/component-core';
import { percentile } from './stats.js';

export interface LoadResult {
  count: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** Every round trip, ms, ascending. */
  latencies: number[];
}

export class LoadClient {
  private calls = 0;
  private constructor(readonly conn: Component, readonly domain: string) {}

  static async connect(port: number, domain: string, secret: string): Promise<LoadClient> {
    const conn = new Component({ service: `xmpp://127.0.0.1:${port}`, domain });
    conn.on('open', (el: Element) => void conn.authenticate(el.attrs.id ?? '', secret).catch(() => {}));
    conn.on('error', () => {});
    await conn.start();
    conn.socket?.setNoDelay(true);
    conn.setMaxListeners(0); // one listener per concurrent batch of round trips
    return new LoadClient(conn, domain);
  }

  /**
   * Sends `count` chat messages to `to`, `window` at a time; a reply is any message whose id starts
   * with the request id. Messages are written raw in batches, as a busy peer would.
   */
  async chatRoundTrips(to: string, count: number, window: number, body = 'x'.repeat(64)): Promise<LoadResult> {
    const socket = this.conn.socket!;
    const prefix = `b${this.calls++}x`;
    const sentAt = new Map<string, bigint>();
    const latencies: number[] = [];
    let sent = 0;
    let received = 0;
    const from = `load@${this.domain}/bench`;
    const t0 = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received}/${count} replies after 120 s`)), 120_000);
      const sendSome = (n: number) => {
        let chunk = '';
        for (let i = 0; i < n && sent < count; i++, sent++) {
          const id = `${prefix}${sent}`;
          sentAt.set(id, process.hrtime.bigint());
          chunk += `<message to="${to}" from="${from}" type="chat" id="${id}"><body>${body}</body></message>`;
        }
        if (chunk) socket.write(chunk);
      };
      const onStanza = (el: Element) => {
        if (el.name !== 'message') return;
        const id = (el.attrs.id ?? '').replace(/-r$/, '');
        const t = sentAt.get(id);
        if (t === undefined) return;
        sentAt.delete(id);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        received++;
        if (el.attrs.type === 'error') {
          clearTimeout(timer);
          this.conn.off('stanza', onStanza);
          reject(new Error(`error reply: ${el.toString()}`));
          return;
        }
        if (received === count) {
          clearTimeout(timer);
          this.conn.off('stanza', onStanza);
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          latencies.sort((a, b) => a - b);
          resolve({ count, seconds, perSecond: count / seconds, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99), latencies });
        } else if (sent < count) {
          pending++;
          if (!flushQueued) {
            flushQueued = true;
            setImmediate(() => {
              flushQueued = false;
              const n = pending;
              pending = 0;
              sendSome(n);
            });
          }
        }
      };
      let pending = 0;
      let flushQueued = false;
      this.conn.on('stanza', onStanza);
      sendSome(window);
    });
  }

  async close(): Promise<void> {
    await this.conn.stop().catch(() => this.conn.socket?.destroy());
  }
}

export { xml };
