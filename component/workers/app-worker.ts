/**
 * Entry point of an app worker: the thread that hosts one application's adapter. The main thread
 * never runs adapter code; here a slow or stuck adapter can only delay its own application.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createWorkerLogger } from '../log/logger.js';
import { adapterModule } from '../../adapters/index.js';
import { AdapterError, type Adapter } from '../../adapters/contract.js';
import { openDatabase } from '../store/database.js';
import type { AppOp, AppWorkerData, FromAppWorker, ToAppWorker, WorkerError } from './protocol.js';
import { appOps } from './app-ops.js';
import { ReceiveJob } from '../jobs/receive.js';
import { ExtractJobs } from '../jobs/extract.js';
import { configureTrace } from '../trace/trace.js';
import { RetentionPolicies } from '../gdpr/retention-policies.js';

// bree wraps our data under workerData.job.worker.workerData and also spreads it at the top level.
const data = workerData as AppWorkerData;
const port = parentPort!;
const log = createWorkerLogger(data.logLevel, `app:${data.app.name}`);

let outbox: FromAppWorker[] = [];
function post(msg: FromAppWorker): void {
  outbox.push(msg);
  if (outbox.length === 1) queueMicrotask(flush);
}
function flush(): void {
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
}

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof AdapterError) {
    return { source: 'adapter', kind: err.kind, message: err.message, ...(err.upstream ? { upstream: err.upstream } : {}) };
  }
  return { source: 'crash', message: err instanceof Error ? err.message : String(err) };
}

/** IQs the adapter sent, waiting for the main thread's answer. */
const iqs = new Map<number, { resolve(xml: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
let nextIq = 1;

function sendIq(to: string, type: 'get' | 'set', payload: string, timeoutMs: number): Promise<string> {
  const id = nextIq++;
  return new Promise((resolve, reject) => {
    // The main thread answers within timeoutMs too; this one is for a main thread that never does.
    const timer = setTimeout(() => {
      iqs.delete(id);
      reject(new Error(`no answer from ${to} within ${timeoutMs} ms`));
    }, timeoutMs + 1000);
    iqs.set(id, { resolve, reject, timer });
    post({ t: 'iq', id, to, type, payload, timeoutMs });
  });
}

function onIqAnswer(m: Extract<ToAppWorker, { t: 'iqAnswer' }>): void {
  const p = iqs.get(m.id);
  if (!p) return;
  iqs.delete(m.id);
  clearTimeout(p.timer);
  if (m.ok) p.resolve(m.xml);
  else p.reject(new Error(m.message));
}

async function main(): Promise<void> {
  const module = adapterModule(data.app.kind);
  const db = openDatabase(data.dbPath, { migrate: false, synchronous: data.synchronous, noCheckpoints: true });
  configureTrace(db, { enabled: data.trace });
  let extract: ExtractJobs | null = null;
  const options = module.parseOptions(data.app.options);
  const adapter: Adapter = await module.create({
    app: { name: data.app.name, jid: data.app.jid },
    options,
    log,
    databasePath: data.dbPath,
    dataChanged: () => extract?.dataChanged(),
    sendIq,
  });
  const receive = new ReceiveJob({
    db,
    app: data.app.name,
    appJid: data.app.jid,
    adapter,
    log,
    timeoutMs: data.callTimeoutMs,
    retry: data.retry,
    onSettled: (done, dead) => post({ t: 'settled', done, dead }),
    senders: new Set(module.senders?.(options) ?? []),
  });
  extract = new ExtractJobs({ db, appJid: data.app.jid, adapter, log, timeoutMs: data.callTimeoutMs });

  const policies = new RetentionPolicies(db);
  const ops = appOps(adapter, (series) => policies.forApp(data.app.name)(series));

  async function call(id: number, op: AppOp, args: unknown): Promise<void> {
    const fn = ops[op];
    if (!fn) {
      post({ t: 'reply', id, ok: false, error: { source: 'unavailable', message: `this application has no ${op}` } });
      return;
    }
    try {
      post({ t: 'reply', id, ok: true, value: await fn(args as never) });
    } catch (err) {
      post({ t: 'reply', id, ok: false, error: toWorkerError(err) });
    }
  }

  let closing = false;
  port.on('message', (msg: ToAppWorker[] | 'cancel') => {
    if (msg === 'cancel') {
      // bree's stop(): close the adapter, then end the thread ourselves (exit code 0, not a kill).
      if (closing) return;
      closing = true;
      void Promise.all([receive.stop(), extract.stop()])
        .then(() => adapter.close?.())
        .catch((err) => log.warn({ err: (err as Error).message }, 'adapter close failed'))
        .finally(() => {
          db.close();
          process.exit(0);
        });
      return;
    }
    for (const m of msg) {
      if (m.t === 'call') void call(m.id, m.op, m.args);
      else if (m.t === 'ping') post({ t: 'pong', id: m.id });
      else if (m.t === 'inbox') receive.wake();
      else if (m.t === 'iqAnswer') onIqAnswer(m);
    }
  });

  // Work left from before a restart: pending inbox rows, consumers to catch up.
  receive.wake();
  extract.start();
  post({ t: 'ready', capabilities: Object.keys(ops).concat(adapter.deliver ? ['deliver'] : [], adapter.extract ? ['extract'] : []) });
}

main().catch((err: unknown) => {
  port.postMessage([{ t: 'fatal', message: err instanceof Error ? err.message : String(err) } satisfies FromAppWorker]);
  process.exit(1);
});
