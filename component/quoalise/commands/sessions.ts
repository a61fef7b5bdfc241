/**
 * XEP-0050 sessions of the two-step flow, in memory: a session exists between the form we send and the
 * form the requester submits, belongs to one requester (full JID), app and command, and expires.
 * Memory stays bounded: at most `max` sessions, the oldest dropped first.
 */
import { randomBytes } from 'node:crypto';

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

  constructor(private readonly timeoutMs: number, private readonly max = 10_000) {}

  /** A fresh session id, also used for one-shot answers (quoalise.md's answers carry a sessionid). */
  newId(): string {
    return randomBytes(12).toString('base64url');
  }

  start(owner: SessionOwner, now: number): string {
    this.sweep(now);
    if (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    const id = this.newId();
    this.sessions.set(id, { owner, expiresAt: now + this.timeoutMs });
    return id;
  }

  /** Ends the session and returns true if it exists, has not expired and belongs to this owner. */
  take(id: string, owner: SessionOwner, now: number): boolean {
    this.sweep(now);
    const s = this.sessions.get(id);
    if (!s || !sameOwner(s.owner, owner)) return false;
    this.sessions.delete(id);
    return true;
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) {
      if (s.expiresAt > now) break;
      this.sessions.delete(id);
    }
  }
}
