/**
 * The main thread's side of the send job: starts the send worker, writes the stanzas it hands over to
 * the XMPP link, and brings back what the network says — confirmations and bounces (with who sent
 * them: the lane judges them), answers to disco#info probes, link state, socket back-pressure. The
 * worker owns the outbox and the lanes; this class owns nothing durable.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { CleanXml, xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { RemoteStanzaError, readError } from '../xmpp/stanza-error.js';
import { Backoff } from '../timing/backoff.js';
import { rowIdOf } from './outbox.js';
import { ACKS_PER_STANZA } from './acks.js';
import { domainOf } from '../xmpp/jid.js';
import { readAcks } from '../trace/wire.js';
import { ReceiptKeys } from './receipt-keys.js';
import type { PeerKeys } from '../trace/peer-keys.js';
import type { ConfirmationReceipt } from '../trace/sender.js';
import type { ProbeAnswer } from './lane.js';
import type { Link } from '../xmpp/link.js';
import type { WorkerPool } from '../workers/pool.js';
import type { Logger } from '../log/logger.js';
import type { FromSendWorker, SendWorkerData, ToSendWorker } from './protocol.js';
import { DIST_ROOT } from '../paths.js';

/** A bounce's text kept, at most: the rest of what a remote party writes there is dropped. */
const MAX_BOUNCE_TEXT = 300;

const WORKER = 'send';
/** Past this many bytes queued in the socket, the send worker pauses until it drains. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** How long a destination has to answer a disco#info probe. */
const PROBE_TIMEOUT_MS = 10_000;

export interface SendBridgeEvents {
  /**
   * Outbox rows whose delivery is confirmed by their destination: the end of a delivery, with the time
   * from each one's (last) sending to its confirmation.
   */
  delivered: [destination: string, ids: number[], latenciesMs: number[]];
  dead: [id: number, destination: string, reason: string];
}

/** Acknowledgements read from one stanza, at most: twice what a receiver puts in one. */
const MAX_ACKS_PER_STANZA = 2 * ACKS_PER_STANZA;
/** Warnings about oversized acknowledgement stanzas, at most one a minute (each such stanza is megabytes). */
const OVERSIZED_WARN_MS = 60_000;

export class SendBridge extends EventEmitter<SendBridgeEvents> {
  private queue: ToSendWorker[] = [];
  private stopping = false;
  private paused = false;
  private readonly restart = new Backoff({ initialMs: 200, maxMs: 30_000 });
  /** Oversized acknowledgement stanzas ignored since the last warning, and when that was. */
  private oversized = 0;
  private oversizedWarnedAt = -Infinity;
  /** Which key each confirmation is judged with (null with the log off: none is). */
  private readonly receiptKeys: ReceiptKeys | null;

