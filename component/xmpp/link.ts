/**
 * The XEP-0114 link to the server: connect + handshake (via @xmpp/component-core), reconnect with
 * exponential backoff and jitter, keepalive, fatal errors, batched writes, and outgoing IQ tracking.
 *
 * We do not use @xmpp/component: its iq-callee answers every IQ it has no handler for, so the sender
 * would get two replies, and its reconnect is a fixed 1 s loop that also retries after not-authorized.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Component } from '@xmpp/component-core';
import { Backoff } from '../timing/backoff.js';
import { CleanXml, stripForbiddenXmlChars, xml, type Element } from './xml.js';
import { NS } from './namespaces.js';
import { RemoteStanzaError, StanzaError, answerable, errorElement, errorReply, readError } from './stanza-error.js';
import { boundedParser, oversizedReason, type InboundLimits } from './bounded-parser.js';
import { TokenBucket } from '../timing/token-bucket.js';
import { FATAL_CONDITIONS, defaultMaxStanzaBytes, fatalHint, serverKindFromHeader, type ServerKind } from './server-kind.js';
import { formatHostPort, type ServerAddress } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

/** A connection dropped for what the server sent is closed gracefully, then cut after this long. */
const DROP_GRACE_MS = 2000;

export type LinkState = 'offline' | 'connecting' | 'online' | 'stopping' | 'stopped' | 'failed';

/** Why the link last went down or could not come up, and where: what `fedgate status` shows. */
export interface LinkFailure {
  reason: string;
  /** `host:port` of the listener. */
  server: string;
  /** When it happened (ms since the epoch). */
  at: number;
}

/** A stream open + handshake that takes longer than this is abandoned and retried. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The same failure again is logged at warn at most this often (debug in between). */
const REPEAT_WARN_MS = 60_000;

export class FatalLinkError extends Error {
  override name = 'FatalLinkError';
  constructor(readonly condition: string, message: string, readonly server: string) {
    super(message);
  }
}

/** What one connection attempt learnt, for the reconnect decision and the logs. */
interface Attempt {
  conn: Component;
  server: string;
  fatal: FatalLinkError | null;
  /** The first thing that went wrong (socket error, stream error, timeout). */
  failure: string | null;
  online: boolean;
}

/** A socket or stream error in words an admin can act on. */
function describeError(err: Error & { code?: string; condition?: string; text?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running, and is this its component port?)';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'EPIPE':
      return 'connection closed by the server while writing';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `server unreachable (${err.code})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found (${err.code})`;
  }
  if (err.condition) return `stream error ${err.condition}${err.text ? ` (server said: ${err.text})` : ''}`;
  if (err.name === 'SyntaxError' || /xml|pars/i.test(err.message)) return `malformed XML from the server: ${err.message}`;
  return err.message;
}

export interface LinkOptions {
  /** Listeners in order of preference: a failed or lost connection moves to the next one. */
  servers: ServerAddress[];
  domain: string;
  /** `auto`: recognised from the stream header (server-kind.ts). */
  server: ServerKind | 'auto';
  /** Config `link.max_stanza_bytes`; unset: the server's own default. */
  maxStanzaBytes?: number | undefined;
  /** What one incoming stanza may cost (bounded-parser.ts): config `link.max_inbound_stanza_bytes`. */
  inbound: InboundLimits;
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
  private attempt: Attempt | null = null;
  /** The server of the current or last connection, as recognised from its stream header. */
  serverKind: ServerKind;
  /** The last failure of the link (null until the first); kept after it recovers, with its time. */
  lastFailure: LinkFailure | null = null;
  /** Successful connections (the first one included). */
  connects = 0;
  /** Connections lost and attempts that failed. */
  failures = 0;
  /** Stanzas received and sent, by kind: read by the metrics at scrape time. */
  readonly counts = { in: { iq: 0, message: 0, presence: 0 }, out: { iq: 0, message: 0, presence: 0 } };
  private serverIndex = 0;
  private failedAttempts = 0;
  private lastWarn: { reason: string; at: number } | null = null;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private lastInput = Date.now();
  private pending = new Map<string, Pending>();
  private outQueue: string[] = [];
  private flushScheduled = false;
  /** Called once the queued stanzas are handed to the kernel (whenWritten). */
  private afterFlush: Array<() => void> = [];
  /** True while the kernel refuses more bytes: producers should wait for 'drain'. */
  congested = false;

  /** The parser class of every stream (bounded-parser.ts). */
  private readonly parser: Component['Parser'];
  /** Stanzas refused for their size since the last warning, and the warnings' rate. */
  private oversized = 0;
  private readonly oversizedLog = new TokenBucket(1, Date.now());

