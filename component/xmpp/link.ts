/**
 * The XEP-0114 link to the server: connect + handshake (via @xmpp/component-core), reconnect with
 * exponential backoff and jitter, keepalive, fatal errors, batched writes, and outgoing IQ tracking.
 *
 * We do not use @xmpp/component: its iq-callee answers every IQ it has no handler for, so the sender
 * would get two replies, and its reconnect is a fixed 1 s loop that also retries after not-authorized.
 */
import { EventEmitter } from 'node:events';
import { Component } from '@xmpp/component-core';
import { Backoff } from '../timing/backoff.js';
import { CleanXml, stripForbiddenXmlChars, xml, type Element } from './xml.js';
import { NS } from './namespaces.js';
import { RemoteStanzaError, readError } from './stanza-error.js';
import type { Logger } from '../log/logger.js';

export type LinkState = 'offline' | 'connecting' | 'online' | 'stopping' | 'stopped' | 'failed';

/** Stream errors that no retry can fix: the admin must change the configuration. */
const FATAL: Record<string, string> = {
  // ejabberd answers not-authorized both to a wrong secret and to a domain its listener does not serve.
  'not-authorized':
    'the server refused the handshake: check that link.domain is under hosts: of the ejabberd_service listener and that the secret (link.secret_*) is its password',
  conflict: 'the server refused the domain: another component is connected for it, or it is also listed in ejabberd hosts:',
  'host-unknown': 'the server does not know this domain: add it under hosts: of the ejabberd_service listener',
  'invalid-from': 'the server refused our from address: link.domain must match the listener hosts: entry',
  'improper-addressing': 'the server refused our addressing: link.domain must match the listener hosts: entry',
};

export class FatalLinkError extends Error {
  override name = 'FatalLinkError';
  constructor(readonly condition: string, message: string) {
    super(message);
  }
}

export interface LinkOptions {
  host: string;
  port: number;
  domain: string;
  secret: string;
  keepaliveMs: number;
  pingTimeoutMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  log: Logger;
}

interface Pending {
  resolve(el: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  to: string;
}

export interface LinkEvents {
  online: [];
  offline: [reason: string];
  stanza: [el: Element];
  fatal: [err: FatalLinkError];
  state: [state: LinkState];
  /** The socket's send buffer emptied after being full (see `congested`). */
  drain: [];
}

export class Link extends EventEmitter<LinkEvents> {
  state: LinkState = 'offline';
  /** When the current session came online (ms since epoch), or null. */
  onlineSince: number | null = null;
  private conn: Component | null = null;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private lastInput = Date.now();
  private pending = new Map<string, Pending>();
  private nextId = 0;
  private outQueue: string[] = [];
  private flushScheduled = false;
  /** True while the kernel refuses more bytes: producers should wait for 'drain'. */
  congested = false;

  constructor(private readonly opts: LinkOptions) {
    super();
    this.backoff = new Backoff({ initialMs: opts.reconnectInitialMs, maxMs: opts.reconnectMaxMs });
  }

  get domain(): string {
    return this.opts.domain;
  }

  get isOnline(): boolean {
    return this.state === 'online';
  }

  start(): void {
    if (this.state !== 'offline') return;
    void this.connect();
  }

