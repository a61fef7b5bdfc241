/**
 * One application inside an app worker: its adapter, its receive job and its extract jobs, and the
 * calls the main thread makes to it. A worker thread hosts one of these (isolation `own`) or many (the
 * shared pool); what they share — fedgate's database connection, the outbox channel, the grants — is
 * the thread's `WorkerShared`.
 */
import type { BroadcastChannel } from 'node:worker_threads';
import { adapterModule } from '../../adapters/index.js';
import { AdapterError, type Adapter } from '../../adapters/contract.js';
import { adapterOptions } from '../registry/apps.js';
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { ConsentStore } from '../consent/consent-store.js';
import type { RetentionPolicies } from '../gdpr/retention-policies.js';
import type { Inbox } from '../transfer/inbox.js';
import type { Outbox } from '../delivery/outbox.js';
import type { ConsumerStore } from '../transfer/consumers.js';
import type { Entitlements } from '../transfer/entitlements.js';
import type { AppOp, AppWorkerData, FromAppWorker, HostedAppSpec, WorkerError } from './protocol.js';
import { appOps, type AppOps } from './app-ops.js';
import { ReceiveJob } from '../jobs/receive.js';
import type { OneAtATime } from './one-at-a-time.js';
import { ExtractJobs } from '../jobs/extract.js';
import { answerQueue } from './answer-queue.js';

/** What the apps of one worker thread share. */
export interface WorkerShared {
  data: AppWorkerData;
  /** fedgate's own database: one connection (and one set of statements) for all the thread's apps. */
  db: Db;
  inbox: Inbox;
  outbox: Outbox;
  consumers: ConsumerStore;
  /** Who may send data to the thread's apps (checked again before applying). */
  entitlements: Entitlements;
  log: Logger;
  /** Announces new outbox rows to the send worker. */
  outboxChannel: BroadcastChannel;
  /** The thread's apps apply their inbox rows one batch at a time (workers/one-at-a-time.ts). */
  applying: OneAtATime;
  /** Consent records (and grants), read for each subscriber at each check. */
  consents: ConsentStore;
  /** The apps' retention policies, carried by their get_history answers. */
  policies: RetentionPolicies;
  post(m: FromAppWorker): void;
  /** Posts at once, after what `post` holds: for what must reach the main thread even if this thread dies next. */
  postNow(m: FromAppWorker): void;
  /** Sends an IQ for one of the thread's apps through the main thread (adapter contract: `sendIq`). */
  sendIq(app: string, to: string, type: 'get' | 'set', payload: string, timeoutMs: number): Promise<string>;
}

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof AdapterError) {
    return { source: 'adapter', kind: err.kind, message: err.message, ...(err.upstream ? { upstream: err.upstream } : {}) };
  }
  return { source: 'crash', message: err instanceof Error ? err.message : String(err) };
}

export class HostedApp {
  private constructor(
    readonly name: string,
    private readonly adapter: Adapter,
    private readonly ops: AppOps,
    readonly receive: ReceiveJob,
    readonly extract: ExtractJobs,
    private readonly shared: WorkerShared,
  ) {}

  /** Creates the adapter (its options checked again) and starts the jobs: pending inbox rows, consumers to catch up. */
  static async open(spec: HostedAppSpec, shared: WorkerShared): Promise<HostedApp> {
    const module = adapterModule(spec.kind);
    const log = shared.log.child({ app: spec.name });
    let extract: ExtractJobs | null = null;
    const options = adapterOptions(module, spec.options);
    const adapter = await module.create({
      app: { name: spec.name, jid: spec.jid },
      options,
      log,
      databasePath: shared.data.dbPath,
      dataChanged: (series) => extract?.dataChanged(series === undefined ? null : [...series]),
      sendIq: (to, type, payload, timeoutMs) => shared.sendIq(spec.name, to, type, payload, timeoutMs),
    });
    const { db, data } = shared;
    const receive = new ReceiveJob({
      inbox: shared.inbox,
      entitlements: shared.entitlements,
      app: spec.name,
      appJid: spec.jid,
      adapter,
      log,
      timeoutMs: data.callTimeoutMs,
      retry: data.retry,
      onSettled: (done, dead) => shared.post({ t: 'settled', app: spec.name, done, dead }),
      onApplying: (id) => shared.postNow({ t: 'applying', app: spec.name, id }),
      senders: new Set(module.senders?.(options) ?? []),
      serial: shared.applying,
    });
    extract = new ExtractJobs({
      db,
      appJid: spec.jid,
      adapter,
      log,
      timeoutMs: data.callTimeoutMs,
      consumers: shared.consumers,
      outbox: shared.outbox,
      outboxChannel: shared.outboxChannel,
      consents: shared.consents,
    });
    // On a shared thread an out-of-memory ends the neighbours too: the app's answers are made one at a
    // time. An app of its own thread keeps its calls concurrent (its system's I/O is waited in parallel).
    const answers = data.shared ? answerQueue(data.callTimeoutMs) : undefined;
    const app = new HostedApp(spec.name, adapter, appOps(adapter, (series) => shared.policies.forApp(spec.name)(series), data.trace, answers), receive, extract, shared);
    receive.wake();
    extract.start();
    return app;
  }

  /** What the app can do: the worker operations it offers, plus `deliver` and `extract` when the adapter has them. */
  get capabilities(): string[] {
    return Object.keys(this.ops).concat(this.adapter.deliver ? ['deliver'] : [], this.adapter.extract ? ['extract'] : []);
  }

  call(id: number, op: AppOp, args: unknown): void {
    const fn = this.ops[op];
    if (!fn) {
      this.shared.post({ t: 'reply', id, ok: false, error: { source: 'unavailable', message: `this application has no ${op}` } });
      return;
    }
    let result: Promise<unknown>;
    try {
      result = fn(args as never);
    } catch (err) {
      this.shared.post({ t: 'reply', id, ok: false, error: toWorkerError(err) });
      return;
    }
    result.then(
      (value) => this.shared.post({ t: 'reply', id, ok: true, value }),
      (err: unknown) => this.shared.post({ t: 'reply', id, ok: false, error: toWorkerError(err) }),
    );
  }

  /** Stops the jobs (waiting for the current runs) and closes the adapter. */
  async close(): Promise<void> {
    try {
      await Promise.all([this.receive.stop(), this.extract.stop()]);
      await this.adapter.close?.();
    } catch (err) {
      this.shared.log.warn({ app: this.name, err: (err as Error).message }, 'adapter close failed');
    }
  }
}
