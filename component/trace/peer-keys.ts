/**
 * Peers' published keys, learnt from their domain's disco#info (the XEP-0128 form of disco.ts) and
 * remembered for a while: one query per domain at a time, whoever asks. A domain that answers without a
 * form publishes no key (remembered for a shorter while, so that a gateway that starts signing is
 * noticed). A look-up that fails — no answer, an error — says nothing new: a domain seen signing keeps
 * its last key (`remembered`, kept across restarts in trace_peer_signers), one never seen signing
 * publishes none.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { RemoteStanzaError } from '../xmpp/stanza-error.js';
import { readTraceForm, type PublishedKey } from './disco.js';
import { NoteError, parseVerifierKey, type NoteVerifier } from './note.js';

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

export class PeerKeys {
  private readonly known = new Map<string, { key: PeerKey | null; until: number }>();
  private readonly inflight = new Map<string, Promise<PeerKey | null>>();
  /** Domains whose next answer is to be remembered (fetch's `remember`). */
  private readonly toRemember = new Set<string>();

  constructor(private readonly opts: PeerKeysOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
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

  private async query(domain: string): Promise<PeerKey | null> {
    let key: PeerKey | null = null;
    try {
      const r = await this.opts.request(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: NS.discoInfo })), this.opts.timeoutMs ?? 10_000);
      const published = readTraceForm(r.getChild('query', NS.discoInfo));
      if (published) key = withVerifiers(published);
      // An answer: what it says is what the domain publishes now.
      if (this.toRemember.has(domain)) this.opts.remembered?.set(domain, published ?? null);
    } catch (err) {
      // No answer, an error answer, a malformed key: nothing new — the last key seen, if any, stands.
      if (!(err instanceof RemoteStanzaError || err instanceof NoteError || err instanceof Error)) throw err;
      const last = this.opts.remembered?.get(domain);
      if (last) {
        try {
          key = withVerifiers(last);
        } catch {
          key = null;
        }
      }
    }
    this.toRemember.delete(domain);
    if (!this.known.delete(domain) && this.known.size >= MAX_DOMAINS) this.known.delete(this.known.keys().next().value!);
    this.known.set(domain, { key, until: this.now() + (key ? (this.opts.ttlMs ?? 600_000) : (this.opts.noKeyTtlMs ?? 60_000)) });
    return key;
  }
}

function withVerifiers(p: PublishedKey): PeerKey {
  return { ...p, verifiers: p.keys.map((k) => parseVerifierKey(k)) };
}
