/**
 * Messages between the main thread (which owns the XMPP socket) and the send worker (which owns the
 * outbox and the lanes). Both directions are batched arrays, one postMessage per event-loop turn.
 */
import type { ProbeAnswer } from './lane.js';
import type { ConfirmationReceipt } from '../trace/sender.js';

export type ToSendWorker =
  | { t: 'link'; online: boolean }
  /** Confirmations received (`<acks/>` or XEP-0184 `<received/>`): who sent them, which of our rows. */
  | { t: 'confirmed'; from: string; ids: number[]; receipt?: ConfirmationReceipt }
  /** An error bounce of one of our messages. */
  | { t: 'bounced'; from: string; id: number; condition: string; text: string }
  | { t: 'probed'; destination: string; answer: ProbeAnswer }
  | { t: 'flow'; paused: boolean }
  | { t: 'wake'; destinations: string[] }
  /** Consent ended: move these queued rows aside (dead letters) unless already on their way. */
  | { t: 'drop'; ids: number[]; reason: string }
  /** Consent records changed (the change feed): pushes are checked against the current ones. */
  | { t: 'consents' };

export type FromSendWorker =
  /** Data messages built clean by dataMessage (stanzas.ts): written without another scan. */
  | { t: 'send'; items: Array<{ id: number; xml: string }> }
  | { t: 'probe'; destination: string }
  | { t: 'dead'; id: number; destination: string; reason: string }
  /** Confirmed by their destination (the lane judged the confirmation), or no bounce in the window. */
  | { t: 'delivered'; destination: string; ids: number[]; latenciesMs: number[] };

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
  /** The transparency log and signed receipts (config `trace`): the key that signs proofs of origin; null when off. */
  trace: { keyFile: string; origin: string } | null;
}

/** Writers of outbox rows (any thread) announce them here; the send worker listens. */
export const OUTBOX_CHANNEL = 'fedgate:outbox';
