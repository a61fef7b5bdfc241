/**
 * Consent notifications: a `<message>` with a body any client shows, and the same facts in a
 * `<consent xmlns="urn:fedgate:consent:0">` element that programs read:
 *
 *   <consent xmlns="urn:fedgate:consent:0" id="7" event="given" state="given" app="meters@energy.example.org"
 *            recipient="bob@example.net" series="urn:dev:prm:30001442769830_*" processing="read subscribe"
 *            legal-basis="consent" legal-basis-term="dpv:Consent" until="2025-06-01T00:00:00Z" by="subject" at="…">
 *     <purpose term="dpv:ServiceProvision">energy coaching</purpose>
 *     <notice>https://coach.example.net/privacy</notice>
 *     <reason>…</reason>
 *   </consent>
 *
 * Attributes absent when unknown; times ISO 8601 UTC; `renewal="true"` on a renewal asked or refused.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { LEGAL_BASES, processingText, type ConsentEvent, type ConsentRecord } from './model.js';

const iso = (ms: number) => formatIsoUtc(Math.floor(ms / 1000));

export function consentElement(rec: ConsentRecord, event: ConsentEvent, appJid: string): Element {
  return xml(
    'consent',
    {
      xmlns: NS.fedgateConsent,
      id: String(rec.id),
      event: event.type,
      state: rec.state,
      app: appJid,
      recipient: rec.recipient,
      series: rec.series,
      processing: processingText(rec.processing),
      'legal-basis': rec.legalBasis,
      'legal-basis-term': LEGAL_BASES[rec.legalBasis],
      subject: rec.subject ?? undefined,
      'requested-by': rec.requestedBy ?? undefined,
      from: rec.notBefore === null ? undefined : iso(rec.notBefore),
      until: rec.notAfter === null ? undefined : iso(rec.notAfter),
      'renewal-until': rec.renewalUntil === null ? undefined : iso(rec.renewalUntil),
      renewal: event.details.renewal ? 'true' : undefined,
      by: event.role,
      at: iso(event.at),
    },
    xml('purpose', { term: rec.purposeTerm ?? undefined }, rec.purpose),
    rec.notice ? xml('notice', {}, rec.notice) : null,
    event.details.reason ? xml('reason', {}, event.details.reason) : null,
  );
}

/** Who decided, in words. */
function byWhom(event: ConsentEvent, app: string): string {
  switch (event.role) {
    case 'subject':
      return 'by the person the data are about';
    case 'owner':
      return `by the owner of ${app}`;
    case 'rule':
      return `automatically (${event.actor} of ${app})`;
    case 'operator':
      return `by the operator of ${app}`;
    case 'requester':
      return 'at your request';
    case 'gateway':
      return '';
  }
}

function what(rec: ConsentRecord, app: string): string {
  const verbs = rec.processing.map((p) => (p === 'read' ? 'read' : 'subscribe to')).join(' and ');
  return `${verbs} ${rec.series} from ${app}`;
}

/** The text for whoever decides, about a request (or a renewal) that waits for them. */
export function deciderBody(rec: ConsentRecord, event: ConsentEvent, app: string): string {
  const asker = rec.requestedBy ?? rec.recipient;
  const until = event.details.renewal ? rec.renewalUntil : rec.notAfter;
  const head = event.details.renewal
    ? `${asker} asks to renew consent ${rec.id} (${what(rec, app)}) until ${until === null ? 'no end' : iso(until)}.`
    : `${asker} asks to ${what(rec, app)} until ${until === null ? 'no end' : iso(until)}, for: ${rec.purpose}.`;
  const notice = rec.notice ? ` Their notice: ${rec.notice}` : '';
  return `${head}${notice} Request ${rec.id}: approve or refuse it with the "decide" command of ${app} (all requests: "pending_requests").`;
}

/** The text for the requester, about a decision, a withdrawal or an end. */
export function requesterBody(rec: ConsentRecord, event: ConsentEvent, app: string, stopped: { series: string[]; dropped: boolean }): string {
  const by = byWhom(event, app);
  const reason = event.details.reason ? `: ${event.details.reason}` : '';
  const until = rec.notAfter === null ? 'with no end' : `until ${iso(rec.notAfter)}`;
  let text: string;
  switch (event.type) {
    case 'requested':
      text = `Your request ${rec.id} to ${what(rec, app)} waits for a decision.`;
      break;
    case 'given':
      text = `Your request ${rec.id} was approved ${by}: you may ${what(rec, app)} ${until}.`;
      break;
    case 'refused':
      text = event.details.renewal
        ? `Your renewal of consent ${rec.id} was refused ${by}${reason}; the consent stays in force ${until}.`
        : `Your request ${rec.id} to ${what(rec, app)} was refused ${by}${reason}.`;
      break;
    case 'renewed':
      text = `Consent ${rec.id} was renewed ${by}: you may ${what(rec, app)} ${until}.`;
      break;
    case 'withdrawn':
      text = `Consent ${rec.id} (${what(rec, app)}) was withdrawn ${by}${reason}.`;
      break;
    case 'expired':
      text = `Consent ${rec.id} (${what(rec, app)}) expired on ${iso(rec.notAfter ?? event.at)}.`;
      break;
    case 'invalidated':
      text = `Consent ${rec.id} (${what(rec, app)}) is no longer valid${reason}.`;
      break;
  }
  if (stopped.series.length) text += ` Your subscriptions to ${stopped.series.join(', ')} were stopped.`;
  if (stopped.dropped) text += ' Data queued for you will not be sent.';
  return text;
}

export function notification(from: string, to: string, id: string, body: string, element: Element): Element {
  return xml('message', { from, to, id }, xml('body', {}, body), element);
}
