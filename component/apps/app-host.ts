/**
 * The main thread's handle on one application: its capabilities, its calls, and what it is told
 * (new inbox rows, changed consumers and data), all through the worker thread that hosts it
 * (component/apps/worker-handle.ts). Until the app is ready in its thread, calls and notices wait here.
 */
import type { AppOp, FromAppWorker, HostedAppSpec, ToAppWorker } from '../workers/protocol.js';
import type { AppRecord } from '../registry/apps.js';
import type { Logger } from '../log/logger.js';
import type { AdapterObserver } from '../observe/metrics.js';
import { Backoff } from '../timing/backoff.js';
import { AppCallError, type WorkerHandle } from './worker-handle.js';
import { adapterModule } from '../../adapters/index.js';
import { adapterOptions } from '../registry/apps.js';
import { ANSWER_OPS, AnswerLanes } from './answer-lanes.js';

export { AppCallError };

export type IqRequest = Extract<FromAppWorker, { t: 'iq' }>;

const INBOX_COALESCE_MS = 10;

/**
 * Calls held while the app starts, at most; past that a call is refused at once. Anyone may chat with
 * an app: while its adapter cannot start (its system down, a secret missing), a flood of chats must
 * not pile up in the XMPP thread's memory until the app comes back.
 */
export const MAX_HELD_CALLS = 256;
/** …of which one party (a requester's or a chatter's domain) may hold at most this many: one sender cannot take them all. */
export const MAX_HELD_CALLS_PER_PARTY = 64;
/**
 * Calls in progress for one party on one app, ready or not. A hung or slow adapter keeps each call
 * until its time-out (30 s by default): without this, one domain's chats at thousands a second would
 * pile up in the XMPP thread's memory. Far above what an honest client keeps in flight (bench:route: 200).
 */
export const MAX_CALLS_PER_PARTY = 1000;

/** Who a call is for: its party (counted against the limits above) and its own time-out. */
export interface CallOptions {
  /** The domain of the remote JID the call answers; absent for the gateway's own calls. */
  party?: string;
  timeoutMs?: number;
}

export interface AppHostOptions {
  domain: string;
  callTimeoutMs: number;
  /** The app's receive job applied `done` inbox rows and dead-lettered `dead` others. */
  onSettled?(app: string, done: number, dead: number): void;
  /** The app's thread ended while its adapter was applying inbox rows from `id` on (component/transfer/poison.ts). */
  onLostWhileApplying?(app: string, id: number): void;
  /** The app's adapter sends an IQ (component/apps/app-iqs.ts); its answer comes back through `answerIq`. */
  onIq?(host: AppHost, request: IqRequest): void;
  /** Told the duration and outcome of every call (metrics). */
  observer?: AdapterObserver;
  log: Logger;
}

/** What the app's adapter module declares about it, from its configuration. */
function declared(app: AppRecord): { acceptsData: boolean; senders: string[]; localRecords: boolean } {
  try {
    const m = adapterModule(app.kind);
    const options = adapterOptions(m, app.options);
    // `read`: it keeps its records where fedgate reads them (the store's file), its answers built from them.
    return { acceptsData: m.acceptsData?.(options) ?? false, senders: m.senders?.(options) ?? [], localRecords: m.read !== undefined };
  } catch {
    return { acceptsData: false, senders: [], localRecords: false }; // bad options or an unknown kind: the worker will say why, and accepts nothing
  }
}

export class AppHost {
  readonly jid: string;
  readonly spec: HostedAppSpec;
  capabilities = new Set<string>();
  private state: 'opening' | 'ready' | 'stopping' | 'stopped' = 'opening';
  /** Messages waiting for the app to be ready: held calls (by id) and notices. */
  private held: Array<{ id: number | null; party?: string; m: ToAppWorker }> = [];
  /** Calls in progress per party (MAX_CALLS_PER_PARTY); a party leaves the map with its last call. */
  private readonly inProgress = new Map<string, number>();
  /**
   * Answer-building calls per party, for an app answering from the records it keeps: a few at a time,
   * the others wait their turn (answer-lanes.ts). An app answering from a remote system (http) keeps
   * them concurrent: its calls mostly wait for that system, in parallel.
   */
  private readonly answering: AnswerLanes | null;
  private readonly reopenBackoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
  private inboxTimer: NodeJS.Timeout | null = null;

