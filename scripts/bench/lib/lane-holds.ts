/**
 * Write-lock time of lane failures with a large backlog queued behind them. fedgate holds the lane
 * (one `lanes` row) and counts the attempt on the failed row: O(1). The baseline, measured in the same
 * run on the same rows, is the previous design, which pushed back the retry time of every row behind
 * the failed one (O(backlog)); it is so slow that only a few of its failures are measured and the
 * figure is scaled to the same count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../component/store/database.js';
import { Outbox } from '../../../component/delivery/outbox.js';
import { LanesTable } from '../../../component/delivery/lanes-table.js';
import { laneRecord } from '../../../component/delivery/lane.js';
import { fmt, printTable } from './stats.js';

export interface LaneHoldFigures {
  rows: number;
  failures: number;
  /** Total time the write lock was held by the failures, ms. */
  fedgateMs: number;
  /** The previous design's total for the same number of failures, ms (scaled from `baselineMeasured`). */
  baselineMs: number;
  baselineMeasured: number;
  /** The longest single hold, ms. */
  fedgateMaxMs: number;
}

export function measureLaneHolds(rows = 1_000_000, failures = 100, baselineFailures = 3): LaneHoldFigures {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-bench-lanes-'));
  try {
    const db = openDatabase(join(dir, 'fedgate.sqlite'));
    const destination = 'sink@b.localhost';
    const payload = '<quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml"><senml bn="x" bt="1" v="1"/></sensml></data></quoalise>';
    // The same backlog twice: in fedgate's outbox, and in a table shaped as the outbox was (per-row holds).
    db.exec('CREATE TABLE old_outbox (id INTEGER PRIMARY KEY, destination TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, next_attempt_at INTEGER NOT NULL)');
    db.exec('CREATE INDEX old_outbox_lane ON old_outbox (destination, id)');
    const outbox = new Outbox(db);
    const old = db.prepare('INSERT INTO old_outbox (destination, payload, next_attempt_at) VALUES (?, ?, 0)');
    for (let done = 0; done < rows; done += 10_000) {
      outbox.enqueue(Array.from({ length: Math.min(10_000, rows - done) }, () => ({ sender: 'src@a.localhost', destination, payload, records: 1 })));
      db.transaction(() => {
        for (let k = 0; k < Math.min(10_000, rows - done); k++) old.run(destination, payload);
      })();
    }
    const first = db.prepare('SELECT min(id) FROM outbox').pluck().get() as number;
    const lanes = new LanesTable(db);
    const lane = laneRecord(destination);
    const holds: number[] = [];
    for (let i = 0; i < failures; i++) {
      // What the send job writes for one failure at the head of the lane: the row's attempt, the lane's hold.
      const t = process.hrtime.bigint();
      db.transaction(() => {
        outbox.fail(first, 'remote-server-timeout: no confirmation within 30 s');
        lanes.saveAll([{ ...lane, failedId: first, attempts: i + 1, heldUntil: Date.now() + 1000, lastError: 'remote-server-timeout' }]);
      }).immediate();
      holds.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const oldFail = db.prepare('UPDATE old_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?');
    const oldHold = db.prepare('UPDATE old_outbox SET next_attempt_at = max(next_attempt_at, ?) WHERE destination = ? AND id >= ?');
    let baseline = 0;
    for (let i = 0; i < baselineFailures; i++) {
      const t = process.hrtime.bigint();
      db.transaction(() => {
        oldFail.run('remote-server-timeout', 1);
        oldHold.run(Date.now() + 1000 + i, destination, 1);
      }).immediate();
      baseline += Number(process.hrtime.bigint() - t) / 1e6;
    }
    db.close();
    return {
      rows,
      failures,
      fedgateMs: holds.reduce((a, b) => a + b, 0),
      fedgateMaxMs: Math.max(...holds),
      baselineMs: (baseline / baselineFailures) * failures,
      baselineMeasured: baselineFailures,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printLaneHolds(f: LaneHoldFigures): void {
  printTable(
    `lane holds — write-lock time of ${f.failures} lane failures with ${f.rows.toLocaleString('en-US')} rows queued`,
    `per-row holds (${f.baselineMeasured} measured, scaled)`,
    [
      { figure: `${f.failures} failures, total`, value: f.fedgateMs, baseline: f.baselineMs, unit: 'ms', higherIsBetter: false },
      { figure: 'longest single hold', value: f.fedgateMaxMs, baseline: f.baselineMs / f.failures, unit: 'ms', higherIsBetter: false },
    ],
  );
  process.stdout.write(`\nwrite lock held ${fmt(f.fedgateMs)} ms in total for ${f.failures} failures (goal < 1000 ms)\n`);
}
