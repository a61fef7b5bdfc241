/**
 * Presence for the app JIDs (RFC 6121): fedgate plays the server's role for its virtual users.
 * Subscriptions are accepted and remembered; probes are answered; subscribers hear "available" when
 * the link comes up or an app is added, and "unavailable" when fedgate stops or the app is removed.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { bareJid } from '../xmpp/jid.js';
import type { Db } from '../store/database.js';

export interface PresenceOptions {
  db: Db;
  send(el: Element): boolean;
  domain: string;
}

export class PresenceService {
  /** app name → bare JIDs subscribed to it; kept in memory so a removed app can still say goodbye. */
  private subscribers = new Map<string, Set<string>>();

  constructor(private readonly opts: PresenceOptions) {
    const rows = opts.db.prepare('SELECT app, jid FROM presence_subscribers').all() as Array<{ app: string; jid: string }>;
    for (const r of rows) this.set(r.app).add(r.jid);
  }

  /** A presence stanza addressed to an existing app (`app`) or to the domain itself (null). */
  handle(app: string | null, el: Element): void {
    const from = el.attrs.from;
    if (!from) return;
    const self = app ? `${app}@${this.opts.domain}` : this.opts.domain;
    const peer = bareJid(from);
    switch (el.attrs.type) {
      case 'subscribe':
        if (app) this.remember(app, peer);
        this.opts.send(xml('presence', { from: self, to: peer, type: 'subscribed' }));
        this.opts.send(this.available(self, peer));
        break;
      case 'unsubscribe':
        if (app) this.forget(app, peer);
        this.opts.send(xml('presence', { from: self, to: peer, type: 'unsubscribed' }));
        break;
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
  }

  private available(from: string, to: string): Element {
    return xml('presence', { from, to }, xml('status', {}, 'fedgate application online'));
  }

  private remember(app: string, peer: string): void {
    this.opts.db.prepare('INSERT OR IGNORE INTO presence_subscribers (app, jid, since) VALUES (?, ?, ?)').run(app, peer, Date.now());
    this.set(app).add(peer);
  }

  private forget(app: string, peer: string): void {
    this.opts.db.prepare('DELETE FROM presence_subscribers WHERE app = ? AND jid = ?').run(app, peer);
    this.subscribers.get(app)?.delete(peer);
  }

  private set(app: string): Set<string> {
    let s = this.subscribers.get(app);
    if (!s) this.subscribers.set(app, (s = new Set()));
    return s;
  }
}