  constructor(private readonly opts: LinkOptions) {
    super();
    this.parser = boundedParser(opts.inbound, (why) => this.dropConnection(why));
    this.backoff = new Backoff({ initialMs: opts.reconnectInitialMs, maxMs: opts.reconnectMaxMs });
    this.serverKind = opts.server === 'auto' ? 'unknown' : opts.server;
    if (opts.servers.length === 0) throw new Error('the link needs at least one server address');
  }

  get domain(): string {
    return this.opts.domain;
  }

  /** `host:port` of the listener in use (or tried next). */
  get server(): string {
    return formatHostPort(this.opts.servers[this.serverIndex]!);
  }

  /**
   * The largest stanza the server accepts, in bytes (null: no limit known): `link.max_stanza_bytes`, or
   * the default of the server recognised on this connection.
   */
  get maxStanzaBytes(): number | null {
    return this.opts.maxStanzaBytes ?? defaultMaxStanzaBytes(this.serverKind);
  }

  get isOnline(): boolean {
    return this.state === 'online';
  }

  start(): void {
    if (this.state !== 'offline') return;
    void this.connect();
  }

  /**
   * Queues a stanza for the socket. Writes are batched: everything sent in the same turn of the event
   * loop (a batch from the send job, the acknowledgements of one commit, the answers to every stanza
   * read in that turn) leaves in one write, at the end of its I/O callbacks.
   * Returns false when the link is not online: nothing is buffered across a disconnection, callers keep
   * their own state.
   */
  send(stanza: Element | string | CleanXml): boolean {
    if (this.state !== 'online' && this.state !== 'stopping') return false;
    if (!this.conn?.socket) return false;
    const text = stanza instanceof CleanXml ? stanza.xml : stripForbiddenXmlChars(typeof stanza === 'string' ? stanza : stanza.toString());
    const limit = this.maxStanzaBytes;
    // The last line of defence: the server would close the stream, and every app would go offline.
    // Answers that can be too large (get_history) are checked and refused before they get here.
    if (limit !== null && text.length * 3 > limit && Buffer.byteLength(text) > limit) {
      this.opts.log.error({ bytes: Buffer.byteLength(text), limit, stanza: text.slice(0, 200) }, 'stanza larger than the server accepts (link.max_stanza_bytes): not sent');
      return false;
    }
    this.outQueue.push(text);
    // '<iq', '<message', '<presence': the second character tells the kind.
    const c = text.charCodeAt(1);
    if (c === 105) this.counts.out.iq++;
    else if (c === 109) this.counts.out.message++;
    else if (c === 112) this.counts.out.presence++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After every I/O callback of this turn of the event loop: the answers to all the stanzas read
      // in this turn (and the worker replies that came in it) leave in one write, one system call.
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Bytes written but not yet handed to the kernel: the signal for back-pressure. */
  get bufferedBytes(): number {
    return this.conn?.socket?.writableLength ?? 0;
  }

  /** Sends an IQ and resolves with the result; rejects with a RemoteStanzaError on an error reply. */
  request(iq: Element, timeoutMs = 10_000): Promise<Element> {
    // Unguessable: an answer is matched on id and sender, and a sender can be forged by a server that does
    // not check what its components send (a forged disco#info answer once made a peer's key an attacker's).
    const id = iq.attrs.id ?? `fg-${randomBytes(12).toString('base64url')}`;
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
      const socket = conn.socket;
      try {
        await conn.stop();
      } catch {
        // destroyed below
      }
      // Always: xmpp.js's stop gives up on a server that does not answer (frozen, SIGSTOPped) without
      // an error, and leaves the socket half-closed with unsent bytes — enough to keep the process alive.
      socket?.destroy();
    }
    this.failPending(new Error('link stopped'));
    this.setState('stopped');
  }

