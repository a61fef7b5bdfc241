/**
 * Intake of data sent to our apps, on the XMPP thread: check → persist → acknowledge, in that order.
 * A data message is decoded (Quoalise or the 2019 Sen1Message), checked against the sender's
 * entitlements and the app's backlog, committed to the inbox together with the other messages of the
 * same event-loop turn (one SQLite transaction), and only then acknowledged with a XEP-0184 receipt.
 */
import type { Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { bareJid } from '../xmpp/jid.js';
import { StanzaError, errorReply } from '../xmpp/stanza-error.js';
import { NS_QUOALISE, NS_SEN1 } from '../quoalise/namespaces.js';
import { MAX_IDENTIFIER_LENGTH } from '../quoalise/identifier.js';
import { Backlog } from './backlog.js';
import { MAX_STANZA_ID } from '../delivery/stanzas.js';
import { commitFailure } from './commit-failure.js';
import { decodeQuoalise } from '../quoalise/payload.js';
import { decodeSen1 } from '../quoalise/sen1.js';
import { FIRST_RECORD_TIME, LAST_RECORD_TIME } from '../quoalise/time.js';
import { QuoaliseFormatError } from '../quoalise/errors.js';
import type { DataBlock } from '../quoalise/types.js';
import type { Inbox, InboundMessage } from './inbox.js';
import type { Entitlements } from './entitlements.js';
import type { AppHost } from '../apps/app-host.js';
import type { Logger } from '../log/logger.js';
import { createHash } from 'node:crypto';
import { withoutBusyWait, type Db } from '../store/database.js';
import { Acks, ackStanza, mergeGroups, type AckGroup } from '../delivery/acks.js';
import { SignaturePacer } from '../trace/pacer.js';
import { BatchArrivals } from '../trace/batch-arrivals.js';
import { decodeRetention, lastExpiryMs, NS_GDPR, RetentionError, retentionToJson, type CarriedRetention } from '../gdpr/retention.js';
import { TokenBucket } from '../timing/token-bucket.js';
import { RepeatBudget, type RepeatLimits } from './repeat-budget.js';
import type { Trace } from '../trace/trace.js';
import type { NoteSigner } from '../trace/note.js';
import type { OriginCheck, Origin } from '../trace/origin-check.js';
import { dataDigest } from '../trace/digest.js';
import { EvidenceStore, type Evidence } from '../trace/evidence.js';
import { parseJid } from '../xmpp/jid.js';

/** Refusals are logged at most this many lines a second (a hostile sender must not fill the disk). */
const REFUSAL_LOG_PER_SECOND = 5;

interface Pending {
  message: InboundMessage;
  stanza: Element;
  host: AppHost;
  /** What the transparency log records of it: the payload's digest, the series named, the proof of origin. */
  digest: string;
  series: string[];
  /** The sender's proof of origin: verified, absent, or unverifiable (no published key). */
  signature: Origin;
  evidence?: Evidence;
}

/** Data messages waiting for their sender's key, per sender domain, at most. */
const MAX_WAITING_PER_DOMAIN = 1000;
/** Series identifiers named in one log entry, at most (a message may carry a thousand). */
const MAX_SERIES_PER_ENTRY = 20;

export interface IntakeOptions {
  db: Db;
  inbox: Inbox;
  entitlements: Entitlements;
  send(el: Element | string): boolean;
  maxPendingPerApp: number;
  /** …and per source of an app. */
  maxPendingPerSource: number;
  log: Logger;
  /** The transparency log: every message received is recorded in the inbox commit that stores it. */
  trace?: Trace;
  /** Signs the receipts of fedgate peers' messages (null when the log is off). */
  signer?: NoteSigner | null;
  /** Checks senders' proofs of origin. */
  origins?: OriginCheck | null;
  /** Repeats of messages already here that a source may send (with the log on): config `inbox.repeats_*`. */
  repeats: RepeatLimits;
}

/** The data element of a message, if it carries data for an app. */
export function dataPayload(el: Element): { format: 'quoalise' | 'sen1'; payload: Element } | null {
  const q = el.getChild('quoalise', NS_QUOALISE);
  if (q) return { format: 'quoalise', payload: q };
  const s = el.getChild('Sen1Message', NS_SEN1);
  if (s) return { format: 'sen1', payload: s };
  return null;
}

export class Intake {
  private batch: Pending[] = [];
  private commitScheduled = false;
  /** Puts back the buffered log entries written by the last commit (if it rolls back). */
  private unflush: () => void = () => {};
  /** Unapplied inbox rows per app and per source (transfer/backlog.ts). */
  private readonly backlog: Backlog;
  private readonly evidence: EvidenceStore;
  /** Data messages waiting for their sender's key to be looked up, per sender domain. */
  private readonly waiting = new Map<string, Array<{ retry: () => void; el: Element }>>();
  /** Repeats of messages already here, per source of an app (transfer/repeat-budget.ts). */
  private readonly repeats: RepeatBudget;
  /** fedgate acknowledgements waiting to share a signature (trace/pacer.ts). */
  private readonly receipts = new SignaturePacer<AckGroup>((groups) => {
    this.arrivals.signed();
    for (const g of mergeGroups(groups)) this.opts.send(ackStanza(g, this.opts.signer ?? null));
  });
  /** The senders' signed batches seen whole: their receipts are signed once the batch is (trace/batch-arrivals.ts). */
  private readonly arrivals = new BatchArrivals();

  constructor(private readonly opts: IntakeOptions) {
    this.backlog = new Backlog(() => opts.inbox.backlogCounts(), { perApp: opts.maxPendingPerApp, perSource: opts.maxPendingPerSource }, Date.now());
    this.evidence = new EvidenceStore(opts.db);
    this.repeats = new RepeatBudget(opts.repeats);
  }

  /** The receive job of `app` applied (and marked done) `done` rows and dead-lettered `dead` others. */
  settled(app: string, done: number, dead: number): void {
    this.backlog.settled(app, done, dead);
  }

  accept(host: AppHost, el: Element, data: { format: 'quoalise' | 'sen1'; payload: Element }): void {
    const from = el.attrs.from ?? '';
    const sender = bareJid(from);
    const app = host.app.name;
    // A sender that is a source of nothing for this app is refused before its records are decoded (as
    // long again as parsing them): a stranger's large message costs the XMPP thread no more than that.
    if (!host.senders.has(sender) && !this.opts.entitlements.isSource(sender, host.jid)) {
      return this.refuse(el, new StanzaError('not-authorized', `${sender} is not entitled to send data to ${host.jid} (no consumer names it as a source)`));
    }
    let blocks: DataBlock[];
    try {
      blocks = data.format === 'quoalise' ? decodeQuoalise(data.payload) : [decodeSen1(data.payload).block];
    } catch (err) {
      if (!(err instanceof QuoaliseFormatError)) throw err;
      return this.refuse(el, new StanzaError('bad-request', `malformed ${data.format === 'quoalise' ? 'Quoalise' : 'Sen1Message'} data: ${err.message}`));
    }
    if (!host.acceptsData) {
      return this.refuse(el, new StanzaError('feature-not-implemented', `${host.jid} does not accept data`));
    }
    let retention: CarriedRetention | null;
    try {
      retention = decodeRetention(el);
    } catch (err) {
      if (!(err instanceof RetentionError)) throw err;
      return this.refuse(el, new StanzaError('bad-request', `unreadable retention (${NS_GDPR}): ${err.message}`));
    }
    const names = new Set<string>();
    let records = 0;
    let undated: number | null = null;
    for (const b of blocks) {
      for (const r of b.records) {
        names.add(r.name);
        records++;
        if (!(r.time >= FIRST_RECORD_TIME && r.time <= LAST_RECORD_TIME)) undated = r.time;
      }
    }
    // Refused here, before the acknowledgement, rather than dead-lettered by the adapter after it.
    if (undated !== null) return this.refuse(el, new StanzaError('bad-request', `a record's time (${undated}) is outside 1970-01-01 to 9999-12-31`));
    if (records === 0) return this.refuse(el, new StanzaError('bad-request', `the ${data.format === 'quoalise' ? 'Quoalise' : 'Sen1Message'} data carries no record: nothing to store`));
    // Terms of series the message does not carry say nothing: not kept (a message listing 100,000 of
    // them made every record's expiry a search of the list in the app's worker).
    if (retention) for (const s of [...retention.keys()]) if (!names.has(s)) retention.delete(s);
    // Bounded before anything is logged or stored: the log keeps the ids and series of every message for ever.
    for (const id of [el.getChild('origin-id', NS.stanzaId)?.attrs.id, el.attrs.id]) {
      if (id !== undefined && String(id).length > MAX_STANZA_ID) return this.refuse(el, new StanzaError('bad-request', `the message id is longer than ${MAX_STANZA_ID} characters`));
    }
    for (const name of names) {
      if (name.length > MAX_IDENTIFIER_LENGTH) return this.refuse(el, new StanzaError('bad-request', `a series identifier is longer than ${MAX_IDENTIFIER_LENGTH} characters`));
    }
    const refused = host.senders.has(sender) ? null : this.opts.entitlements.firstRefused(sender, host.jid, names);
    if (refused !== null) {
      return this.refuse(
        el,
        new StanzaError('not-authorized', `${sender} is not entitled to send ${refused} to ${host.jid} (no consumer names it as a source for that series)`),
      );
    }
    const queued = { app: 0, source: 0 };
    for (const p of this.batch) {
      if (p.message.app !== app) continue;
      queued.app++;
      if (p.message.sender === sender) queued.source++;
    }
    const full = this.backlog.refusal(app, sender, queued, Date.now());
    if (full !== null) return this.refuse(el, new StanzaError('resource-constraint', `${host.jid}: ${full}; retry later`));
    const payload = data.payload.toString();
    // Without an id there is nothing to deduplicate on but the content itself.
    const stanzaId = el.getChild('origin-id', NS.stanzaId)?.attrs.id ?? el.attrs.id ?? `sha1-${createHash('sha1').update(payload).digest('hex')}`;
    // The digest covers what the sender's outbox row holds: the data, then its retention terms if any.
    const terms = el.getChild('retention', NS_GDPR);
    const digest = dataDigest(terms ? [data.payload, terms] : [data.payload]);
    const checked = this.opts.origins?.check(el, { from: sender, to: bareJid(el.attrs.to ?? ''), id: el.attrs.id ?? stanzaId, digest }) ?? { t: 'accept', origin: 'unsigned' };
    if (checked.t === 'refuse') return this.refuse(el, checked.error);
    if (checked.t === 'wait') return this.waitForKey(sender, () => this.accept(host, el, data), el, checked.until);
    if (checked.evidence && checked.batchSize) this.arrivals.arrived(checked.evidence.note, checked.evidence.index, checked.batchSize);
    const series = [...names].slice(0, MAX_SERIES_PER_ENTRY);
    const { origin, version } = sourceVersion(el, checked.origin === 'verified');
    // A verified message is known by the id its signature covers: the unsigned origin-id could be
    // changed by whoever replays a captured message, making it look new.
    const key = checked.origin === 'verified' && el.attrs.id ? el.attrs.id : stanzaId;
    const expiresAt = lastExpiryMs(retention, blocks.flatMap((b) => b.records));
    this.batch.push({
      message: { app, sender, stanzaId: key, format: data.format, payload, records, origin, version, retention: retentionToJson(retention), expiresAt, series: [...names].join('\n') },
      stanza: el,
      host,
      digest,
      series,
      signature: checked.origin,
      ...(checked.evidence ? { evidence: checked.evidence } : {}),
    });
    this.scheduleCommit();
  }

  /** Holds a data message until its sender's key is known, then takes it again from the start. */
  private waitForKey(sender: string, retry: () => void, el: Element, until: Promise<unknown>): void {
    const domain = parseJid(sender)?.domain ?? sender;
    let queue = this.waiting.get(domain);
    if (!queue) {
      const held: Array<{ retry: () => void; el: Element }> = (queue = []);
      this.waiting.set(domain, held);
      const release = () => {
        this.waiting.delete(domain);
        // Outside the stanza's own handler now: what throws is answered here, not left to the event loop.
        for (const h of held) {
          try {
            h.retry();
          } catch (err) {
            this.opts.log.error({ err: (err as Error).stack ?? String(err), from: h.el.attrs.from }, 'a message held for its sender\'s key failed');
            this.opts.send(errorReply(h.el, new StanzaError('internal-server-error', 'the gateway failed to handle this message; the error was logged')));
          }
        }
      };
      void until.then(release, release);
    }
    if (queue.length >= MAX_WAITING_PER_DOMAIN) {
      return this.refuse(el, new StanzaError('resource-constraint', `too many messages from ${domain} wait for its key to be looked up; retry later`));
    }
    queue.push({ retry, el });
  }

  /**
   * Commits at the end of the current callback: every stanza parsed from one chunk of the socket shares
   * the transaction. After SQLITE_BUSY (`retry`), on the next turn of the event loop instead, so that
   * waiting for another thread's lock never starves the loop.
   */
  private scheduleCommit(retry = false): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    const run = () => {
      this.commitScheduled = false;
      this.commit();
    };
    if (retry) setImmediate(run);
    else queueMicrotask(run);
  }

  /**
   * One transaction for the whole turn's messages, then the receipts, then the receive jobs. The XMPP thread never waits for SQLite's lock: when another
   * thread holds it, the commit is tried again on the next turn (SQLite's busy handler would sleep
   * the whole event loop for milliseconds).
   */
  private commit(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    let stored: boolean[];
    const { db } = this.opts;
    let indexes: number[] = [];
    let overBudget: boolean[] = [];
    this.unflush = () => {};
    try {
      // The log's entries of these messages (and whatever else this thread logged meanwhile) commit with them.
      withoutBusyWait(db, () =>
        db.transaction(() => {
          stored = this.opts.inbox.commit(batch.map((p) => p.message));
          // Repeats are logged again (their receipts name the new entry): past its budget a source's are refused.
          const now = Date.now();
          const logged = this.opts.trace?.enabled === true;
          overBudget = batch.map((p, i) => logged && !stored[i] && !this.repeats.take(p.message.app, p.message.sender, now));
          indexes = this.record(batch, stored, overBudget);
        }).immediate(),
      );
    } catch (err) {
      // The log entries this thread had buffered were written in the rolled-back transaction: kept for the next one.
      this.unflush();
      this.evidence.forgetCached();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') return this.scheduleCommit(true);
      this.batch = [];
      // Logged once in a while: a full disk fails every commit.
      const failure = commitFailure(err, db.name);
      if (this.storageLog.take(Date.now())) this.opts.log.error({ err: (err as Error).message }, `inbox commit failed: ${failure.log}`);
      for (const p of batch) this.refuse(p.stanza, failure.reply);
      return;
    }
    this.batch = [];
    const hosts = new Set<AppHost>();
    const acks = new Acks();
    const now = Date.now();
    batch.forEach((p, i) => {
      if (stored[i]) {
        this.backlog.committed(p.message.app, p.message.sender);
        hosts.add(p.host);
      }
      if (overBudget[i]) {
        const wait = this.repeats.waitSeconds(p.message.app, p.message.sender, now);
        return this.refuse(p.stanza, new StanzaError('resource-constraint', `${p.message.sender} has sent again too many messages that ${p.host.jid} already has; retry in ${wait} s`));
      }
      // A duplicate is acknowledged again: the sender evidently missed the first acknowledgement.
      acks.add(p.stanza, { index: indexes[i] ?? -1, digest: p.digest });
    });
    for (const stanza of acks.receiptStanzas()) this.opts.send(stanza);
    if (this.opts.signer) this.receipts.add(acks.groups(), this.arrivals.waiting(batch.flatMap((p, i) => (p.evidence && !overBudget[i] ? [p.evidence.note] : []))));
    else for (const g of mergeGroups(acks.groups())) this.opts.send(ackStanza(g, null));
    for (const h of hosts) h.notifyInbox();
  }

  /**
   * Inside the inbox commit: one log entry per sender and app of the commit, listing each message
   * received (a duplicate too: it was received again, and its acknowledgement names the new entry), the
   * senders' proofs of origin kept as evidence of that entry, and the entries this thread buffered
   * meanwhile. Returns each message's entry index (-1 with the log off).
   */
  private record(batch: readonly Pending[], stored: readonly boolean[], refused: readonly boolean[]): number[] {
    const trace = this.opts.trace;
    if (!trace?.enabled) return batch.map(() => -1);
    this.unflush = trace.flush();
    const groups = new Map<string, number[]>();
    batch.forEach((p, i) => {
      if (refused[i]) return;
      const key = `${p.message.app}\u0000${p.message.sender}`;
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    const members = [...groups.values()];
    const entries = trace.writeAll(
      members.map((idx) => {
        const first = batch[idx[0]!]!.message;
        return {
          kind: 'transfer.received',
          fields: {
            app: first.app,
            sender: first.sender,
            series: [...new Set(idx.flatMap((i) => batch[i]!.series))].slice(0, MAX_SERIES_PER_ENTRY),
            messages: idx.map((i) => {
              const p = batch[i]!;
              return { id: p.message.stanzaId, digest: p.digest, records: p.message.records, series: p.series, origin: p.signature, ...(stored[i] ? {} : { duplicate: true }) };
            }),
          },
        };
      }),
    );
    const indexes = new Array<number>(batch.length).fill(-1);
    members.forEach((idx, g) => {
      for (const i of idx) indexes[i] = entries[g]!;
      const proofs = idx.flatMap((i) => (batch[i]!.evidence ? [{ id: batch[i]!.message.stanzaId, evidence: batch[i]!.evidence! }] : []));
      this.evidence.keep(entries[g]!, proofs);
    });
    return indexes;
  }

  private readonly refusalLog = new TokenBucket(REFUSAL_LOG_PER_SECOND, Date.now());
  /** Failed commits are logged once every 10 s at most (a full disk fails every commit). */
  private readonly storageLog = new TokenBucket(0.1, Date.now());
  private refusalsNotLogged = 0;

  private refuse(el: Element, err: StanzaError): void {
    if (this.refusalLog.take(Date.now())) {
      const more = this.refusalsNotLogged ? { alsoRefusedNotLogged: this.refusalsNotLogged } : {};
      this.opts.log.info({ from: el.attrs.from, to: el.attrs.to, condition: err.condition, ...more }, err.message.slice(0, 300));
      this.refusalsNotLogged = 0;
    } else {
      this.refusalsNotLogged++;
    }
    this.opts.send(errorReply(el, err));
  }
}

/**
 * A fedgate sender's version of the records (see component/delivery/stanzas.ts), if it gave one. The
 * `epoch` and `version` attributes are not signed, but a fedgate sender's message id is made of them
 * (`fg<epoch>-<version>`): for a verified message, whose id the signature covers, they must agree with
 * it — otherwise a replayed message with a forged, huge version would outrank every later correction.
 */
export function sourceVersion(el: Element, verified: boolean): { origin: string | null; version: number | null } {
  const req = el.getChild('request', NS.fedgateDelivery);
  const version = Number(req?.attrs.version);
  const origin = req?.attrs.epoch;
  if (!origin || !Number.isSafeInteger(version) || version < 0 || origin.length > 64) return { origin: null, version: null };
  if (verified && el.attrs.id !== `fg${origin}-${version}`) return { origin: null, version: null };
  return { origin, version };
}
