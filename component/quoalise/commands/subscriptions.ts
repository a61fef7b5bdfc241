/**
 * `subscribe` / `unsubscribe`: a subscription is a consumer of kind 'subscription' (component/transfer/
 * consumers.ts) from the app to the requester's bare JID; the extract and send jobs push the records
 * written after it. Both are idempotent: subscribing twice keeps the first subscription (and its
 * position), unsubscribing without a subscription is still a success.
 */
import type { Authorizer } from '../../authz/authorizer.js';
import { ConsumerError, type ConsumerStore } from '../../transfer/consumers.js';
import { StanzaError } from '../../xmpp/stanza-error.js';
import { domainOf } from '../../xmpp/jid.js';
import { callApp, requireGrant, type QuoaliseCommand } from './command.js';
import { IDENTIFIER_FIELD, readIdentifier } from './request-fields.js';

export interface SubscriptionDeps {
  authz: Authorizer;
  consumers: ConsumerStore;
  /** Config `quoalise.max_subscriptions_per_requester`: a remote party cannot grow the consumers table at will. */
  maxPerRequester: number;
  /** Config `quoalise.max_subscriptions_per_domain`: nor can the many JIDs of one domain. */
  maxPerDomain: number;
}

export function subscribeCommand(deps: SubscriptionDeps): QuoaliseCommand {
  return {
    node: 'subscribe',
    name: 'Subscribe',
    requires: 'currentCursor',
    form: () => ({ instructions: 'Give the series to subscribe to: its new records will be sent to your bare JID as messages.', fields: [IDENTIFIER_FIELD] }),
    async run(req) {
      const series = readIdentifier(req.fields);
      requireGrant(deps.authz, req, series, 'subscribe');
      if (deps.consumers.find(req.host.jid, series, req.requester)) return null;
      checkCaps(deps, req.requester);
      // Only records written from now on are pushed: the subscription starts at the app's current end
      // (an unknown series is item-not-found, from the app).
      const cursor = await callApp<string | null>(req, 'currentCursor', { series, requester: req.requester });
      // Counted again after the wait, right before the insert (no await in between): every subscribe of
      // one burst passed the first check before any of them was stored.
      if (deps.consumers.find(req.host.jid, series, req.requester)) return null;
      checkCaps(deps, req.requester);
      try {
        deps.consumers.subscribe(req.host.jid, series, req.requester, cursor);
      } catch (err) {
        if (err instanceof ConsumerError) throw new StanzaError('bad-request', err.message);
        throw err;
      }
      return null;
    },
  };
}

/** Refuses a subscription past the requester's own cap or its domain's (a flood of JIDs of one domain). */
function checkCaps(deps: SubscriptionDeps, requester: string): void {
  const held = deps.consumers.count({ destination: requester, kind: 'subscription' });
  if (held >= deps.maxPerRequester) {
    throw new StanzaError('policy-violation', `${requester} has ${held} subscriptions on this gateway, the most it may hold: unsubscribe from some first`);
  }
  const domain = domainOf(requester);
  const ofDomain = deps.consumers.subscriptionsOfDomain(domain);
  if (ofDomain >= deps.maxPerDomain) {
    throw new StanzaError('policy-violation', `the requesters of ${domain} hold ${ofDomain} subscriptions on this gateway, the most they may hold together: unsubscribe from some first`);
  }
}

/**
 * Needs no grant on the series itself (only the grant on the app every command needs): ending one's own
 * subscription must stay possible after the grant that allowed it is gone.
 */
export function unsubscribeCommand(deps: SubscriptionDeps): QuoaliseCommand {
  return {
    node: 'unsubscribe',
    name: 'Unsubscribe',
    requires: 'currentCursor',
    form: () => ({ instructions: 'Give the series whose new records you no longer want.', fields: [IDENTIFIER_FIELD] }),
    async run(req) {
      const series = (req.access.series = readIdentifier(req.fields));
      const mine = deps.consumers.find(req.host.jid, series, req.requester);
      // The last one going: an adapter subscribed upstream for it (the `quoalise` adapter) stops there
      // too — asked first, so that if it fails the subscription is still there to be ended again.
      const last = mine?.kind === 'subscription' && !deps.consumers.hasOther(req.host.jid, series, mine.id);
      if (last && req.host.capabilities.has('unsubscribed')) await callApp(req, 'unsubscribed', { series });
      deps.consumers.unsubscribe(req.host.jid, series, req.requester);
      return null;
    },
  };
}
