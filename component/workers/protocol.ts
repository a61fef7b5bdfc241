/**
 * Messages between the main thread and an app worker. Both sides batch: one postMessage carries an
 * array of these, so a burst of stanzas costs one structured clone, not one per stanza.
 */

/** Operations the main thread asks of an app's adapter. */
export type AppOp = 'chat' | 'history' | 'catalogue';

export type ToAppWorker =
  | { t: 'call'; id: number; op: AppOp; args: unknown }
  | { t: 'ping'; id: number }
  | { t: 'inbox' };

export type FromAppWorker =
  | { t: 'ready'; capabilities: string[] }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: WorkerError }
  | { t: 'pong'; id: number }
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
}
