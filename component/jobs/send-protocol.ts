/**
 * Messages between the main thread (which owns the XMPP socket) and the send worker (which owns the
 * outbox). Both directions are batched arrays, one postMessage per event-loop turn.
 */

export type ToSendWorker =
  | { t: 'link'; online: boolean }
  | { t: 'acked'; ids: number[] }
  | { t: 'bounced'; id: number; condition: string; text: string }
  | { t: 'probed'; destination: string; mode: PeerMode | 'unreachable'; detail: string }
  | { t: 'flow'; paused: boolean }
  | { t: 'wake'; destinations: string[] }
  /** Consent ended: move these queued rows aside (dead letters) unless already on their way. */
  | { t: 'drop'; ids: number[]; reason: string };

export type FromSendWorker =
  | { t: 'send'; items: Array<{ id: number; xml: string }> }
  | { t: 'probe'; destination: string }
  | { t: 'dead'; id: number; destination: string; reason: string };

/**
 * How a destination confirms delivery: fedgate's batched acks (a fedgate peer), XEP-0184 receipts,
 * or silence during the bounce window (a peer that confirms nothing).
 */
export type PeerMode = 'acks' | 'receipt' | 'window';

export interface SendWorkerData {
  dbPath: string;
  synchronous: 'NORMAL' | 'FULL';
  logLevel: string;
  domain: string;
  delivery: {
    bounceWindowMs: number;
    receiptTimeoutMs: number;
    window: number;
    retryInitialMs: number;
    retryMaxMs: number;
    maxAttempts: number;
    pushPerSecond: number;
  };
}

/** Writers of outbox rows (any thread) announce them here; the send worker listens. */
export const OUTBOX_CHANNEL = 'fedgate:outbox';

/** Stanza error conditions that no retry will fix: the message goes to the dead letters at once. */
export const PERMANENT_CONDITIONS = new Set([
  'bad-request',
  'forbidden',
  'item-not-found',
  'jid-malformed',
  'not-acceptable',
  'not-allowed',
  'not-authorized',
  'feature-not-implemented',
  'policy-violation',
  'registration-required',
]);
