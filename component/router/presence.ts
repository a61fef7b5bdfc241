/**
 * Presence for the app JIDs (RFC 6121): fedgate plays the server's role for its virtual users.
 * Subscriptions are accepted and remembered; probes are answered; subscribers hear "available" when
 * the link comes up or an app is added, and "unavailable" when fedgate stops or the app is removed.
 *
 * Anyone may subscribe, so each app keeps at most `maxPerDomain` subscribers per remote domain (more
 * are refused with policy-violation), and remembering one is written to SQLite off the stanza's
 * path, batched, without ever waiting for another thread's write lock.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { bareJid, domainOf } from '../xmpp/jid.js';
import { StanzaError, errorReply } from '../xmpp/stanza-error.js';
import { cachedStatement, withoutBusyWait, type Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';

export interface PresenceOptions {
  db: Db;
  send(el: Element): boolean;
  domain: string;
  /** Config `presence.max_subscribers_per_domain`. */
  maxPerDomain: number;
  log?: Logger;
}

/** A subscription stored or removed, and what the peer is told once it is. */
interface PresenceWrite {
  add: boolean;
  app: string;
  jid: string;
  at: number;
  replies: Element[];
  request: Element;
}

export class PresenceService {
  /** app name → bare JIDs subscribed to it; kept in memory so a removed app can still say goodbye. */
  private subscribers = new Map<string, Set<string>>();

  constructor(private readonly opts: PresenceOptions) {
    const rows = opts.db.prepare('SELECT app, jid FROM presence_subscribers').all() as Array<{ app: string; jid: string }>;
    for (const r of rows) {
      this.set(r.app).add(r.jid);
      this.count(r.app, r.jid, 1);
    }
  }

  /** A presence stanza addressed to an existing app (`app`) or to the domain itself (null). */
  handle(app: string | null, el: Element): void {
    const from = el.attrs.from;
    if (!from) return;
    const self = app ? `${app}@${this.opts.domain}` : this.opts.domain;
    const peer = bareJid(from);
    switch (el.attrs.type) {
      case 'subscribe':
        if (app && !this.subscribers.get(app)?.has(peer)) {
          const held = this.perDomain(app, domainOf(peer));
          if (held >= this.opts.maxPerDomain) {
            const text = `${self} already has ${held} presence subscribers from ${domainOf(peer)}, the most it accepts from one domain`;
            this.opts.send(errorReply(el, new StanzaError('policy-violation', text)));
            return;
          }
          // Answered once the subscription is stored: a peer told `subscribed` stays subscribed through a crash.
          this.remember(app, peer, [xml('presence', { from: self, to: peer, type: 'subscribed' }), this.available(self, peer)], el);
          break;
        }
        this.afterPending(app, peer, [xml('presence', { from: self, to: peer, type: 'subscribed' }), this.available(self, peer)]);
        break;
      case 'unsubscribe': {
        const reply = xml('presence', { from: self, to: peer, type: 'unsubscribed' });
        // Not a subscriber: nothing to write (a stranger's unsubscribes must not queue writes).
        if (app && this.subscribers.get(app)?.has(peer)) this.forget(app, peer, [reply], el);
        else this.afterPending(app, peer, [reply]);
        break;
      }
      case 'probe':
        this.opts.send(this.available(self, from));
        break;
      default:
        // available/unavailable/subscribed/unsubscribed/error addressed to us: nothing to do.
        break;
    }
  }

  /** Tells every subscriber of these apps that they are available (after (re)connect or add). */
  announce(apps: string[]): void {
    for (const app of apps) {
      for (const peer of this.subscribers.get(app) ?? []) this.opts.send(this.available(`${app}@${this.opts.domain}`, peer));
    }
  }

  /** Tells every subscriber of these apps that they are gone (stop, or app removed). */
  goodbye(apps: string[]): void {
    for (const app of apps) {
      for (const peer of this.subscribers.get(app) ?? []) {
        this.opts.send(xml('presence', { from: `${app}@${this.opts.domain}`, to: peer, type: 'unavailable' }));
      }
    }
  }

