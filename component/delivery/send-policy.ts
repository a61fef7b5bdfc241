/**
 * What may still leave, checked right before a message is sent: a subscription push goes only to a
 * requester that the app's consents (or grants) still allow to subscribe to every series it carries, so that
 * data queued before a withdrawal, a refusal or an expiry is never sent. (A removed consumer or
 * subscription takes its queued rows with it: schema/004_delivery.sql.)
 */
import type { Db } from '../store/database.js';
import { Authorizer } from '../authz/authorizer.js';
import { ConsentStore } from '../consent/consent-store.js';
import type { OutboxRow } from './outbox.js';

/** How stale the grants may be at a check: a withdrawal takes effect within this delay. */
const REFRESH_MS = 250;

export class SendPolicy {
  private readonly authz: Authorizer;
  private refreshedAt = 0;

  constructor(db: Db, private readonly domain: string) {
    this.authz = new Authorizer(new ConsentStore(db));
  }

  /** Null when the row may leave now; otherwise why not, in words for the dead letter. */
  mayLeave(row: Pick<OutboxRow, 'kind' | 'sender' | 'destination' | 'series'>, now: number): string | null {
    if (row.kind !== 'push') return null;
    if (now - this.refreshedAt >= REFRESH_MS) {
      this.authz.refresh();
      this.refreshedAt = now;
    }
    const at = row.sender.lastIndexOf(`@${this.domain}`);
    const app = at > 0 ? row.sender.slice(0, at) : row.sender;
    for (const series of row.series.split('\n')) {
      if (!series) continue;
      const d = this.authz.authorize({ app, requester: row.destination, series, at: now, processing: 'subscribe' });
      if (!d.allowed) return d.reason;
    }
    return null;
  }
}
