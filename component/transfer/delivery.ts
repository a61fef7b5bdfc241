/**
 * The main thread's side of the send job: starts the send worker, writes what it hands over to the
 * XMPP link, and brings back what the network says — receipts, bounces, peer capabilities, link
 * state, socket back-pressure. The worker owns the outbox; this class owns nothing durable.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { RemoteStanzaError, readError } from '../xmpp/stanza-error.js';
import { Backoff } from '../timing/backoff.js';
import { rowIdOf } from './outbox.js';
import type { Link } from '../xmpp/link.js';
import type { WorkerPool } from '../workers/pool.js';
import type { Logger } from '../log/logger.js';
import type { FromSendWorker, SendWorkerData, ToSendWorker } from '../jobs/send-protocol.js';
import { DIST_ROOT } from '../paths.js';

const WORKER = 'send';
/** Past this many bytes queued in the socket, the send worker pauses until it drains. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export interface DeliveryEvents {
  /** The peer confirmed these outbox rows (receipts or acks arrived): the end of a delivery as seen on the wire. */
  confirmed: [ids: number[]];
  dead: [id: number, destination: string, reason: string];
}

export class Delivery extends EventEmitter<DeliveryEvents> {
  private queue: ToSendWorker[] = [];
  private stopping = false;
  private paused = false;
  private readonly restart = new Backoff({ initialMs: 200, maxMs: 30_000 });

  constructor(
    private readonly link: Link,
    private readonly pool: WorkerPool,
    private readonly instance: string,
    private readonly workerData: SendWorkerData,
    private readonly log: Logger,
  ) {
    super();
    pool.on('message', (name, message) => {
      if (name === WORKER && Array.isArray(message)) for (const m of message as FromSendWorker[]) this.onWorker(m);
    });
    pool.on('exit', (name) => {
      if (name !== WORKER || this.stopping) return;
      const delay = this.restart.next();
      log.error({ retryInMs: delay }, 'send worker exited, restarting');
      setTimeout(() => this.start().catch((err: unknown) => log.error({ err: (err as Error).message }, 'send worker restart failed')), delay).unref();
    });
    link.on('online', () => this.post({ t: 'link', online: true }));
    link.on('offline', () => this.post({ t: 'link', online: false }));
    link.on('drain', () => {
      if (this.paused) {
        this.paused = false;
        this.post({ t: 'flow', paused: false });
      }
    });
  }

  async start(): Promise<void> {
    await this.pool.start(WORKER, join(DIST_ROOT, 'component/jobs/send-worker.js'), this.workerData);
    if (this.link.isOnline) this.post({ t: 'link', online: true });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.pool.stop(WORKER);
  }

  /** Rows were added to the outbox by this thread: send them now. */
  wake(destinations: string[]): void {
    this.post({ t: 'wake', destinations });
  }

  /** A consent ended: these queued rows must not leave (those already on their way are past stopping). */
  drop(ids: number[], reason: string): void {
    if (ids.length) this.post({ t: 'drop', ids, reason });
  }

  /**
   * A confirmation of our messages: a XEP-0184 `<received/>`, or fedgate's `<acks/>` confirming many
   * at once. Returns true if it confirmed any of ours.
   */
  onConfirmation(el: Element): boolean {
    const ids: number[] = [];
    const received = el.getChild('received', NS.receipts);
    if (received) ids.push(rowIdOf(this.instance, received.attrs.id) ?? 0);
    for (const ack of el.getChild('acks', NS.fedgateDelivery)?.getChildren('ack') ?? []) ids.push(rowIdOf(this.instance, ack.attrs.id) ?? 0);
    const ours = ids.filter((id) => id > 0);
    if (ours.length === 0) return false;
    this.post({ t: 'acked', ids: ours });
    this.emit('confirmed', ours);
    return true;
  }

  /** An error bounce of one of our messages? Returns true if it was ours. */
  onBounce(el: Element): boolean {
    const id = rowIdOf(this.instance, el.attrs.id);
    if (id === null) return false;
    const e = readError(el);
    this.post({ t: 'bounced', id, condition: e.condition, text: e.text });
    return true;
  }

  private onWorker(m: FromSendWorker): void {
    switch (m.t) {
      case 'send':
        for (const item of m.items) this.link.send(item.xml);
        if (!this.paused && (this.link.congested || this.link.bufferedBytes > HIGH_WATER_BYTES)) {
          this.paused = true;
          this.post({ t: 'flow', paused: true });
        }
        break;
      case 'probe':
        void this.probe(m.destination);
        break;
      case 'dead':
        this.log.warn({ outboxId: m.id, destination: m.destination, reason: m.reason }, 'message moved to dead letters');
        this.emit('dead', m.id, m.destination, m.reason);
        break;
    }
  }

  /** How does the destination confirm delivery? Its disco#info says whether it sends receipts. */
  private async probe(destination: string): Promise<void> {
    let mode: 'acks' | 'receipt' | 'window' | 'unreachable';
    let detail = '';
    try {
      const r = await this.link.request(xml('iq', { type: 'get', to: destination }, xml('query', { xmlns: NS.discoInfo })), 10_000);
      const features = r.getChild('query', NS.discoInfo)?.getChildren('feature').map((f) => f.attrs.var) ?? [];
      mode = features.includes(NS.fedgateDelivery) ? 'acks' : features.includes(NS.receipts) ? 'receipt' : 'window';
    } catch (err) {
      detail = (err as Error).message;
      // No route to the destination's server or component, or no link: hold the lane. Any other error
      // — or silence, from an entity that does not answer disco at all — means the destination exists
      // but will not describe itself: send, and count on bounces.
      const unreachable =
        err instanceof RemoteStanzaError ? ['remote-server-not-found', 'remote-server-timeout'].includes(err.condition) : !this.link.isOnline;
      mode = unreachable ? 'unreachable' : 'window';
    }
    this.post({ t: 'probed', destination, mode, detail });
  }

  private post(m: ToSendWorker): void {
    this.queue.push(m);
    if (this.queue.length === 1) {
      queueMicrotask(() => {
        const batch = this.queue;
        this.queue = [];
        this.pool.post(WORKER, batch);
      });
    }
  }
}
