/**
 * XEP-0050 sessions of the two-step flow, in memory: a session exists between the form we send and the
 * form the requester submits, belongs to one requester (full JID), app and command, and expires.
 * Memory stays bounded: at most `perRequester` sessions per requester (bare JID) — a new one closes
 * that requester's oldest, never someone else's — and at most `perDomain` per requester domain: past
 * that a new session of the domain is refused (resource-constraint), so that one domain's many JIDs
 * cannot close the sessions of the domain's other users. And `max` in all: when that is reached (ten
 * domains at their limit), the domain holding the most sessions gives up its oldest — refusing instead
 * would let a few domains lock everyone else out of every two-step command for as long as they like.
 */
import { randomBytes } from 'node:crypto';
import { bareJid, domainOf } from '../../xmpp/jid.js';
import { StanzaError } from '../../xmpp/stanza-error.js';

export interface SessionOwner {
  app: string;
  node: string;
  /** The requester's full JID: another resource of the same account cannot continue the session. */
  requester: string;
}

interface Session {
  owner: SessionOwner;
  expiresAt: number;
}

const sameOwner = (a: SessionOwner, b: SessionOwner) => a.app === b.app && a.node === b.node && a.requester === b.requester;

export class CommandSessions {
  // Insertion order is expiry order (one timeout for all), so expired sessions are always at the front.
  private sessions = new Map<string, Session>();
  /** Bare JID → its open session ids, oldest first. */
  private byRequester = new Map<string, string[]>();
  /** Requester domain → its open session ids, oldest first. */
  private byDomain = new Map<string, string[]>();
  private readonly max: number;
  private readonly perRequester: number;
  private readonly perDomain: number;

  constructor(private readonly timeoutMs: number, limits: { max?: number; perRequester?: number; perDomain?: number } = {}) {
    this.max = limits.max ?? 10_000;
    this.perRequester = limits.perRequester ?? 20;
    this.perDomain = limits.perDomain ?? 1000;
  }

  /** A fresh session id, also used for one-shot answers (quoalise.md's answers carry a sessionid). */
  newId(): string {
    return randomBytes(12).toString('base64url');
  }

  start(owner: SessionOwner, now: number): string {
    this.sweep(now);
    const who = bareJid(owner.requester);
    const domain = domainOf(who);
    const own = this.byRequester.get(who) ?? [];
    // The requester's oldest that this one replaces: checked against the limits before anything closes,
    // so that a refused session closes none.
    const replaced = own.slice(0, Math.max(0, own.length - this.perRequester + 1));
    if ((this.byDomain.get(domain)?.length ?? 0) - replaced.length >= this.perDomain) {
      throw new StanzaError('resource-constraint', `${domain} already holds ${this.perDomain} open command sessions: complete or cancel some, or retry later`, { type: 'wait' });
    }
    for (const old of replaced) this.end(old);
    if (this.sessions.size >= this.max) this.end(this.oldestOfLargestDomain());
    const id = this.newId();
    this.sessions.set(id, { owner, expiresAt: now + this.timeoutMs });
    own.push(id);
    this.byRequester.set(who, own);
    const ofDomain = this.byDomain.get(domain);
    if (ofDomain) ofDomain.push(id);
    else this.byDomain.set(domain, [id]);
    return id;
  }

  /** The oldest session of the domain that holds the most (the first such domain met). */
  private oldestOfLargestDomain(): string {
    let largest: string[] = [];
    for (const ids of this.byDomain.values()) if (ids.length > largest.length) largest = ids;
    return largest[0]!;
  }

  /** Open sessions of one requester (bare JID). */
  openBy(requester: string): number {
    return this.byRequester.get(bareJid(requester))?.length ?? 0;
  }

  private end(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    const who = bareJid(s.owner.requester);
    const domain = domainOf(who);
    const ofDomain = this.byDomain.get(domain);
    const j = ofDomain?.indexOf(id) ?? -1;
    if (j >= 0) ofDomain!.splice(j, 1);
    if (ofDomain?.length === 0) this.byDomain.delete(domain);
    const own = this.byRequester.get(who);
    const i = own?.indexOf(id) ?? -1;
    if (i < 0) return;
    own!.splice(i, 1);
    if (own!.length === 0) this.byRequester.delete(who);
  }

  /** Ends the session and returns true if it exists, has not expired and belongs to this owner. */
  take(id: string, owner: SessionOwner, now: number): boolean {
    this.sweep(now);
    const s = this.sessions.get(id);
    if (!s || !sameOwner(s.owner, owner)) return false;
    this.end(id);
    return true;
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) {
      if (s.expiresAt > now) break;
      this.end(id);
    }
  }
}
