/**
 * Peers' published keys, learnt from their domain's disco#info (the XEP-0128 form of disco.ts) and
 * remembered for a while: one query per domain at a time, whoever asks. A domain that answers without a
 * form publishes no key (remembered for a shorter while, so that a gateway that starts signing is
 * noticed). A look-up that fails — no answer, an error — says nothing new: a domain keeps its last
 * answer (a key seen is remembered across restarts in trace_peer_signers); of a domain never heard,
 * whether it signs stays unknown (`failure`) — never taken for "publishes none", or whoever forges the
 * `from` of a signing peer that is away would be believed.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { RemoteStanzaError } from '../xmpp/stanza-error.js';
import { readTraceForm, type PublishedKey } from './disco.js';
import { NoteError, parseVerifierKey, type NoteVerifier } from './note.js';
import { monotonicNow } from '../timing/monotonic.js';

export interface PeerKey extends PublishedKey {
  verifiers: NoteVerifier[];
}

export interface PeerKeysOptions {
  /** Sends an IQ and resolves with its result (rejects with RemoteStanzaError or a timeout). */
  request(iq: Element, timeoutMs: number): Promise<Element>;
  /** How long a published key is trusted before asking again. */
  ttlMs?: number;
  /** How long "publishes no key" is believed. */
  noKeyTtlMs?: number;
  timeoutMs?: number;
  now?: () => number;
  /** The last key each domain was seen publishing, across restarts (component/trace/peer-signers.ts). */
  remembered?: RememberedSigners;
}

export interface RememberedSigners {
  get(domain: string): PublishedKey | undefined;
  /** A key learnt (null: the domain answered without one). */
  set(domain: string, key: PublishedKey | null): void;
}

/** Bounds the memory a crowd of sender domains can take. */
const MAX_DOMAINS = 10_000;
/**
 * A failed look-up is not repeated for this long: whoever sends stanzas "from" a domain must not make us
 * query it once per stanza. Short: a peer that was away and is back is asked again soon.
 */
const FAILED_TTL_MS = 3_000;

export class PeerKeys {
  private readonly known = new Map<string, { key: PeerKey | null; until: number }>();
  private readonly inflight = new Map<string, Promise<PeerKey | null>>();
  /** Domains whose look-up failed, with nothing learnt of them before: until when, and why. */
  private readonly failed = new Map<string, { until: number; reason: string }>();
  /** Domains whose next answer is to be remembered (fetch's `remember`). */
  private readonly toRemember = new Set<string>();

  constructor(private readonly opts: PeerKeysOptions) {}

  /** Its times are in memory only: the monotonic clock (a failed look-up stepped back two hours waited two hours). */
  private now(): number {
    return this.opts.now?.() ?? monotonicNow();
  }

  /** The domain's key if known now (null: it publishes none), undefined when it must be fetched. */
  peek(domain: string): PeerKey | null | undefined {
    const k = this.known.get(domain);
    return k && k.until >= this.now() ? k.key : undefined;
  }

  /** What the domain last answered, even past its time (kept until forgotten or pushed out), if anything. */
  lastAnswer(domain: string): PeerKey | null | undefined {
    return this.known.get(domain)?.key;
  }

  /**
   * Asks the domain (once, however many callers wait). `remember`: what it answers is kept across
   * restarts — only for the domains of entitled senders (the origin check runs after the entitlement
   * check), never for whoever sends us an acknowledgement: strangers would push real peers out.
   */
  fetch(domain: string, opts: { remember?: boolean } = {}): Promise<PeerKey | null> {
    // A look-up that failed just now is not repeated (whoever sends us stanzas "from" a domain must not
    // make us query it once per stanza): null, with `failure` saying why.
    if (this.failure(domain) !== undefined) return Promise.resolve(null);
    if (opts.remember) this.toRemember.add(domain);
    let p = this.inflight.get(domain);
    if (!p) {
      p = this.query(domain).finally(() => this.inflight.delete(domain));
      this.inflight.set(domain, p);
    }
    return p;
  }

