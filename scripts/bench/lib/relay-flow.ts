/**
 * The relay flow of the benchmarks: single-record messages from `src@a.localhost` (a gateway running in
 * the benchmark's process) to `sink@b.localhost`, each one's latency measured from queueing to the
 * confirmation coming back, at a steady pace. bench:relay and bench:purge use it.
 */
import { encodeQuoalise } from '../../../component/quoalise/payload.js';
import { canonicalPayloadDigest } from '../../../component/trace/digest.js';
import type { Gateway } from '../../../component/main.js';
import type { NewOutboxMessage } from '../../../component/delivery/outbox.js';

const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

export function message(i: number, from = 'a.localhost', to = 'b.localhost'): NewOutboxMessage {
  // Queued as an extract job would: its series named, its canonical digest known.
  const payload = encodeQuoalise([{ meta: {}, records: [{ name: SERIES, time: 1704063600 + i, value: i, unit: 'W' }] }]);
  return { sender: `src@${from}`, destination: `sink@${to}`, payload, records: 1, series: [SERIES], digest: canonicalPayloadDigest(payload) };
}

/** Queues messages and resolves each one's latency (queued → confirmation received back at A) as confirmations come. */
export class Tracker {
  private sent = new Map<number, bigint>();
  readonly latencies: number[] = [];
  private waiters: Array<{ n: number; resolve(): void }> = [];
  constructor(private readonly gw: Gateway) {
    gw.delivery.on('delivered', (_destination, ids) => {
      const now = process.hrtime.bigint();
      for (const id of ids) {
        const t = this.sent.get(id);
        if (t === undefined) continue;
        this.sent.delete(id);
        this.latencies.push(Number(now - t) / 1e6);
      }
      for (const w of this.waiters.filter((w) => this.latencies.length >= w.n)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  }
  queue(msgs: NewOutboxMessage[]): void {
    const t = process.hrtime.bigint();
    for (const id of this.gw.queue(msgs)) this.sent.set(id, t);
  }
  until(n: number): Promise<void> {
    if (this.latencies.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** Calls `tick(k)` every millisecond or so with the number of messages due to keep `perSecond`, for `seconds`. */
export async function paced(perSecond: number, seconds: number, tick: (k: number) => void): Promise<void> {
  const t0 = Date.now();
  let done = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSecond) - done;
    if (due > 0) {
      tick(due);
      done += due;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