  /**
   * Whether the app accepts data, from its configuration (the adapter module's declaration), known
   * before its worker is ready: the intake accepts data into the inbox while the worker starts, and
   * disco advertises the delivery protocol at once (senders must never see a fedgate app as a peer
   * that confirms nothing).
   */
  readonly acceptsData: boolean;
  /** Bare JIDs whose data this app accepts without a consumer (adapter contract: `senders`). */
  readonly senders: ReadonlySet<string>;

  constructor(readonly app: AppRecord, readonly worker: WorkerHandle, private readonly opts: AppHostOptions) {
    this.jid = `${app.name}@${opts.domain}`;
    this.spec = { name: app.name, kind: app.kind, options: app.options, jid: this.jid };
    const d = declared(app);
    this.acceptsData = d.acceptsData;
    this.senders = new Set(d.senders);
    this.answering = d.localRecords ? new AnswerLanes() : null;
  }

  /** Hands the thread the answer to an IQ the app's adapter sent (it waits for it, ready or not). */
  answerIq(answer: Extract<ToAppWorker, { t: 'iqAnswer' }>): void {
    this.worker.post(answer);
  }

  /** Why the adapter last failed to start, while it has not started since (for `fedgate status`). */
  startError: string | null = null;

  /** For `fedgate status` and the status page. */
  get status(): 'starting' | 'ready' | 'stopping' | 'stopped' {
    return this.state === 'opening' ? 'starting' : this.state;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** Calls the adapter; rejects with AppCallError (adapter error, crash, timeout, missing capability, a party over its limits). */
  call(op: AppOp, args: unknown, opts: CallOptions = {}): Promise<unknown> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.reject(new AppCallError({ source: 'unavailable', message: 'application is being removed' }));
    }
    const { party } = opts;
    const ready = this.state === 'ready';
    const refusal = this.overLimit(party, ready);
    if (refusal) return Promise.reject(new AppCallError({ source: 'adapter', kind: 'rate-limited', message: refusal }));
    const lanes = this.answering;
    const lane = lanes && ready && party !== undefined && ANSWER_OPS.has(op) ? party : undefined;
    let started = lane === undefined || lanes!.enter(lane);
    const { id, result: called } = this.worker.call(this.app.name, op, args, opts.timeoutMs ?? this.opts.callTimeoutMs, ready && started);
    if (!ready) this.held.push({ id, party, m: { t: 'call', app: this.app.name, id, op, args } });
    let result = called;
    if (lane !== undefined) {
      if (!started) lanes!.wait(lane, () => (started = this.worker.release(id, { t: 'call', app: this.app.name, id, op, args })));
      result = result.finally(() => {
        if (started) lanes!.done(lane);
      });
    }
    if (party !== undefined) {
      this.inProgress.set(party, (this.inProgress.get(party) ?? 0) + 1);
      const done = () => {
        const n = (this.inProgress.get(party) ?? 1) - 1;
        if (n > 0) this.inProgress.set(party, n);
        else this.inProgress.delete(party);
      };
      result = result.finally(done);
    }
    const observer = this.opts.observer;
    if (!observer) return result;
    const t0 = performance.now();
    return result.then(
      (v) => {
        observer.adapterCall(this.app.name, op, 'ok', performance.now() - t0);
        return v;
      },
      (e: AppCallError) => {
        observer.adapterCall(this.app.name, op, e.error.source, performance.now() - t0);
        throw e;
      },
    );
  }

  /**
   * Tells the app its inbox has new rows. Coalesced over a few milliseconds: under a steady stream
   * the receive job then wakes a hundred times a second with batches, not once per message (the
   * sender's confirmation does not wait for it: that was sent at the inbox commit).
   */
  notifyInbox(): void {
    if (this.inboxTimer) return;
    this.inboxTimer = setTimeout(() => {
      this.inboxTimer = null;
      this.send({ t: 'inbox', app: this.app.name });
    }, INBOX_COALESCE_MS);
  }

  /** Records of these series (null: any) were written by another process. */
  dataChanged(series: string[] | null): void {
    this.send({ t: 'data', app: this.app.name, series });
  }

  /** These consumers, whose source or destination is this app, changed. */
  consumersChanged(ids: number[]): void {
    this.send({ t: 'consumers', app: this.app.name, ids });
  }

  onReady(capabilities: string[]): void {
    if (this.state !== 'opening') return;
    this.capabilities = new Set(capabilities);
    this.state = 'ready';
    this.startError = null;
    this.reopenBackoff.reset();
    const held = this.held;
    this.held = [];
    for (const h of held) {
      if (h.id === null) this.worker.post(h.m);
      else this.worker.release(h.id, h.m);
    }
  }

  /** The adapter could not be created: try again later (the options may be fixed, the system may come back). */
  onFatal(message: string): void {
    this.startError = message.slice(0, 300);
    const delay = this.reopenBackoff.next();
    this.opts.log.error({ app: this.app.name, err: message, retryInMs: delay }, 'adapter failed to start');
    setTimeout(() => {
      if (this.state === 'opening' && this.worker.hosts.get(this.app.name) === this) this.worker.post({ t: 'open', app: this.spec });
    }, delay).unref();
  }

  onSettled(done: number, dead: number): void {
    this.opts.onSettled?.(this.app.name, done, dead);
  }

  /** The app's adapter sends an IQ: the gateway sends it, and the answer comes back through `answerIq`. */
  onIq(request: IqRequest): void {
    if (this.opts.onIq) this.opts.onIq(this, request);
    else this.answerIq({ t: 'iqAnswer', id: request.id, ok: false, message: 'this gateway sends no IQs for adapters' });
  }

  /** The thread hosting the app ended while its adapter was applying inbox rows from `id` on. */
  onLostWhileApplying(id: number): void {
    this.opts.onLostWhileApplying?.(this.app.name, id);
  }

  /** The thread hosting the app died; it is opened again when the thread restarts. */
  onWorkerLost(): void {
    if (this.state === 'ready') this.state = 'opening';
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    if (this.inboxTimer) clearTimeout(this.inboxTimer);
    const calls = this.held.flatMap((h) => (h.id === null ? [] : [h.id]));
    this.held = [];
    this.worker.abandon(calls, { source: 'unavailable', message: 'application is being removed' });
    await this.worker.detach(this);
    this.state = 'stopped';
  }

  private send(m: ToAppWorker): void {
    if (this.state === 'ready') return this.worker.post(m);
    if (this.state !== 'opening') return;
    // Notices held while the app starts are merged, one per kind: each says "look again", and remote
    // parties cause them without limit (an inbox notice with every data message, a consumers one with
    // every unsubscribe). The worker reads the current state when it gets them.
    const same = this.held.find((h) => h.id === null && h.m.t === m.t);
    if (!same) this.held.push({ id: null, m });
    else if (same.m.t === 'data' && m.t === 'data') same.m = { ...same.m, series: same.m.series && m.series ? [...new Set([...same.m.series, ...m.series])] : null };
    else if (same.m.t === 'consumers' && m.t === 'consumers') same.m = { ...same.m, ids: [...new Set([...same.m.ids, ...m.ids])] };
  }

  /** Why one more call for `party` is refused now, or null. */
  private overLimit(party: string | undefined, ready: boolean): string | null {
    const name = this.app.name;
    if (party !== undefined && (this.inProgress.get(party) ?? 0) >= MAX_CALLS_PER_PARTY) {
      return `application ${name} already has ${MAX_CALLS_PER_PARTY} requests from ${party} in progress; retry shortly`;
    }
    if (ready) return null;
    // Calls that timed out meanwhile leave first.
    if (this.heldCalls() >= MAX_HELD_CALLS || (party !== undefined && this.heldCalls(party) >= MAX_HELD_CALLS_PER_PARTY)) {
      this.held = this.held.filter((h) => h.id === null || this.worker.isPending(h.id));
    }
    if (this.heldCalls() >= MAX_HELD_CALLS) return `application ${name} is starting and already holds ${MAX_HELD_CALLS} requests; retry shortly`;
    if (party !== undefined && this.heldCalls(party) >= MAX_HELD_CALLS_PER_PARTY) {
      return `application ${name} is starting and already holds ${MAX_HELD_CALLS_PER_PARTY} requests from ${party}; retry shortly`;
    }
    return null;
  }

  /** Calls held (of `party`, or of everyone). */
  private heldCalls(party?: string): number {
    let n = 0;
    for (const h of this.held) if (h.id !== null && (party === undefined || h.party === party)) n++;
    return n;
  }
}

