/**
 * Entry point of an app worker: a thread hosting the adapters of one application (isolation `own`) or
 * of many (a worker of the shared pool). The main thread never runs adapter code; here a slow adapter
 * delays only the apps of its own thread, and a stuck one is restarted by the main thread.
 */
import { oneAtATime } from './one-at-a-time.js';
import { parentPort, workerData, BroadcastChannel } from 'node:worker_threads';
import { createWorkerLogger } from '../log/logger.js';
import { openDatabase, setBusyTimeout } from '../store/database.js';
import { ConsentStore } from '../consent/consent-store.js';
import { OUTBOX_CHANNEL } from '../delivery/protocol.js';
import { Inbox } from '../transfer/inbox.js';
import { Outbox } from '../delivery/outbox.js';
import { ConsumerStore } from '../transfer/consumers.js';
import { Entitlements } from '../transfer/entitlements.js';
import type { AppWorkerData, FromAppWorker, HostedAppSpec, ToAppWorker } from './protocol.js';
import { HostedApp, type WorkerShared } from './hosted-app.js';
import { configureTrace } from '../trace/trace.js';
import { RetentionPolicies } from '../gdpr/retention-policies.js';
import { configureStoreConnections } from '../../adapters/store/store.js';

// bree wraps our data under workerData.job.worker.workerData and also spreads it at the top level.
const data = workerData as AppWorkerData;
const port = parentPort!;

let outbox: FromAppWorker[] = [];
function post(msg: FromAppWorker): void {
  outbox.push(msg);
  // After this turn's callbacks: the replies to every batch the main thread posted meanwhile go back together.
  if (outbox.length === 1) setImmediate(flush);
}
/** Posts `msg` now, after whatever `post` holds (order kept). */
function postNow(msg: FromAppWorker): void {
  flush();
  port.postMessage([msg]);
}

function flush(): void {
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
}

const db = openDatabase(data.dbPath, { migrate: false, synchronous: data.synchronous, noCheckpoints: true });
// A wait for a lock ends (SQLITE_BUSY, retried) before the thread may be ended — by its calls' time limit
// or the stop's grace (5 s) — never inside it: half the time limit, at most 2 s (store/database.ts, setBusyTimeout).
const busyMs = Math.max(100, Math.min(2000, Math.floor(data.callTimeoutMs / 2)));
setBusyTimeout(db, busyMs);
configureStoreConnections({ synchronous: data.synchronous, busyTimeoutMs: busyMs });
configureTrace(db, { enabled: data.trace });
const shared: WorkerShared = {
  data,
  db,
  inbox: new Inbox(db),
  outbox: new Outbox(db),
  consumers: new ConsumerStore(db),
  entitlements: new Entitlements(db, data.domain),
  log: createWorkerLogger(data.logLevel, data.name),
  outboxChannel: new BroadcastChannel(OUTBOX_CHANNEL),
  applying: oneAtATime(),
  consents: new ConsentStore(db),
  policies: new RetentionPolicies(db),
  post,
  postNow,
  sendIq,
};

/** IQs the thread's adapters sent, waiting for the main thread's answer (ids are the thread's). */
const iqs = new Map<number, { resolve(xml: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
let nextIq = 1;

function sendIq(app: string, to: string, type: 'get' | 'set', payload: string, timeoutMs: number): Promise<string> {
  const id = nextIq++;
  return new Promise((resolve, reject) => {
    // The main thread answers within timeoutMs too; this one is for a main thread that never does.
    const timer = setTimeout(() => {
      iqs.delete(id);
      reject(new Error(`no answer from ${to} within ${timeoutMs} ms`));
    }, timeoutMs + 1000);
    iqs.set(id, { resolve, reject, timer });
    post({ t: 'iq', app, id, to, type, payload, timeoutMs });
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

/** Apps ready to serve, by name. */
const ready = new Map<string, HostedApp>();
/** Every app's latest open or close, so that a close waits for the open before it and vice versa. */
const lifecycle = new Map<string, Promise<unknown>>();

function open(spec: HostedAppSpec): void {
  const previous = lifecycle.get(spec.name) ?? Promise.resolve();
  lifecycle.set(
    spec.name,
    previous.then(() => {
      // Asked twice (a retry after a failed start crossing a restart of the thread): open once.
      const running = ready.get(spec.name);
      if (running) return post({ t: 'ready', app: spec.name, capabilities: running.capabilities });
      return HostedApp.open(spec, shared).then(
        (app) => {
          ready.set(spec.name, app);
          post({ t: 'ready', app: spec.name, capabilities: app.capabilities });
        },
        (err: unknown) => post({ t: 'fatal', app: spec.name, message: err instanceof Error ? err.message : String(err) }),
      );
    }),
  );
}

function close(name: string): Promise<void> {
  const previous = lifecycle.get(name) ?? Promise.resolve();
  const closing = previous.then(async () => {
    const app = ready.get(name);
    ready.delete(name);
    await app?.close();
    post({ t: 'closed', app: name });
    if (lifecycle.get(name) === closing) lifecycle.delete(name);
  });
  lifecycle.set(name, closing);
  return closing;
}

let closing = false;
port.on('message', (msg: ToAppWorker[] | 'cancel') => {
  if (msg === 'cancel') {
    // bree's stop(): close every adapter, then end the thread ourselves (exit code 0, not a kill).
    if (closing) return;
    closing = true;
    void Promise.all([...new Set([...lifecycle.keys(), ...ready.keys()])].map(close)).finally(() => {
      flush();
      shared.outboxChannel.close();
      db.close();
      process.exit(0);
    });
    return;
  }
  for (const m of msg) {
    switch (m.t) {
      case 'call': {
        const app = ready.get(m.app);
        if (app) app.call(m.id, m.op, m.args);
        else post({ t: 'reply', id: m.id, ok: false, error: { source: 'unavailable', message: `application ${m.app} is not running` } });
        break;
      }
      case 'ping':
        post({ t: 'pong', id: m.id });
        break;
      case 'inbox':
        ready.get(m.app)?.receive.wake();
        break;
      case 'data':
        ready.get(m.app)?.extract.dataChanged(m.series);
        break;
      case 'consumers':
        // The thread's entitlements first: the app may be their destination rather than their source.
        shared.entitlements.update(m.ids);
        ready.get(m.app)?.extract.update(m.ids);
        break;
      case 'iqAnswer':
        onIqAnswer(m);
        break;
      case 'open':
        open(m.app);
        break;
      case 'close':
        void close(m.app);
        break;
    }
  }
});
