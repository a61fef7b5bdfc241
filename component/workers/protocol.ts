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
  | 'currentCursor';

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
  | { t: 'consumers'; app: string; ids: number[] };

export type FromAppWorker =
  | { t: 'ready'; app: string; capabilities: string[] }
  | { t: 'fatal'; app: string; message: string }
  | { t: 'closed'; app: string }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: WorkerError }
  | { t: 'pong'; id: number }
  /** The app's receive job marked `done` inbox rows applied (in its own transaction) and dead-lettered `dead` others. */
  | { t: 'settled'; app: string; done: number; dead: number };

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
  /** The gateway's domain (its apps are `<name>@<domain>`). */
  domain: string;
  dbPath: string;
  synchronous: 'NORMAL' | 'FULL';
  logLevel: string;
  /** Time limit of one adapter call made by the jobs, ms. */
  callTimeoutMs: number;
  /** Retries of the receive job: first delay, cap, attempts before dead letter. */
  retry: { initialMs: number; maxMs: number; maxAttempts: number };
}