  /**
   * Queues a stanza for the socket. Writes are batched: everything sent by the same callback (a batch
   * from the send job, the acknowledgements of one commit) leaves in one write, at the end of it.
   * Returns false when the link is not online: nothing is buffered across a disconnection, callers keep
   * their own state.
   */
  send(stanza: Element | string | CleanXml): boolean {
    if (this.state !== 'online' && this.state !== 'stopping') return false;
    if (!this.conn?.socket) return false;
    this.outQueue.push(stanza instanceof CleanXml ? stanza.xml : stripForbiddenXmlChars(typeof stanza === 'string' ? stanza : stanza.toString()));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  /** Bytes written but not yet handed to the kernel: the signal for back-pressure. */
  get bufferedBytes(): number {
    return this.conn?.socket?.writableLength ?? 0;
  }

  /** Sends an IQ and resolves with the result; rejects with a RemoteStanzaError on an error reply. */
  request(iq: Element, timeoutMs = 10_000): Promise<Element> {
    const id = iq.attrs.id ?? `fg-${(this.nextId++).toString(36)}`;
    iq.attrs.id = id;
    iq.attrs.from ??= this.opts.domain;
    const to = iq.attrs.to ?? this.opts.domain;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to iq ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, to });
      if (!this.send(iq)) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error('link offline'));
      }
    });
  }

  /** Closes the stream cleanly. The caller sends its last stanzas (unavailable presence) before. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('stopping');
    this.clearTimers();
    this.flush();
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      try {
        await conn.stop();
      } catch {
        conn.socket?.destroy();
      }
    }
    this.failPending(new Error('link stopped'));
    this.setState('stopped');
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outQueue.length === 0) return;
    const socket = this.conn?.socket;
    const chunk = this.outQueue.length === 1 ? this.outQueue[0]! : this.outQueue.join('');
    this.outQueue = [];
    if (!socket || socket.destroyed) return;
    if (!socket.write(chunk) && !this.congested) {
      this.congested = true;
      socket.once('drain', () => {
        this.congested = false;
        this.emit('drain');
      });
    }
  }

  private async connect(): Promise<void> {
    this.setState('connecting');
    const { host, port, domain, secret, log } = this.opts;
    const conn = new Component({ service: `xmpp://${host}:${port}`, domain });
    this.conn = conn;
    let fatal: FatalLinkError | null = null;

    conn.on('error', (err: Error & { condition?: string; text?: string }) => {
      const condition = err.condition;
      if (condition && condition in FATAL) {
        fatal = new FatalLinkError(condition, `${condition}: ${FATAL[condition]}${err.text ? ` (server said: ${err.text})` : ''}`);
      } else {
        log.debug({ err: err.message }, 'link error');
      }
    });
    conn.on('element', (el: Element) => this.onElement(el));
    conn.on('input', () => {
      this.lastInput = Date.now();
    });
    conn.on('disconnect', () => this.onDisconnect(conn, fatal));
    // We batch writes per event-loop turn ourselves; Nagle's algorithm would only add delayed-ACK waits.
    conn.on('connect', () => conn.socket?.setNoDelay(true));

    try {
      // component-core sends the handshake itself when the stream opens: authenticate() is its hook.
      conn.on('open', (el: Element) => {
        void conn.authenticate(el.attrs.id ?? '', secret).catch(() => {
          /* the stream error or disconnect carries the reason */
        });
      });
      await conn.start();
    } catch (err) {
      if (this.conn === conn && !conn.socket?.destroyed && this.state === 'connecting') {
        // Handshake timed out or failed without closing: drop the socket, the disconnect handler retries.
        log.debug({ err: (err as Error).message }, 'link start failed');
        conn.socket?.destroy();
      }
      if (!conn.socket) this.onDisconnect(conn, fatal);
      return;
    }
    if (this.conn !== conn) return;
    this.backoff.reset();
    this.onlineSince = Date.now();
    this.lastInput = Date.now();
    this.setState('online');
    log.info({ domain, server: `${host}:${port}` }, 'link online');
    this.scheduleKeepalive();
    this.emit('online');
  }

  private disconnectHandled = new WeakSet<Component>();

  private onDisconnect(conn: Component, fatal: FatalLinkError | null): void {
    if (this.disconnectHandled.has(conn)) return;
    this.disconnectHandled.add(conn);
    const wasOnline = this.state === 'online';
    if (this.conn === conn) this.conn = null;
    this.clearTimers();
    this.failPending(new Error('link lost'));
    this.outQueue = [];
    this.onlineSince = null;
    if (this.congested) {
      this.congested = false;
      this.emit('drain');
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (fatal) {
      this.setState('failed');
      this.emit('fatal', fatal);
      return;
    }
    const delay = this.backoff.next();
    this.setState('offline');
    if (wasOnline) this.emit('offline', 'disconnected');
    this.opts.log[wasOnline ? 'warn' : 'debug']({ retryInMs: delay }, wasOnline ? 'link lost, reconnecting' : 'link down, retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private onElement(el: Element): void {
    if (el.name === 'iq' && (el.attrs.type === 'result' || el.attrs.type === 'error')) {
      const p = el.attrs.id ? this.pending.get(el.attrs.id) : undefined;
      // Match the id AND the peer: an id alone lets any entity answer for another (xmpp.js trap).
      if (p && (el.attrs.from ?? this.opts.domain) === p.to) {
        this.pending.delete(el.attrs.id!);
        clearTimeout(p.timer);
        if (el.attrs.type === 'result') p.resolve(el);
        else {
          p.reject(new RemoteStanzaError(readError(el)));
        }
        return;
      }
    }
    if (el.name === 'iq' || el.name === 'message' || el.name === 'presence') this.emit('stanza', el);
  }

  private scheduleKeepalive(): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    const idle = Date.now() - this.lastInput;
    const wait = Math.max(0, this.opts.keepaliveMs - idle);
    this.keepaliveTimer = setTimeout(() => void this.keepalive(), wait);
  }

  /** Pings our own domain through the server: the round trip proves both directions of the link. */
  private async keepalive(): Promise<void> {
    this.keepaliveTimer = null;
    if (this.state !== 'online') return;
    if (Date.now() - this.lastInput < this.opts.keepaliveMs) return this.scheduleKeepalive();
    const conn = this.conn;
    try {
      await this.request(xml('iq', { type: 'get', to: this.opts.domain, from: this.opts.domain }, xml('ping', { xmlns: NS.ping })), this.opts.pingTimeoutMs);
    } catch (err) {
      if (err instanceof RemoteStanzaError) {
        // Any answer, even an error, shows the link is alive.
      } else if (this.conn === conn && this.state === 'online') {
        this.opts.log.warn({ err: (err as Error).message }, 'keepalive ping unanswered, reconnecting');
        conn?.socket?.destroy();
        return;
      }
    }
    if (this.state === 'online') this.scheduleKeepalive();
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.retryTimer = this.keepaliveTimer = null;
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  private setState(s: LinkState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }
}
