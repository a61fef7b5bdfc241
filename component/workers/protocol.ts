/**
 * Messages between the main thread and an app worker — a thread hosting one application (isolation
 * `own`) or many (the shared pool). Both sides batch: one postMessage carries an array of these, so a
 * burst of stanzas for any of the thread's apps costs one structured clone, not one per stanza.
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

/** An application as the worker needs it to create its adapter. */
export interface HostedAppSpec {
  name: string;
  kind: string;
  /** As stored in the registry (core options such as `isolation` included). */
  options: Record<string, unknown>;
  jid: string;
}

export type ToAppWorker =
  /** Create the app's adapter and start its jobs; answered by `ready` or `fatal`. */
  | { t: 'open'; app: HostedAppSpec }
  /** Stop the app's jobs and close its adapter; answered by `closed`. */
  | { t: 'close'; app: string }
  | { t: 'call'; app: string; id: number; op: AppOp; args: unknown }
  | { t: 'ping'; id: number }
  /** New rows in the app's inbox: run its receive job. */
  | { t: 'inbox'; app: string }
  /** Records of these series (null: any) were written by another process: run the app's on-change consumers. */
  | { t: 'data'; app: string; series: string[] | null }
  /** These consumers whose source or destination is the app were added, changed or removed: read them again. */
  | { t: 'consumers'; app: string; ids: number[] }
  /** The answer to an IQ an adapter of the thread sent (`iq` below): the answer stanza as XML, or why there is none. */
  | { t: 'iqAnswer'; id: number; ok: true; xml: string }
  | { t: 'iqAnswer'; id: number; ok: false; message: string };

export type FromAppWorker =
  | { t: 'ready'; app: string; capabilities: string[] }
  | { t: 'fatal'; app: string; message: string }
  | { t: 'closed'; app: string }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: WorkerError }
  | { t: 'pong'; id: number }
  /** The app's receive job marked `done` inbox rows applied (in its own transaction) and dead-lettered `dead` others. */
  | { t: 'settled'; app: string; done: number; dead: number }
  /**
   * The app's receive job hands the adapter a batch of inbox rows starting at `id`: posted at once, not
   * batched, so that the main thread knows it even if the thread then dies (component/transfer/poison.ts).
   */
  | { t: 'applying'; app: string; id: number }
  /** The app's adapter sends an IQ from the app's JID (adapter contract: `sendIq`); `id` is the thread's. */
  | { t: 'iq'; app: string; id: number; to: string; type: 'get' | 'set'; payload: string; timeoutMs: number };

/** An error as it crosses the thread boundary (class identity does not survive structured clone). */
export interface WorkerError {
  /** 'adapter' for AdapterError (see adapters/contract.ts), 'crash' for anything else thrown. */
  source: 'adapter' | 'crash' | 'timeout' | 'unavailable';
  kind?: string;
  message: string;
  upstream?: { issuer: string; code: string };
}

/** What the main thread gives an app worker at start (workerData): what its apps share. */
export interface AppWorkerData {
  /** The thread's name, for its logs (`app:<name>` or `shared:<n>`). */
  name: string;
  /** A thread of the shared pool (many apps), not an app's own: its apps build their answers one at a time. */
  shared: boolean;
  /** The gateway's domain (its apps are `<name>@<domain>`). */
  domain: string;
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
