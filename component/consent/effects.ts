/**
 * What consent events do on a running gateway, whoever caused them (an XMPP command, the CLI, a rule,
 * the expiry job): the gateway follows `consent_events` with a durable cursor (settings row
 * `consent_events_handled`) and, for each event in order,
 *
 * - a request or renewal waiting for a decision → notifies whoever decides (subject or owners);
 * - a decision → notifies the requester;
 * - a withdrawal, refusal, expiry or invalidation → stops the recipient's subscriptions to the series
 *   no longer covered, has the send job move the data queued for them aside (dead letters, with the
 *   reason: never sent), and notifies the requester.
 *
 * In-process changes poke it at once; changes by another process reach it through the change feed's
 * `consents` topic (component/changes/), so every effect lands within a second. Events are handled only while the link is online (a
 * notification needs the link; nothing is sent meanwhile anyway), and caught up on start. Each pass
 * also plans the expiry job at the next end of an open record.
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { Element } from '../xmpp/xml.js';
import type { Authorizer } from '../authz/authorizer.js';
import { requesterMatches } from '../authz/requester-pattern.js';
import type { ConsumerStore } from '../transfer/consumers.js';
import { patternsOverlap } from '../transfer/series-pattern.js';
import type { ConsentStore } from './consent-store.js';
import type { Parties } from './parties.js';
import { awaitsDecision, type ConsentEvent, type ConsentRecord } from './model.js';
import { consentElement, deciderBody, notification, requesterBody } from './notification.js';

export interface ConsentEffectsOptions {
  db: Db;
  domain: string;
  store: ConsentStore;
  parties: Parties;
  authz: Authorizer;
  consumers: ConsumerStore;
  /** Hands queued outbox rows to the send job to be moved aside, never sent (it knows which already left). */
  dropQueued(ids: number[], reason: string): void;
  send(el: Element): boolean;
  /** Calls back once what was sent so far has left (never if the link is lost first): link.whenWritten. */
  whenSent(cb: () => void): void;
  isOnline(): boolean;
  /** Called after each pass with the earliest end of an open record (the expiry job's next run). */
  planExpiry(end: number | null): void;
  log: Logger;
}

const CURSOR = 'consent_events_handled';
const BATCH = 200;

export class ConsentEffects {
  /** Events handled, in memory; `kept`: up to where their notifications are known to have left (in SQLite). */
  private cursor: number;
  private kept: number;
  private scheduled = false;
  private stopped = false;

  constructor(private readonly o: ConsentEffectsOptions) {
    this.cursor = Number((o.db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(CURSOR) as string | undefined) ?? 0);
    this.kept = this.cursor;
  }

  /**
   * The link is online again: the events handled since the last notifications known to have left
   * (the connection was lost with them in its queue) are handled again — the same notification ids.
   */
  linkUp(): void {
    this.cursor = this.kept;
    this.poke();
  }

