/**
 * A consent record, shaped on ISO/IEC TS 27560 (consent record information structure) and the W3C Data
 * Privacy Vocabulary: who the data are about (subject), who holds them (the app, controller), who may
 * read them (recipient), which series, why (purpose, with an optional DPV purpose term), on what legal
 * basis, which processing, for how long, after which notice — and the history of events that made the
 * record what it is now. See schema/006_consent.sql.
 */

/** The state of a record is named after the event that put it there. */
export const CONSENT_STATES = ['requested', 'given', 'refused', 'renewed', 'withdrawn', 'expired', 'invalidated'] as const;
export type ConsentState = (typeof CONSENT_STATES)[number];
export type ConsentEventType = ConsentState;

/** GDPR Art. 6(1) bases fedgate records, with their DPV terms. */
export const LEGAL_BASES = {
  consent: 'dpv:Consent',
  contract: 'dpv:Contract',
  'legal-obligation': 'dpv:LegalObligation',
  'public-task': 'dpv:PublicInterest',
  'legitimate-interest': 'dpv:LegitimateInterest',
} as const;
export type LegalBasis = keyof typeof LEGAL_BASES;

/** What the recipient may do with the series: read their history (get_history, list_series), or subscribe to them. */
export const PROCESSINGS = ['read', 'subscribe'] as const;
export type Processing = (typeof PROCESSINGS)[number];

/** Who acted, in which capacity: the role of an event's actor. */
export type Role = 'requester' | 'subject' | 'owner' | 'operator' | 'rule' | 'gateway';

export interface ConsentRecord {
  id: number;
  /** The app (its name): the controller. */
  app: string;
  /** The data subject the series are about; null when they are about no identified person (the app's owners decide). */
  subject: string | null;
  /** Bare JID, `*@domain` or `*`. */
  recipient: string;
  series: string;
  purpose: string;
  purposeTerm: string | null;
  legalBasis: LegalBasis;
  processing: Processing[];
  notice: string;
  origin: 'grant' | 'request';
  requestedBy: string | null;
  createdAt: number;
  state: ConsentState;
  stateAt: number;
  notBefore: number | null;
  notAfter: number | null;
  /** A renewal asked and not decided yet: the validity asked for. */
  renewalUntil: number | null;
  /** How long the recipient may keep what it receives, from the transfer (ISO 8601 period); null: no limit of its own. */
  retention: string | null;
  rev: number;
}

/** What the authorization check needs of a record (all it holds in memory, for 100,000 records). */
export type AuthorizationRecord = Pick<ConsentRecord, 'id' | 'app' | 'recipient' | 'series' | 'purpose' | 'origin' | 'state' | 'stateAt' | 'notBefore' | 'notAfter' | 'processing' | 'retention'>;

export interface ConsentEvent {
  id: number;
  consentId: number;
  type: ConsentEventType;
  at: number;
  actor: string;
  role: Role;
  evidence: Record<string, unknown>;
  details: EventDetails;
}

/** What an event sets on the record, and why. */
export interface EventDetails {
  /** given / renewed: the validity decided; requested (renewal): the validity asked for. */
  until?: number | null;
  /** given: a narrower series than asked. */
  series?: string;
  renewal?: boolean;
  /** given: the legal basis, when the decider (a rule) sets another than the request's. */
  legalBasis?: LegalBasis;
  /** given / renewed: how long the recipient may keep what it receives (ISO 8601 period), when the decider sets it. */
  retention?: string;
  reason?: string;
}

/** Records that allow reading now, if inside their window. */
export function isLive(state: ConsentState): boolean {
  return state === 'given' || state === 'renewed';
}

/** Records an event can still change (not refused, withdrawn, expired or invalidated). */
export function isOpen(state: ConsentState): boolean {
  return state === 'requested' || isLive(state);
}

/** A request, or a renewal, waiting for someone to decide. */
export function awaitsDecision(r: Pick<ConsentRecord, 'state' | 'renewalUntil'>): boolean {
  return r.state === 'requested' || (isLive(r.state) && r.renewalUntil !== null);
}

export function processingText(p: readonly Processing[]): string {
  return PROCESSINGS.filter((x) => p.includes(x)).join(' ');
}

export function parseProcessing(s: string): Processing[] {
  return PROCESSINGS.filter((p) => s.split(/[\s,]+/).includes(p));
}

/** The stored processing column as a shared, frozen array (records loaded by the thousand share three). */
const STORED: Record<string, readonly Processing[]> = { read: Object.freeze(['read']), subscribe: Object.freeze(['subscribe']), 'read subscribe': Object.freeze(['read', 'subscribe']) } as const;
export function storedProcessing(s: string): Processing[] {
  return (STORED[s] ?? parseProcessing(s)) as Processing[];
}

/** A DPV term in its compact form, e.g. dpv:ServiceProvision (the namespace is https://w3id.org/dpv#). */
export const DPV_TERM = /^dpv:[A-Z][A-Za-z0-9]{1,80}$/;
