/**
 * Messages between the main thread and an app worker. Both sides batch: one postMessage carries an
 * array of these, so a burst of stanzas costs one structured clone, not one per stanza.
 */

/** Operations the main thread asks of an app's adapter. */
export type AppOp =
  | 'chat'
  // Quoalise commands: the adapter's answer already encoded in the worker (component/quoalise/commands/encoded-answers.ts).
  | 'historyXml'
  | 'catalogueXml'
  | 'currentCursor'
  // The last subscription to a series ended (adapter contract: `unsubscribed`).
  | 'unsubscribed';

export type ToAppWorker =
  | { t: 'call'; id: number; op: AppOp; args: unknown }
  | { t: 'ping'; id: number }
  /** New rows in the inbox for this app: run the receive job. */
  | { t: 'inbox' }
  /** The answer to an IQ the adapter sent (`iq` below): the answer stanza as XML, or why there is none. */
  | { t: 'iqAnswer'; id: number; ok: true; xml: string }
  | { t: 'iqAnswer'; id: number; ok: false; message: string };

export type FromAppWorker =
  | { t: 'ready'; capabilities: string[] }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: WorkerError }
  | { t: 'pong'; id: number }
  /**
   * The receive job applied these inbox rows (the main thread marks them done in its next inbox
   * transaction: it is the only writer on that hot path) and dead-lettered `dead` others.
   */
  | { t: 'settled'; done: number[]; dead: number }
  /** The adapter sends an IQ from the app's JID (adapter contract: `sendIq`). */
  | { t: 'iq'; id: number; to: string; type: 'get' | 'set'; payload: string; timeoutMs: number }
  | { t: 'fatal'; message: string };

/** An error as it crosses the thread boundary (class identity does not survive structured clone). */
export interface WorkerError {
  /** 'adapter' for AdapterError (see adapters/contract.ts), 'crash' for anything else thrown. */
  source: 'adapter' | 'crash' | 'timeout' | 'unavailable';
  kind?: string;
  message: string;
  upstream?: { issuer: string; code: string };
}

/** What the main thread gives an app worker at start (workerData). */
export interface AppWorkerData {
  app: { name: string; kind: string; options: Record<string, unknown>; jid: string };
  dbPath: string;
  synchronous: 'NORMAL' | 'FULL';
  logLevel: string;
  /** Time limit of one adapter call made by the jobs, ms. */
  callTimeoutMs: number;
  /** Whether the worker's jobs record in the transparency log (config `trace.enabled`). */
  trace: boolean;
  /** Retries of the receive job: first delay, cap, attempts before dead letter. */
  retry: { initialMs: number; maxMs: number; maxAttempts: number };
}
