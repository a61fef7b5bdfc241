/**
 * Plans the expiry job (component/jobs/consent-expiry.ts) at the exact end of the next consent to
 * end, so that expiry happens at `until` and not only on the next request. bree runs it in a fresh
 * worker at that date. A date further than a day away is planned as a day away (timers overflow after
 * 24.8 days): the job then finds nothing due and the next plan comes closer. A job that held on a wall
 * clock the purge does not trust (gdpr/purge-clock.ts) is planned again an hour later.
 */
import { join } from 'node:path';
import type { WorkerPool } from '../workers/pool.js';
import type { Logger } from '../log/logger.js';
import { DIST_ROOT } from '../paths.js';
import type { ConsentExpiryData } from '../jobs/consent-expiry.js';

export const EXPIRY_JOB = 'consent-expiry';
const MAX_AHEAD_MS = 86_400_000;
const HELD_RETRY_MS = 3_600_000;

export class ConsentExpiry {
  private planned: number | null = null;
  /** The job held on an untrusted clock: not run again before this (ms since the epoch). */
  private notBefore = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly pool: WorkerPool, private readonly data: ConsentExpiryData, private readonly log: Logger) {}

  /** The earliest end of an open record is `end` (null: none): run the job then. */
  plan(end: number | null, now = Date.now()): void {
    const at = end === null ? null : Math.max(Math.min(end, now + MAX_AHEAD_MS), this.notBefore);
    if (at === this.planned) return;
    this.planned = at;
    this.chain = this.chain
      .then(() => (at === null ? this.pool.stop(EXPIRY_JOB) : this.pool.runAt(EXPIRY_JOB, join(DIST_ROOT, 'component/jobs/consent-expiry.js'), at, this.data)))
      .catch((err: unknown) => {
        this.planned = null;
        this.log.error({ err: (err as Error).message }, 'planning the consent expiry job failed');
      });
  }

  /** The job ran: the next plan starts afresh (even for the same date, if nothing was due yet). */
  ran(): void {
    this.planned = null;
  }

  /** The job held (a wall clock the purge does not trust): tried again in an hour, not at once in a loop. */
  held(now = Date.now()): void {
    this.notBefore = now + HELD_RETRY_MS;
    this.log.error('consent expiry held: the wall clock moved on by more than a day since the last purge (see the purge held); access past each consent\'s end is still refused');
  }

  async stop(): Promise<void> {
    await this.chain;
    await this.pool.stop(EXPIRY_JOB);
  }
}
