/**
 * The main thread's side of the metrics listener: starts the observe worker, and answers its questions
 * with the in-memory metrics and the live state of the link and the apps. An address that cannot be
 * listened on stops the start-up with a message naming `metrics.listen`.
 */
import { join } from 'node:path';
import { DIST_ROOT } from '../paths.js';
import type { WorkerPool } from '../workers/pool.js';
import type { GatewayMetrics } from './metrics.js';
import type { FromObserveWorker, LiveState, ObserveWorkerData } from './observe-protocol.js';

const WORKER = 'observe';

export class MetricsListenError extends Error {
  override name = 'MetricsListenError';
}

export class ObserveService {
  constructor(
    private readonly pool: WorkerPool,
    private readonly metrics: GatewayMetrics,
    private readonly live: () => LiveState,
  ) {}

  /** Resolves once the listener accepts connections; rejects with MetricsListenError if it cannot. */
  async start(data: ObserveWorkerData): Promise<void> {
    let settle: { resolve(): void; reject(e: Error): void } | null = null;
    const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.pool.on('message', (name, m) => {
      if (name !== WORKER || typeof m !== 'object' || m === null) return;
      const msg = m as FromObserveWorker;
      if (msg.t === 'listening') settle?.resolve();
      else if (msg.t === 'listen-failed') {
        void this.pool.stop(WORKER);
        settle?.reject(new MetricsListenError(`metrics.listen ${msg.message}`));
      } else if (msg.t === 'ask') {
        void this.metrics.text().then((metrics) => this.pool.post(WORKER, { t: 'answer', id: msg.id, metrics, live: this.live() }));
      }
    });
    await this.pool.supervise(WORKER, join(DIST_ROOT, 'component/observe/observe-worker.js'), data);
    await started;
    settle = null;
  }

  stop(): Promise<void> {
    return this.pool.stop(WORKER);
  }
}