  /** Drops the memory of a removed app's subscribers (the rows went with the app, ON DELETE CASCADE). */
  drop(app: string): void {
    this.subscribers.delete(app);
    for (const key of this.counts.keys()) if (key.startsWith(`${app} `)) this.counts.delete(key);
  }

  private available(from: string, to: string): Element {
    return xml('presence', { from, to }, xml('status', {}, 'fedgate application online'));
  }

  /** Subscribers of `app` from `domain`. */
  private perDomain(app: string, domain: string): number {
    return this.counts.get(`${app} ${domain}`) ?? 0;
  }

  /**
   * Keeps `counts` exact as subscribers come and go. They were forgotten at each unsubscribe and counted
   * again over all the app's subscribers at the next subscribe: one stranger alternating the two held the
   * XMPP thread 6.8 s with 2,000 pairs against an app of 20,000 subscribers (sixth hostile campaign).
   */
  private count(app: string, jid: string, delta: 1 | -1): void {
    const key = `${app} ${domainOf(jid)}`;
    const n = (this.counts.get(key) ?? 0) + delta;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }

  /** `app domain` → that domain's subscribers of the app (absent: none). */
  private counts = new Map<string, number>();
  private writes: PresenceWrite[] = [];
  private flushScheduled = false;

  private remember(app: string, peer: string, replies: Element[], request: Element): void {
    this.set(app).add(peer);
    this.count(app, peer, 1);
    this.write({ add: true, app, jid: peer, at: Date.now(), replies, request });
  }

  private forget(app: string, peer: string, replies: Element[], request: Element): void {
    if (this.subscribers.get(app)?.delete(peer)) this.count(app, peer, -1);
    this.write({ add: false, app, jid: peer, at: Date.now(), replies, request });
  }

  /**
   * Sends `replies` now, unless a write for (app, peer) is still pending: asked twice before the first
   * commit, a peer must not be told of a change that is not stored yet, and the pending write's own
   * replies (sent at its commit) answer both — a peer repeating itself while the database is busy adds
   * nothing to the queue.
   */
  private afterPending(app: string | null, peer: string, replies: Element[]): void {
    const pending = app !== null && this.writes.some((w) => w.app === app && w.jid === peer);
    if (!pending) for (const r of replies) this.opts.send(r);
  }

  /** Queues a change for the next turn of the event loop: one transaction for all, never a wait for the lock. */
  private write(change: PresenceWrite): void {
    this.writes.push(change);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.writes.length === 0) return;
    const { db } = this.opts;
    const writes = this.writes;
    try {
      const add = cachedStatement(db, 'INSERT OR IGNORE INTO presence_subscribers (app, jid, since) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM apps WHERE name = ?)');
      const remove = cachedStatement(db, 'DELETE FROM presence_subscribers WHERE app = ? AND jid = ?');
      withoutBusyWait(db, () =>
        db.transaction(() => {
          for (const w of writes) (w.add ? add.run(w.app, w.jid, w.at, w.app) : remove.run(w.app, w.jid));
        }).immediate(),
      );
      this.writes = [];
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
        this.opts.log?.error({ err: (err as Error).message }, 'could not record presence subscriptions');
        this.writes = [];
        for (const w of writes) {
          // Not stored: memory goes back to what the database holds, and the peer is told rather than left believing it.
          if (w.add && this.subscribers.get(w.app)?.delete(w.jid)) this.count(w.app, w.jid, -1);
          else if (!w.add && !this.set(w.app).has(w.jid)) {
            this.set(w.app).add(w.jid);
            this.count(w.app, w.jid, 1);
          }
          this.opts.send(errorReply(w.request, new StanzaError('internal-server-error', 'the gateway could not record this subscription; retry later', { type: 'wait' })));
        }
        return;
      }
      this.flushScheduled = true;
      setImmediate(() => this.flush());
      return;
    }
    for (const w of writes) for (const r of w.replies) this.opts.send(r);
  }

  private set(app: string): Set<string> {
    let s = this.subscribers.get(app);
    if (!s) this.subscribers.set(app, (s = new Set()));
    return s;
  }
}
