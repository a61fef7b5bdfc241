/**
 * The key a receiver's confirmation is judged with, on the XMPP thread, before the send worker checks
 * its signature: the one the receiver's domain publishes (trace/peer-keys.ts). Judged by who sends it:
 *
 * - the domain's key known (or its last answer, past its time, while it is asked again): at once;
 * - signed by a key the domain did not publish when we asked (it rotated its key): the domain is asked
 *   again first, at most once a minute — else every receipt fails until the cached key expires, and the
 *   deliveries with them; its last key stands if the answer fails;
 * - a domain never heard: once it answers. A failed look-up is not "no key": whoever forges the `from` of
 *   a receiver that is away would confirm what it never got. A look-up that failed a moment ago (the
 *   receiver was away and is back: it confirms) is made again when it may be (PeerKeys' failure window);
 *   if that fails too, the confirmation is ignored, with a warning once a minute per domain. The real
 *   receiver confirms again when the messages are re-sent.
 *
 * While a key is looked up, the parsed acknowledgements stay in memory: at most MAX_AWAITING_PER_DOMAIN
 * per domain and MAX_AWAITING in all (a stranger's stanzas for a domain that never answers piled up by
 * the hundred megabytes); past that a confirmation is ignored, its domain still asked.
 */
import type { Logger } from '../log/logger.js';
import { domainOf } from '../xmpp/jid.js';
import { noteSigners } from '../trace/note.js';
import type { PeerKey, PeerKeys } from '../trace/peer-keys.js';
import type { ReadAcks } from '../trace/wire.js';
import { ACKS_PER_STANZA } from './acks.js';
import { monotonicNow } from '../timing/monotonic.js';

/** Acknowledgements held for their domain's key (each takes ~200 bytes parsed; a real receiver's first confirmations are a few stanzas of up to 10,000). */
export const MAX_AWAITING_PER_DOMAIN = 4 * ACKS_PER_STANZA;
export const MAX_AWAITING = 10 * ACKS_PER_STANZA;
/** A receiver's key is looked up again, for a receipt signed by a key we do not know, at most this often. */
const REFETCH_MS = 60_000;
/** Warnings about confirmations ignored, per domain, at most this often. */
const WARN_MS = 60_000;
/** Domains remembered for the two limits above, at most. */
const MAX_DOMAINS = 10_000;

export interface ReceiptKeysOptions {
  now?: () => number;
  /** Runs `fn` after `ms` (a timer that does not keep the process alive). */
  later?: (fn: () => void, ms: number) => void;
}

export class ReceiptKeys {
  /** Acknowledgements waiting for their domain's key, per domain, and in all. */
  private readonly awaiting = new Map<string, number>();
  private awaitingTotal = 0;
  private readonly refetchedAt = new Map<string, number>();
  private readonly warnedAt = new Map<string, number>();
  private readonly now: () => number;
  private readonly later: (fn: () => void, ms: number) => void;

  constructor(
    private readonly keys: PeerKeys,
    private readonly log: Logger,
    opts: ReceiptKeysOptions = {},
  ) {
    // In memory only: the monotonic clock, which a step of the wall clock does not move.
    this.now = opts.now ?? monotonicNow;
    this.later = opts.later ?? ((fn, ms) => void setTimeout(fn, ms).unref());
  }

  /** Calls `judge` with the key of `from`'s domain (null: it publishes none) — now, later, or never (ignored). */
  withKey(from: string, read: ReadAcks, judge: (key: PeerKey | null) => void): void {
    const domain = domainOf(from);
    const fresh = this.keys.peek(domain);
    const known = fresh ?? this.keys.lastAnswer(domain);
    if (known && read.note && known.signs.includes('receipts') && signedByAnotherKey(read.note, known) && this.mayRefetch(domain)) {
      this.keys.forget(domain);
      this.whenLookedUp(domain, read.items.length, from, (k, release) => {
        release();
        judge(k ?? known);
      });
    } else if (known !== undefined) {
      judge(known);
      if (fresh === undefined) void this.keys.fetch(domain);
    } else {
      const then = (k: PeerKey | null, release: () => void, again: boolean): void => {
        if (k !== null || this.keys.failure(domain) === undefined) {
          release();
          judge(k);
        } else if (again) {
          this.later(() => void this.keys.fetch(domain).then((k2) => then(k2, release, false)), this.keys.failureLeftMs(domain) + 10);
        } else {
          release();
          this.warnIgnored(domain, this.keys.failure(domain) ?? '');
        }
      };
      this.whenLookedUp(domain, read.items.length, from, (k, release) => then(k, release, true));
    }
  }

  /** Acknowledgements held now, waiting for their domain's key (what the limits count). */
  get held(): number {
    return this.awaitingTotal;
  }

  /** Looks the domain up and calls `then` with the answer and what releases the `acks` held meanwhile; over the limits, only looks it up. */
  private whenLookedUp(domain: string, acks: number, from: string, then: (k: PeerKey | null, release: () => void) => void): void {
    const n = this.awaiting.get(domain) ?? 0;
    if (n + acks > MAX_AWAITING_PER_DOMAIN || this.awaitingTotal + acks > MAX_AWAITING) {
      void this.keys.fetch(domain);
      this.log.debug({ from }, "ignored a confirmation: too many wait for its domain's key already");
      return;
    }
    this.awaiting.set(domain, n + acks);
    this.awaitingTotal += acks;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.awaiting.get(domain) ?? acks) - acks;
      if (left > 0) this.awaiting.set(domain, left);
      else this.awaiting.delete(domain);
      this.awaitingTotal -= acks;
    };
    void this.keys.fetch(domain).then((k) => then(k, release));
  }

  private mayRefetch(domain: string): boolean {
    return once(this.refetchedAt, domain, this.now(), REFETCH_MS);
  }

  private warnIgnored(domain: string, failure: string): void {
    if (!once(this.warnedAt, domain, this.now(), WARN_MS)) return;
    this.log.warn({ domain, lookup: failure.slice(0, 200) }, `ignored confirmations from ${domain}: its disco#info did not answer, so whether it signs its receipts is unknown`);
  }
}

/** True (and noted) when `key` was not noted within `everyMs` of `now`. */
function once(at: Map<string, number>, key: string, now: number, everyMs: number): boolean {
  if (now - (at.get(key) ?? -Infinity) < everyMs) return false;
  if (at.size >= MAX_DOMAINS) at.clear();
  at.set(key, now);
  return true;
}

function signedByAnotherKey(note: string, key: PeerKey): boolean {
  const signers = noteSigners(note);
  return signers.length > 0 && !signers.some((s) => key.verifiers.some((v) => v.name === s.name && v.keyId === s.keyId));
}