  /**
   * Calls `cb` once everything sent so far is handed to the kernel — never if the connection is lost
   * first (what was queued is lost with it). For work that must be redone unless its stanzas left: the
   * consent notifications' cursor.
   */
  whenWritten(cb: () => void): void {
    if (this.outQueue.length) {
      this.afterFlush.push(cb);
      return;
    }
    const socket = this.conn?.socket;
    if (!socket || socket.destroyed || socket.writableEnded) return;
    // Writes are ordered: an empty one's callback comes after every earlier write's.
    socket.write('', (err) => {
      if (!err) cb();
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outQueue.length === 0) return;
    const socket = this.conn?.socket;
    const chunk = this.outQueue.length === 1 ? this.outQueue[0]! : this.outQueue.join('');
    this.outQueue = [];
    const callbacks = this.afterFlush;
    this.afterFlush = [];
    if (!socket || socket.destroyed || socket.writableEnded) return;
    const written = callbacks.length
      ? (err?: Error | null) => {
          if (!err) for (const cb of callbacks) cb();
        }
      : undefined;
    if (!socket.write(chunk, written) && !this.congested) {
      this.congested = true;
      socket.once('drain', () => {
        this.congested = false;
        this.emit('drain');
      });
    }
  }

  /**
   * One connection attempt: socket, stream open, handshake. Not `Component.start()`: when the socket is
   * reset during the stream open, xmpp.js 0.13 leaves its "online" promise rejected with nobody
   * listening — an unhandled rejection that would end the process. Whatever happens here ends in
   * 'online' or in `onDisconnect`, which retries.
   */
  private async connect(): Promise<void> {
    this.setState('connecting');
    const { domain, secret } = this.opts;
    const server = this.server;
    const conn = new Component({ service: `xmpp://${server}`, domain });
    conn.Parser = this.parser;
    this.conn = conn;
    const attempt: Attempt = { conn, server, fatal: null, failure: null, online: false };
    this.attempt = attempt;

    conn.on('error', (err: Error & { code?: string; condition?: string; text?: string }) => {
      const condition = err.condition;
      if (condition && FATAL_CONDITIONS.has(condition) && !attempt.online) {
        const hint = fatalHint(this.serverKind, condition, domain);
        attempt.fatal = new FatalLinkError(condition, `${condition}: ${hint}${err.text ? ` (server said: ${err.text})` : ''}`, server);
      }
      attempt.failure ??= describeError(err);
    });
    conn.on('element', (el: Element) => this.onElement(el));
    conn.on('input', () => {
      this.lastInput = Date.now();
    });
    conn.on('disconnect', () => this.onDisconnect(attempt));
    conn.on('connect', () => {
      // We batch writes per event-loop turn ourselves; Nagle's algorithm would only add delayed-ACK waits.
      conn.socket?.setNoDelay(true);
      conn.open({ domain }).catch(() => {
        /* the error or disconnect carries the reason */
      });
    });
    conn.on('open', (header: Element) => {
      if (this.opts.server === 'auto') this.serverKind = serverKindFromHeader(header);
      // component-core's handshake: SHA-1 of the stream id and the secret.
      conn.authenticate(header.attrs.id ?? '', secret).catch(() => {
        /* the stream error or disconnect carries the reason */
      });
    });

    const online = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        attempt.failure ??= `no stream open and handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`;
        conn.socket?.destroy();
        resolve(false);
      }, HANDSHAKE_TIMEOUT_MS);
      conn.once('online', () => {
        clearTimeout(timer);
        resolve(true);
      });
      conn.once('disconnect', () => {
        clearTimeout(timer);
        resolve(false);
      });
      conn.connect(`xmpp://${server}`).catch(() => {
        /* the socket error and disconnect carry the reason */
      });
    });
    if (!online || this.conn !== conn) return;
    attempt.online = true;
    this.connects++;
    this.backoff.reset();
    this.onlineSince = Date.now();
    this.lastInput = Date.now();
    this.setState('online');
    const after = this.failedAttempts;
    this.failedAttempts = 0;
    this.lastWarn = null;
    this.opts.log.info({ domain, server, serverKind: this.serverKind, ...(after ? { failedAttempts: after } : {}) }, 'link online');
    this.scheduleKeepalive();
    this.emit('online');
  }

  private disconnectHandled = new WeakSet<Component>();

  private onDisconnect(attempt: Attempt): void {
    const { conn } = attempt;
    if (this.disconnectHandled.has(conn)) return;
    this.disconnectHandled.add(conn);
    const wasOnline = this.state === 'online' && this.conn === conn;
    if (this.conn === conn) this.conn = null;
    this.clearTimers();
    this.failPending(new Error('link lost'));
    this.outQueue = [];
    this.afterFlush = [];
    this.onlineSince = null;
    if (this.congested) {
      this.congested = false;
      this.emit('drain');
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.failures++;
    const reason = attempt.failure ?? (wasOnline ? 'connection closed by the server' : 'connection closed by the server during the handshake');
    this.lastFailure = { reason, server: attempt.server, at: Date.now() };
    if (attempt.fatal) {
      this.setState('failed');
      this.emit('fatal', attempt.fatal);
      return;
    }
    // The next attempt goes to the next listener: the one that failed is the least likely to answer.
    this.serverIndex = (this.serverIndex + 1) % this.opts.servers.length;
    const delay = this.backoff.next();
    this.setState('offline');
    const log = this.opts.log;
    if (wasOnline) {
      this.emit('offline', reason);
      log.warn({ server: attempt.server, reason, next: this.server, retryInMs: delay }, 'link lost, reconnecting');
      this.lastWarn = { reason, at: Date.now() };
    } else {
      this.failedAttempts++;
      // Every new reason at warn; the same one again only once a minute, so a long outage stays readable.
      const repeat = this.lastWarn?.reason === reason && Date.now() - this.lastWarn.at < REPEAT_WARN_MS;
      const fields = { server: attempt.server, reason, failedAttempts: this.failedAttempts, next: this.server, retryInMs: delay };
      if (repeat) log.debug(fields, 'link down, retrying');
      else {
        log.warn(fields, 'link down, retrying');
        this.lastWarn = { reason, at: Date.now() };
      }
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private onElement(el: Element): void {
    if (el.name === 'iq' || el.name === 'message' || el.name === 'presence') this.counts.in[el.name]++;
    const tooLarge = oversizedReason(el);
    if (tooLarge !== undefined) return this.refuseOversized(el, tooLarge);
    const p = this.takePending(el);
    if (p) {
      if (el.attrs.type === 'result') p.resolve(el);
      else p.reject(new RemoteStanzaError(readError(el)));
      return;
    }
    if (el.name === 'iq' || el.name === 'message' || el.name === 'presence') this.emit('stanza', el);
  }

  /** The request of ours `el` answers, taken off the pending ones; undefined if it answers none. */
  private takePending(el: Element): Pending | undefined {
    if (el.name !== 'iq' || (el.attrs.type !== 'result' && el.attrs.type !== 'error') || !el.attrs.id) return undefined;
    const p = this.pending.get(el.attrs.id);
    // Match the id AND the peer: an id alone lets any entity answer for another (xmpp.js trap).
    if (!p || (el.attrs.from ?? this.opts.domain) !== p.to) return undefined;
    this.pending.delete(el.attrs.id);
    clearTimeout(p.timer);
    return p;
  }

  /**
   * A stanza the parser cut short (bounded-parser.ts) is not handled: an answer to one of our requests
   * (the link's, or an app's) fails it, a request or a message gets `policy-violation`, the rest is
   * dropped; warned once a second at most, with the count.
   */
  private refuseOversized(el: Element, why: string): void {
    const { type, id, from, to } = el.attrs;
    const text = `the stanza is ${why}: not handled`;
    const p = this.takePending(el);
    // Not answered: for whoever asked, as for a timeout, no answer came (not an error the peer sent).
    if (p) p.reject(new Error(`the answer of ${p.to} is ${why}`));
    else if (el.name === 'iq' && (type === 'result' || type === 'error')) {
      // An answer to an app's request (component/apps/app-iqs.ts): handed on as the error it amounts to,
      // so that the request fails now, saying why, rather than at its time limit.
      this.emit('stanza', xml('iq', { from, to, id, type: 'error' }, errorElement(new StanzaError('policy-violation', `the answer is ${why}: not taken in`))));
    } else if (answerable(el)) this.send(errorReply(el, new StanzaError('policy-violation', text)));
    this.oversized++;
    if (this.oversizedLog.take(Date.now())) {
      this.opts.log.warn({ from, to: el.attrs.to, stanza: el.name, count: this.oversized }, `refused stanzas: ${text}`);
      this.oversized = 0;
    }
  }

  /** A token too long to hold (bounded-parser.ts): the connection is dropped, and the link reconnects. */
  private dropConnection(why: string): void {
    const conn = this.conn;
    if (this.attempt?.conn === conn) this.attempt.failure ??= `the server sent ${why}`;
    this.opts.log.warn({ server: this.server }, `the server sent ${why}: dropping the connection`);
    const socket = conn?.socket;
    if (!socket || socket.destroyed) return;
    // Nothing more is read from it, but what was written or queued before (answers already computed,
    // acknowledgements) still leaves: closed, not cut; cut if the server does not close in time.
    socket.pause();
    this.flush();
    socket.end();
    setTimeout(() => socket.destroy(), DROP_GRACE_MS).unref();
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
        this.opts.log.warn({ server: this.server, err: (err as Error).message }, 'keepalive ping unanswered, reconnecting');
        if (this.attempt?.conn === conn) this.attempt.failure ??= `keepalive ping unanswered within ${this.opts.pingTimeoutMs / 1000} s`;
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