  /** Catches up with what happened while the gateway was down. */
  start(): void {
    this.poke();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Something changed (in this process, or in another: the change feed), or the link came online: handle it now. */
  poke(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      try {
        this.run();
      } catch (err) {
        this.o.log.error({ err: (err as Error).stack ?? String(err) }, 'consent effects failed; retrying on the next change');
      }
    });
  }

  private run(): void {
    this.o.authz.refresh();
    // Expiry is planned whatever the link; the events wait for it (their notifications need it).
    this.o.planExpiry(this.o.store.nextEnd());
    if (!this.o.isOnline()) return;
    const events = this.o.store.eventsAfter(this.cursor, BATCH);
    for (const e of events) {
      this.handle(e);
      this.cursor = e.id;
    }
    // The cursor is kept once the notifications are handed to the kernel: a crash, or a link lost before
    // that, handles the events again (the same notification ids). A link lost after it can still lose
    // them: components have no stream acknowledgements.
    if (events.length) {
      const upTo = this.cursor;
      this.o.whenSent(() => this.keep(upTo));
    }
    // A backlog (events made while the gateway was down) is worked off a batch per turn: stanzas keep flowing.
    if (events.length === BATCH) setImmediate(() => this.poke());
  }

  private keep(upTo: number): void {
    this.kept = Math.max(this.kept, upTo);
    try {
      this.o.db.prepare('UPDATE settings SET value = ? WHERE name = ? AND CAST(value AS INTEGER) < ?').run(String(upTo), CURSOR, upTo);
    } catch (err) {
      // The next batch's cursor covers this one: handled again after a restart at worst.
      this.o.log.warn({ err: (err as Error).message }, 'could not keep the consent notifications cursor');
    }
  }

  private handle(e: ConsentEvent): void {
    const rec = this.o.store.get(e.consentId)!;
    const appJid = `${rec.app}@${this.o.domain}`;
    const el = () => consentElement(rec, e, appJid);
    const id = (n: number) => `consent-${e.id}-${n}`;
    if (e.type === 'requested') {
      if (!awaitsDecision(rec)) return; // a rule decided at once: the decision's event tells the requester
      const deciders = this.o.parties.deciders(rec.app, rec.subject);
      deciders.forEach((to, n) => this.o.send(notification(appJid, to, id(n), deciderBody(rec, e, appJid), el())));
      this.o.log.info({ consent: rec.id, app: rec.app, deciders: deciders.length }, deciders.length ? 'consent request notified' : 'consent request waits for the operator');
      return;
    }
    const ends = e.type === 'withdrawn' || e.type === 'expired' || e.type === 'invalidated' || e.type === 'refused';
    const stopped = ends ? this.stopUncovered(rec, e) : { series: [], dropped: false };
    const requester = rec.requestedBy ?? (rec.recipient.includes('*') ? null : rec.recipient);
    if (requester !== null) this.o.send(notification(appJid, requester, id(0), requesterBody(rec, e, appJid, stopped), el()));
    // The people who decide hear when the requester gives up access they had granted — not of a request
    // withdrawn before anyone decided (request-and-withdraw cycles would flood them).
    if (e.type === 'withdrawn' && e.role === 'requester' && this.wasGranted(rec.id, e.id)) {
      this.o.parties.deciders(rec.app, rec.subject).forEach((to, n) => this.o.send(notification(appJid, to, id(n + 1), requesterBody(rec, e, appJid, { series: [], dropped: false }), el())));
    }
    this.o.log.info({ consent: rec.id, app: rec.app, event: e.type, by: e.actor, stopped: stopped.series.length, dropped: stopped.dropped }, `consent ${e.type}`);
  }

  /** Whether the record was given (or renewed) before event `before`. */
  private wasGranted(id: number, before: number): boolean {
    return this.o.store.events(id).some((x) => x.id < before && (x.type === 'given' || x.type === 'renewed'));
  }

  /**
   * Stops the subscriptions to series this record covered that no record covers any more, and has the
   * data queued for them moved aside (dead letters: never sent). Returns what was stopped.
   */
  private stopUncovered(rec: ConsentRecord, e: ConsentEvent): { series: string[]; dropped: boolean } {
    const app = `${rec.app}@${this.o.domain}`;
    const out = { series: [] as string[], dropped: false };
    // A bare JID's subscriptions are found by their destination (indexed); a domain's or anyone's among the app's.
    const one = rec.recipient.includes('*') ? {} : { destination: rec.recipient };
    const subs = this.o.consumers.list({ source: app, kind: 'subscription', ...one }).filter((c) => requesterMatches(rec.recipient, c.destination) && patternsOverlap(rec.series, c.series));
    for (const c of subs) {
      const d = this.o.authz.authorize({ app: rec.app, requester: c.destination, series: c.series, at: Math.max(Date.now(), e.at), processing: 'subscribe' });
      if (d.allowed) continue;
      // The queued rows are detached before the subscription goes (which would take them all along,
      // the one in flight too) and handed to the send job, which knows what already left.
      const queued = this.o.db.transaction(() => {
        const ids = this.o.db.prepare('SELECT id FROM outbox WHERE consumer_id = ? ORDER BY id').pluck().all(c.id) as number[];
        this.o.db.prepare('UPDATE outbox SET consumer_id = NULL WHERE consumer_id = ?').run(c.id);
        this.o.consumers.remove(c.id);
        return ids;
      }).immediate();
      this.o.dropQueued(queued, `not sent: ${d.reason}`);
      out.series.push(c.series);
      out.dropped ||= queued.length > 0;
    }
    return out;
  }
}
