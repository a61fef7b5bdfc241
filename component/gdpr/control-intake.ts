/**
 * Erasure requests and their confirmations arriving at our apps (component/gdpr/wire.ts), on the XMPP
 * thread — judged by who sent them, then check → persist → acknowledge, as data is:
 *
 * - `<erase/>` to one of our apps: only from a source of its data (a consumer names the sender as a
 *   source for that app; anyone else is refused `not-authorized`), with a valid proof of origin when
 *   the sender's domain signs; stored with its log entry (`gdpr.erasure.received`), acknowledged with a
 *   signed receipt, then applied by the GDPR worker to the data received from that source only;
 * - `<erased/>` to one of our apps: only from the recipient we sent that request to, from that app
 *   (otherwise `item-not-found`); recorded with its log entry (`gdpr.erasure.confirmed`) and the sender's
 *   signature kept as evidence, acknowledged.
 *
 * Both are rare: one short transaction each. The XMPP thread never waits for SQLite's lock: a busy
 * database is tried again on the next turn.
 */
import type { Element } from '../xmpp/xml.js';
import { bareJid, parseJid } from '../xmpp/jid.js';
import { StanzaError, errorReply } from '../xmpp/stanza-error.js';
import { withoutBusyWait, type Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { AppHost } from '../apps/app-host.js';
import type { Entitlements } from '../transfer/entitlements.js';
import { Acks, ackStanza } from '../delivery/acks.js';
import type { Trace } from '../trace/trace.js';
import type { NoteSigner } from '../trace/note.js';
import type { OriginCheck, OriginOutcome } from '../trace/origin-check.js';
import { EvidenceStore } from '../trace/evidence.js';
import { TokenBucket } from '../timing/token-bucket.js';
import { RateLimiter } from '../timing/rate-limiter.js';
import { commitFailure } from '../transfer/commit-failure.js';
import { MAX_STANZA_ID } from '../delivery/stanzas.js';
import { ErasureStore } from './erasure-store.js';
import { controlDigest, controlElement, decodeErase, decodeErased, ErasureFormatError, type ErasedConfirmation, type EraseRequest } from './wire.js';

/** Control messages waiting for their sender's key, per domain, at most. */
const MAX_WAITING_PER_DOMAIN = 100;
/** Erasure requests of one source waiting to be applied to one of our apps, at most (a limit per party). */
const MAX_PENDING_PER_SOURCE = 100;
/** Erasure requests one source may make to one of our apps in 24 hours (each is kept, with its log entries). */
export const MAX_REQUESTS_PER_SOURCE_PER_DAY = 1000;
/**
 * Repeats of a request already received, per source and app: a retransmission is legitimate (it missed
 * our acknowledgement) and is logged again, but replaying one request thousands of times must not grow
 * the log — a burst, then one a minute.
 */
export const REPEATS_BURST = 20;
const REPEATS_PER_SECOND = 1 / 60;
const DAY_MS = 86_400_000;

export interface ControlIntakeOptions {
  db: Db;
  entitlements: Entitlements;
  send(el: Element | string): boolean;
  log: Logger;
  trace: Trace;
  signer: NoteSigner | null;
  origins: OriginCheck | null;
  /** A request was stored: the GDPR worker should apply it now. */
  received(): void;
}

type Control = { kind: 'erase'; request: EraseRequest } | { kind: 'erased'; confirmation: ErasedConfirmation };

export class ControlIntake {
  private readonly store: ErasureStore;
  private readonly evidence: EvidenceStore;
  private readonly waiting = new Map<string, number>();
  private readonly repeats = new RateLimiter(REPEATS_PER_SECOND, REPEATS_BURST);
  /** The info line of each request received: a few a second at most. */
  private readonly receivedLog = new TokenBucket(5, Date.now());

  constructor(private readonly o: ControlIntakeOptions) {
    this.store = new ErasureStore(o.db);
    this.evidence = new EvidenceStore(o.db);
  }

  /** True when the message carries an erasure request or confirmation (this class answers it). */
  handles(el: Element): boolean {
    return controlElement(el) !== null;
  }

  accept(host: AppHost, el: Element): void {
    const found = controlElement(el)!;
    const sender = bareJid(el.attrs.from ?? '');
    let control: Control;
    try {
      control = found.kind === 'erase' ? { kind: 'erase', request: decodeErase(found.el) } : { kind: 'erased', confirmation: decodeErased(found.el) };
    } catch (err) {
      if (err instanceof ErasureFormatError) return this.refuse(el, new StanzaError('bad-request', `malformed ${found.kind} (urn:fedgate:gdpr:0): ${err.message}`));
      throw err;
    }
    // Its id goes into the log, kept for ever: bounded as a data message's is.
    if ((el.attrs.id ?? '').length > MAX_STANZA_ID) return this.refuse(el, new StanzaError('bad-request', `the message id is longer than ${MAX_STANZA_ID} characters`));
    // A source: named by a consumer, or the provider a relay app (the quoalise adapter) takes pushes from.
    if (control.kind === 'erase' && !this.o.entitlements.isSource(sender, host.jid) && !host.senders.has(sender)) {
      return this.refuse(el, new StanzaError('not-authorized', `${sender} is not a source of the data of ${host.jid}: only the source of data may ask for its erasure`));
    }
    if (control.kind === 'erase') {
      const app = host.app.name;
      const request = control.request.request;
      if (this.store.hasReceived(app, sender, request)) {
        if (!this.repeats.take(`${app}\u0000${sender}`, Date.now())) {
          return this.refuse(el, new StanzaError('resource-constraint', `${host.jid} received erasure request ${request.slice(0, 100)} already, and ${sender} repeats its requests too often: retry later`, { type: 'wait' }));
        }
      } else if (this.store.pendingFrom(app, sender) >= MAX_PENDING_PER_SOURCE) {
        return this.refuse(el, new StanzaError('resource-constraint', `${sender} already has ${MAX_PENDING_PER_SOURCE} erasure requests waiting to be applied to ${host.jid}: retry later`, { type: 'wait' }));
      } else if (this.store.receivedSince(app, sender, Date.now() - DAY_MS) >= MAX_REQUESTS_PER_SOURCE_PER_DAY) {
        return this.refuse(el, new StanzaError('resource-constraint', `${sender} made ${MAX_REQUESTS_PER_SOURCE_PER_DAY} erasure requests to ${host.jid} in the last 24 hours (the limit): retry tomorrow`, { type: 'wait' }));
      }
    }
    if (control.kind === 'erased') {
      const request = control.confirmation.request;
      if (!this.store.isRequest(request, host.jid, sender)) {
        return this.refuse(el, new StanzaError('item-not-found', `${host.jid} sent no erasure request ${request} to ${sender}`));
      }
      // A confirmation that comes again is acknowledged and logged again, up to the same bound.
      if (this.store.isConfirmed(request, host.jid, sender) && !this.repeats.take(`${host.jid}\u0000${sender}\u0000erased`, Date.now())) {
        return this.refuse(el, new StanzaError('resource-constraint', `${host.jid} has the confirmation of ${request.slice(0, 100)} already, and ${sender} repeats its confirmations too often: retry later`, { type: 'wait' }));
      }
    }
    const digest = controlDigest(el, found.el);
    const checked: OriginOutcome = this.o.origins?.check(el, { from: sender, to: bareJid(el.attrs.to ?? ''), id: el.attrs.id ?? '', digest }) ?? { t: 'accept', origin: 'unsigned' };
    if (checked.t === 'refuse') return this.refuse(el, checked.error);
    if (checked.t === 'wait') {
      const domain = parseJid(sender)?.domain ?? sender;
      const n = this.waiting.get(domain) ?? 0;
      if (n >= MAX_WAITING_PER_DOMAIN) return this.refuse(el, new StanzaError('resource-constraint', `too many messages from ${domain} wait for its key; retry later`, { type: 'wait' }));
      this.waiting.set(domain, n + 1);
      const again = () => {
        this.waiting.set(domain, (this.waiting.get(domain) ?? 1) - 1);
        // Outside the stanza's own handler now: what throws is answered here, not left to the event loop.
        try {
          this.accept(host, el);
        } catch (err) {
          this.o.log.error({ err: (err as Error).stack ?? String(err), from: el.attrs.from }, 'an erasure message held for its sender\'s key failed');
          this.o.send(errorReply(el, new StanzaError('internal-server-error', 'the gateway failed to handle this message; the error was logged')));
        }
      };
      void checked.until.then(again, again);
      return;
    }
    this.commit(host, el, sender, control, digest, checked);
  }

  private commit(host: AppHost, el: Element, sender: string, control: Control, digest: string, checked: Extract<OriginOutcome, { t: 'accept' }>): void {
    const { db, trace } = this.o;
    const now = Date.now();
    let entry = -1;
    let fresh = false;
    try {
      withoutBusyWait(db, () => db.transaction(() => {
        if (control.kind === 'erase') {
          const r = control.request;
          const id = this.store.receive(host.app.name, sender, r, now);
          fresh = id !== null;
          entry = trace.write('gdpr.erasure.received', {
            app: host.app.name,
            sender,
            id: el.attrs.id,
            request: r.request,
            series: r.series,
            digest,
            origin: checked.origin,
            duplicate: fresh ? undefined : true,
          });
          if (id !== null) this.store.setReceivedEntry(id, entry);
        } else {
          const c = control.confirmation;
          entry = trace.write('gdpr.erasure.confirmed', {
            app: host.jid,
            recipient: sender,
            id: el.attrs.id,
            request: c.request,
            records: c.records,
            complete: c.complete,
            digest,
            origin: checked.origin,
          });
          this.store.confirm(host.jid, sender, c, now, entry);
        }
        if (checked.evidence && entry >= 0) this.evidence.keep(entry, [{ id: el.attrs.id ?? '', evidence: checked.evidence }]);
      }).immediate());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        setImmediate(() => this.commit(host, el, sender, control, digest, checked));
        return;
      }
      this.evidence.forgetCached();
      const failure = commitFailure(err, db.name);
      this.o.log.error({ err: (err as Error).message }, `could not store an erasure message: ${failure.log}`);
      return this.refuse(el, failure.reply);
    }
    const acks = new Acks();
    acks.add(el, { index: entry, digest });
    for (const s of [...acks.receiptStanzas(), ...acks.groups().map((g) => ackStanza(g, this.o.signer))]) this.o.send(s);
    if (control.kind === 'erase') {
      if (this.receivedLog.take(Date.now())) {
        this.o.log.info({ app: host.app.name, sender, request: control.request.request, series: control.request.series, duplicate: !fresh || undefined }, 'erasure request received from the source of the data');
      }
      if (fresh) this.o.received();
    } else {
      this.o.log.info({ app: host.app.name, recipient: sender, request: control.confirmation.request, records: control.confirmation.records }, 'erasure confirmed by the recipient');
    }
  }

  /** Refusals are logged at most a few lines a second: a hostile sender must not fill the disk. */
  private readonly refusalLog = new TokenBucket(5, Date.now());

  private refuse(el: Element, err: StanzaError): void {
    if (this.refusalLog.take(Date.now())) this.o.log.info({ from: el.attrs.from, to: el.attrs.to, condition: err.condition }, err.message.slice(0, 300));
    this.o.send(errorReply(el, err));
  }
}
