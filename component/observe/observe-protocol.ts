/** Messages between the main thread and the observe worker (observe-worker.ts). */
import type { AppState } from '../runtime-status.js';

export interface ObserveWorkerData {
  dbPath: string;
  /** `host:port` to listen on (`metrics.listen`). */
  listen: string;
  domain: string;
  /** SQLite files whose size is reported, by name. */
  files: Record<string, string>;
}

/** What only the main thread knows, fresher than the heartbeat row. */
export interface LiveState {
  link: string;
  apps: Record<string, AppState>;
}

export type FromObserveWorker = { t: 'listening' } | { t: 'listen-failed'; message: string } | { t: 'ask'; id: number };

export type ToObserveWorker = { t: 'answer'; id: number; metrics: string; live: LiveState };
