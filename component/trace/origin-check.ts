/**
 * The receiver's check of a data message's proof of origin, before the message is accepted:
 *
 * - signed, by a key the sender's domain publishes: verified, and the proof is kept as evidence;
 * - signed, but the sender's domain publishes no key: accepted and logged as unverifiable;
 * - unsigned, from a domain known to sign what it sends: refused (not-acceptable: the sender's
 *   delivery fails, is retried, then dead-lettered — never silently accepted);
 * - unsigned, from a domain that publishes no key (or none that signs data): accepted and logged as
 *   unsigned;
 * - a signature that does not verify: the key is looked up again once (a rotation), then refused.
 *
 * A message, signed or not, from a domain never looked up since the start waits for the look-up
 * (`wait`): were unsigned data accepted meanwhile, whoever can forge the `from` of a signing peer would
 * get data in at the first contact and after every restart. A look-up that fails keeps the domain's
 * last answer (a key seen is remembered across restarts: trace_peer_signers), so a peer's silence does
 * not switch its signatures off; of a domain never heard, data is refused (`resource-constraint`, wait:
 * the sender retries, never dead-letters) until it answers — a signing peer that is away would
 * otherwise be impersonated. Past its time, a domain's last answer stands while it is asked again.
 */
import { StanzaError } from '../xmpp/stanza-error.js';
import { parseJid } from '../xmpp/jid.js';
import type { Element } from '../xmpp/xml.js';
import type { Checkpoint } from './formats.js';
import type { Evidence } from './evidence.js';
import { InclusionChecker, leafHash } from './merkle.js';
import { openBatchNote, originStatement, StatementError, type MessageFacts } from './receipts.js';
import { NoteError } from './note.js';
import type { PeerKeys } from './peer-keys.js';
import { readOrigin } from './wire.js';
import { NS_TRACE } from './disco.js';
import { FormatError } from './formats.js';
import { monotonicNow } from '../timing/monotonic.js';

export type Origin = 'verified' | 'unsigned' | 'unverifiable';

export type OriginOutcome =
  | { t: 'accept'; origin: Origin; evidence?: Evidence; batchSize?: number }
  | { t: 'refuse'; error: StanzaError }
  | { t: 'wait'; until: Promise<unknown> };

/** Batch notes already verified (one Ed25519 verification per batch, not per message), bounded. */
const MAX_NOTES = 1000;
/** Batches whose proven nodes are kept (the messages of a batch arrive together): bounds their memory. */
const MAX_CHECKERS = 32;
/** After a failed signature, a domain's key is looked up again at most this often. */
const REFETCH_MS = 60_000;

export class OriginCheck {
  private readonly notes = new Map<string, { by: string; cp: Checkpoint }>();
  /** Per recent batch note, the nodes of its tree already proven (one batch's messages share most of their paths). */
  private readonly checkers = new Map<string, InclusionChecker>();
  private readonly refetched = new Map<string, number>();

  constructor(private readonly keys: PeerKeys) {}

  check(message: Element, facts: MessageFacts, now = monotonicNow()): OriginOutcome {
    const signed = message.getChild('origin', NS_TRACE) !== undefined;
    const domain = parseJid(facts.from)?.domain ?? facts.from;
    let key = this.keys.peek(domain);
    if (key === undefined) {
      key = this.keys.lastAnswer(domain);
      if (key === undefined) {
        const failure = this.keys.failure(domain);
        if (failure !== undefined) {
          return {
            t: 'refuse',
            error: new StanzaError('resource-constraint', `could not learn whether ${domain} signs the data it sends (its disco#info: ${failure.slice(0, 200)}); retry later`, { type: 'wait' }),
          };
        }
        return { t: 'wait', until: this.keys.fetch(domain, { remember: true }) };
      }
      // Past its time: the last answer stands while the domain is asked again.
      void this.keys.fetch(domain, { remember: true });
    }
    const proof = key ? readOrigin(message, key.verifiers[0]!.name) : null;
    if (signed && key && !proof) return { t: 'refuse', error: new StanzaError('bad-request', 'the proof of origin of this message is malformed') };
    if (!signed) {
      if (key?.signs.includes('origins')) {
        return { t: 'refuse', error: new StanzaError('not-acceptable', `${domain} signs the data it sends (its published key ${key.keys[0]}), but this message carries no proof of origin`) };
      }
      return { t: 'accept', origin: 'unsigned' };
    }
    if (!key || !proof) return { t: 'accept', origin: 'unverifiable' };
    let statement: string;
    try {
      statement = originStatement(facts);
    } catch (err) {
      if (err instanceof StatementError) return { t: 'refuse', error: new StanzaError('bad-request', err.message) };
      throw err;
    }
    for (const v of key.verifiers) {
      const cp = this.opened(proof.note, v);
      if (cp && this.checker(proof.note, cp).verify(proof.index, leafHash(statement), proof.path)) {
        return { t: 'accept', origin: 'verified', evidence: { peer: v.encoded, note: proof.note, index: proof.index, statement, path: proof.path }, batchSize: cp.size };
      }
    }
    if (now - (this.refetched.get(domain) ?? -Infinity) > REFETCH_MS) {
      this.refetched.set(domain, now);
      this.keys.forget(domain);
      return { t: 'wait', until: this.keys.fetch(domain, { remember: true }) };
    }
    return { t: 'refuse', error: new StanzaError('not-acceptable', `the proof of origin of this message does not verify with the key ${domain} publishes (${key.keys[0]})`) };
  }

  private checker(note: string, cp: Checkpoint): InclusionChecker {
    let c = this.checkers.get(note);
    if (!c) {
      if (this.checkers.size >= MAX_CHECKERS) this.checkers.delete(this.checkers.keys().next().value!);
      this.checkers.set(note, (c = new InclusionChecker(cp.size, cp.root)));
    }
    return c;
  }

  /** The batch note's checkpoint if `v` signed it (verified once per note). */
  private opened(note: string, v: { encoded: string } & Parameters<typeof openBatchNote>[2]): Checkpoint | null {
    // Keyed by the note alone (no key-sized string built per message), remembering which key checked it.
    const hit = this.notes.get(note);
    if (hit && hit.by === v.encoded) return hit.cp;
    try {
      const cp = openBatchNote(note, 'origins', v);
      if (this.notes.size >= MAX_NOTES) this.notes.delete(this.notes.keys().next().value!);
      this.notes.set(note, { by: v.encoded, cp });
      return cp;
    } catch (err) {
      if (err instanceof NoteError || err instanceof FormatError || err instanceof StatementError) return null;
      throw err;
    }
  }
}

