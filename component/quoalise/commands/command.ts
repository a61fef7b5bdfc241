/**
 * What a Quoalise command is to the XEP-0050 layer (ad-hoc.ts): a node, the worker operation the app
 * must offer for the command to exist, its form, and what it does once the form is submitted.
 */
import type { AppHost } from '../../apps/app-host.js';
import type { Authorizer, AuthorizationDecision } from '../../authz/authorizer.js';
import type { Processing } from '../../consent/model.js';
import { toStanzaError } from '../../apps/call-errors.js';
import { AppCallError } from '../../apps/app-host.js';
import { StanzaError } from '../../xmpp/stanza-error.js';
import { domainOf } from '../../xmpp/jid.js';
import type { AppOp } from '../../workers/protocol.js';
import type { FieldSpec } from './form.js';
import type { Element } from '../../xmpp/xml.js';

/**
 * What a command learnt while deciding, for the access entry of the transparency log (ad-hoc.ts writes
 * it, whatever the outcome): the series and range asked for, the grant that allowed it, and what was
 * answered — the number of records and the SHA-256 of the answer.
 */
export interface AccessRecord {
  series?: string;
  start?: number;
  end?: number;
  /** The consent record (or grant) that allowed it. */
  grant?: number;
  /** The data subject who read their own series (allowed without a record). */
  subject?: string;
  records?: number;
  digest?: string;
}

export interface CommandRequest {
  host: AppHost;
  /** The requester's bare JID (quoalise.md: authorize on the bare JID). */
  requester: string;
  fields: ReadonlyMap<string, string>;
  /** The `<command>` element itself, for input other than the form (list_series's XEP-0059 page). */
  command: Element;
  /** Arrival of the request, ms since the epoch. */
  at: number;
  /** Filled in by the command as it decides (see AccessRecord). */
  access: AccessRecord;
  /** The app's system reports the authorization for `series` withdrawn upstream (see QuoaliseCommandsOptions.onConsentGone). */
  consentGone?(series: string, reason: string): void;
}

export interface QuoaliseCommand {
  /** The XEP-0050 node, e.g. `get_history`. */
  node: string;
  /** Human name: the disco item name and the result form's title. */
  name: string;
  /** The app worker operation this command needs: an app without it does not offer the command. */
  requires: AppOp;
  /** The two-step flow's form: instructions and fields (defaults computed at `at`); null for a command without input. */
  form(at: number): { instructions: string; fields: FieldSpec[] } | null;
  /** Serves a submitted form; resolves with the serialized payload placed after the result form, if any. Throws StanzaError. */
  run(req: CommandRequest): Promise<string | null>;
}

/** Throws `not-authorized` (cancel) unless a consent in force lets the requester read (or subscribe to) the series now; returns the decision. */
export function requireGrant(authz: Authorizer, req: CommandRequest, series: string, processing: Processing = 'read'): AuthorizationDecision {
  req.access.series = series;
  const decision = authz.authorize({ app: req.host.app.name, requester: req.requester, series, at: req.at, processing });
  if (!decision.allowed) throw new StanzaError('not-authorized', decision.reason);
  req.access.grant = decision.grantId;
  req.access.subject = decision.subject;
  return decision;
}

/** Calls the app's worker; its failures become the stanza errors of call-errors.ts. */
export async function callApp<T>(req: CommandRequest, op: AppOp, args: unknown): Promise<T> {
  try {
    return (await req.host.call(op, args, { party: domainOf(req.requester) })) as T;
  } catch (err) {
    if (err instanceof AppCallError && err.error.kind === 'consent-invalidated' && req.access.series) req.consentGone?.(req.access.series, err.message);
    throw toStanzaError(err, req.host.app.name);
  }
}