  constructor(
    private readonly link: Link,
    private readonly pool: WorkerPool,
    private readonly instance: string,
    private readonly workerData: SendWorkerData,
    private readonly log: Logger,
    /** Receivers' published keys (null with the log off): a receiver that signs receipts must sign them. */
    private readonly peerKeys: PeerKeys | null = null,
  ) {
    super();
    this.receiptKeys = peerKeys ? new ReceiptKeys(peerKeys, log) : null;
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
    await this.pool.start(WORKER, join(DIST_ROOT, 'component/delivery/send-worker.js'), this.workerData);
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

  /** Consent records changed (the change feed): queued pushes are checked against the current ones. */
  consentsChanged(): void {
    this.post({ t: 'consents' });
  }

  /**
   * A confirmation of messages: XEP-0184 `<received/>`, or fedgate's `<acks/>` confirming many at
   * once. Returns true if the stanza is one (ours or not: it carries nothing else for an app). Whether
   * its sender may confirm those messages is for their lanes to judge.
   */
  onConfirmation(el: Element): boolean {
    const received = el.getChild('received', NS.receipts);
    const acks = el.getChild('acks', NS.fedgateDelivery);
    if (!received && !acks) return false;
    // More acknowledgements than any window holds (delivery.window is at most 10,000): not a receiver's,
    // and not worth checking one by one.
    if (acks && acks.getChildren('ack').length > MAX_ACKS_PER_STANZA) {
      this.oversized++;
      if (Date.now() - this.oversizedWarnedAt >= OVERSIZED_WARN_MS) {
        const count = this.oversized;
        this.log.warn({ from: el.attrs.from, count }, `ignored acknowledgement stanzas of more than ${MAX_ACKS_PER_STANZA} acks (${count} since the last warning)`);
        this.oversized = 0;
        this.oversizedWarnedAt = Date.now();
      }
      return true;
    }
    const ids: number[] = [];
    if (received) ids.push(rowIdOf(this.instance, received.attrs.id) ?? 0);
    for (const ack of acks?.getChildren('ack') ?? []) ids.push(rowIdOf(this.instance, ack.attrs.id) ?? 0);
    const ours = ids.filter((id) => id > 0);
    if (ours.length === 0) return true;
    const from = el.attrs.from ?? '';
    const read = acks ? readAcks(acks) : { items: [{ id: String(received!.attrs.id ?? '') }], note: null };
    // The send worker checks the receipts (off this thread) against the keys the receiver's domain publishes.
    const to = el.attrs.to ?? '';
    const forward = (key: Awaited<ReturnType<PeerKeys['fetch']>>) => {
      const receipt: ConfirmationReceipt = { from, to, ...read, keys: key?.signs.includes('receipts') ? key.keys : null };
      this.post({ t: 'confirmed', from, ids: ours, receipt });
    };
    if (this.receiptKeys) this.receiptKeys.withKey(from, read, forward);
    else forward(null);
    return true;
  }

  /** An error bounce of one of our messages? Returns true if it was ours. */
  onBounce(el: Element): boolean {
    const id = rowIdOf(this.instance, el.attrs.id);
    if (id === null) return false;
    const e = readError(el);
    // The text is the remote party's: kept short, it goes into the lane's last error, the dead letter and the status page.
    this.post({ t: 'bounced', from: el.attrs.from ?? '', id, condition: e.condition.slice(0, 64), text: e.text.slice(0, MAX_BOUNCE_TEXT) });
    return true;
  }

  private onWorker(m: FromSendWorker): void {
    switch (m.t) {
      case 'send':
        for (const item of m.items) this.link.send(new CleanXml(item.xml));
        if (!this.paused && (this.link.congested || this.link.bufferedBytes > HIGH_WATER_BYTES)) {
          this.paused = true;
          this.post({ t: 'flow', paused: true });
        }
        break;
      case 'probe':
        void this.probe(m.destination);
        break;
      case 'delivered':
        this.emit('delivered', m.destination, m.ids, m.latenciesMs);
        break;
      case 'dead':
        this.log.warn({ outboxId: m.id, destination: m.destination, reason: m.reason }, 'message moved to dead letters');
        this.emit('dead', m.id, m.destination, m.reason);
        break;
    }
  }

  /** How does the destination confirm delivery? Asks its disco#info and classifies the answer. */
  private async probe(destination: string): Promise<void> {
    // Its domain's published key, looked up meanwhile: the first confirmation usually finds it known.
    void this.peerKeys?.fetch(domainOf(destination));
    let answer: ProbeAnswer;
    try {
      const r = await this.link.request(xml('iq', { type: 'get', to: destination }, xml('query', { xmlns: NS.discoInfo })), PROBE_TIMEOUT_MS);
      answer = { kind: 'features', features: r.getChild('query', NS.discoInfo)?.getChildren('feature').map((f) => f.attrs.var ?? '') ?? [] };
    } catch (err) {
      answer = classifyProbeError(err);
    }
    this.post({ t: 'probed', destination, answer });
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

/**
 * An error answer from the destination itself says something about it; no route, a server that
 * cannot reach it, a `wait` error, silence or our own link being down say nothing.
 */
export function classifyProbeError(err: unknown): ProbeAnswer {
  if (err instanceof RemoteStanzaError) {
    if (err.type === 'wait' || err.condition === 'remote-server-not-found' || err.condition === 'remote-server-timeout') {
      return { kind: 'unreachable', detail: err.message };
    }
    return { kind: 'refused', condition: err.condition };
  }
  return { kind: 'unreachable', detail: (err as Error).message };
}
