/**
 * The life of a consent record, as a pure function: the current state and one event in, the next
 * state out — or a TransitionError saying why that event cannot happen now. The store applies it in
 * the same transaction that appends the event, so the record's state is always its history's result.
 *
 *   requested ──given──▶ given ──renewed──▶ renewed ─┐
 *       │                  │ ▲ (renewal asked: an event 'requested', the record stays in force)
 *    refused          withdrawn · expired · invalidated   (ends; so do requested → expired/withdrawn/invalidated)
 */
import { isLive, isOpen, type ConsentEventType, type ConsentState, type EventDetails, type LegalBasis } from './model.js';

export class TransitionError extends Error {
  override name = 'TransitionError';
}

/** The part of a record that events change. */
export interface RecordState {
  state: ConsentState;
  stateAt: number;
  series: string;
  notBefore: number | null;
  notAfter: number | null;
  renewalUntil: number | null;
  legalBasis: LegalBasis;
  retention: string | null;
}

const VERB: Record<ConsentEventType, string> = {
  requested: 'renewed (asked again)',
  given: 'approved',
  refused: 'refused',
  renewed: 'renewed',
  withdrawn: 'withdrawn',
  expired: 'expired',
  invalidated: 'invalidated',
};

export function applyEvent(id: number, r: RecordState, type: ConsentEventType, at: number, d: EventDetails): RecordState {
  const no = (why: string): never => {
    throw new TransitionError(`consent ${id} is ${r.state}${why}: it cannot be ${VERB[type]}`);
  };
  if (!isOpen(r.state)) no('');
  const moved = (state: ConsentState, patch: Partial<RecordState> = {}): RecordState => ({ ...r, state, stateAt: at, renewalUntil: null, ...patch });
  switch (type) {
    case 'requested':
      // A renewal: the record stays in force while the deciders decide.
      if (!isLive(r.state)) no('');
      if (r.renewalUntil !== null) no(' with a renewal already waiting for a decision');
      return { ...r, renewalUntil: d.until ?? null };
    case 'given':
      if (r.state !== 'requested') no(' already');
      return moved('given', { series: d.series ?? r.series, notAfter: d.until === undefined ? r.notAfter : d.until, legalBasis: d.legalBasis ?? r.legalBasis, retention: d.retention ?? r.retention });
    case 'renewed':
      if (!isLive(r.state)) no('');
      return moved('renewed', { notAfter: d.until === undefined ? r.renewalUntil ?? r.notAfter : d.until, retention: d.retention ?? r.retention });
    case 'refused':
      if (r.state === 'requested') return moved('refused');
      // Refusing a renewal leaves the consent as it was, until its end.
      if (r.renewalUntil === null) no(' and no renewal is waiting for a decision');
      return { ...r, renewalUntil: null };
    case 'expired':
      if (r.notAfter === null || at < r.notAfter) no(' until its end, not expired');
      return moved('expired');
    case 'withdrawn':
    case 'invalidated':
      return moved(type);
  }
}