  /** Forgets what is known of a domain (its signature failed: maybe it rotated its key). */
  forget(domain: string): void {
    this.known.delete(domain);
  }

  /**
   * Why the domain's last look-up failed, if it did within FAILED_TTL_MS and nothing was ever learnt of it:
   * whether it signs is unknown, not "no".
   */
  failure(domain: string): string | undefined {
    const f = this.failed.get(domain);
    return f && f.until >= this.now() ? f.reason : undefined;
  }

  /** Milliseconds until the domain may be asked again after a failed look-up (0 when it may now). */
  failureLeftMs(domain: string): number {
    const f = this.failed.get(domain);
    return f ? Math.max(0, f.until - this.now()) : 0;
  }

  private async query(domain: string): Promise<PeerKey | null> {
    let answer: { key: PeerKey | null } | null = null;
    let reason = '';
    try {
      const r = await this.opts.request(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: NS.discoInfo })), this.opts.timeoutMs ?? 10_000);
      const published = readTraceForm(r.getChild('query', NS.discoInfo));
      answer = { key: published ? withVerifiers(published, domain) : null };
      // An answer: what it says is what the domain publishes now. A key is remembered only for entitled
      // senders' domains (strangers would push real peers out); "no key" is always (it only forgets).
      if (this.toRemember.has(domain) || !published) this.opts.remembered?.set(domain, published ?? null);
    } catch (err) {
      // No answer, an error answer (a server answers so for a component that is away), a malformed key:
      // nothing new — the last key seen, if any, stands; with none, whether the domain signs is unknown.
      if (!(err instanceof RemoteStanzaError || err instanceof NoteError || err instanceof Error)) throw err;
      reason = err.message;
    } finally {
      this.toRemember.delete(domain);
    }
    const now = this.now();
    if (answer) {
      this.failed.delete(domain);
      this.learn(domain, answer.key, now + (answer.key ? (this.opts.ttlMs ?? 600_000) : (this.opts.noKeyTtlMs ?? 60_000)));
      return answer.key;
    }
    const last = this.opts.remembered?.get(domain);
    let kept: PeerKey | null | undefined = this.known.get(domain)?.key;
    if (last) {
      try {
        kept = withVerifiers(last, domain);
      } catch {
        // A remembered key that no longer reads: as if none.
      }
    }
    if (kept !== undefined) {
      this.learn(domain, kept, now + FAILED_TTL_MS);
      return kept;
    }
    if (!this.failed.delete(domain) && this.failed.size >= MAX_DOMAINS) this.failed.delete(this.failed.keys().next().value!);
    this.failed.set(domain, { until: now + FAILED_TTL_MS, reason });
    return null;
  }

  private learn(domain: string, key: PeerKey | null, until: number): void {
    if (!this.known.delete(domain) && this.known.size >= MAX_DOMAINS) this.known.delete(this.known.keys().next().value!);
    this.known.set(domain, { key, until });
  }
}

/**
 * The published key, checked: its log is the domain's (`<domain>/…`, as a gateway names it) and each key
 * bears that name. Signatures are checked against the sending domain's keys whatever their name, but
 * the name is what the evidence shows: a peer could make our log hold its receipts as signed by
 * `victim.example/fedgate`. Such an answer is malformed (NoteError): nothing is learnt from it.
 */
function withVerifiers(p: PublishedKey, domain: string): PeerKey {
  if (p.origin.toLowerCase() !== domain && !p.origin.toLowerCase().startsWith(`${domain}/`)) {
    throw new NoteError(`${domain} publishes the log ${p.origin}, which is not under its own domain`);
  }
  const verifiers = p.keys.map((k) => parseVerifierKey(k));
  const other = verifiers.find((v) => v.name !== p.origin);
  if (other) throw new NoteError(`${domain} publishes a key named ${other.name} for its log ${p.origin}`);
  return { ...p, verifiers };
}
