/**
 * bench:relay — single-record messages from an app behind fedgate A to an app behind fedgate B,
 * committed in B's inbox and confirmed back to A (XEP-0184 receipt after the commit), against the
 * bare @xmpp/component echo round trip measured in the same run on the same ejabberd.
 *   1. throughput: N messages queued at once; A keeps `delivery.window` in flight.
 *   2. latency at a steady 1,000 msg/s: queued → confirmed at A (p50/p99), beside the echo's round trip
 *      at the same rate.
 *   3. a backlog of 1,000,000 outbox rows drained by A as a separate process: drain rate, peak RSS.
 *   4. write-lock time of 100 lane failures with 1,000,000 rows queued (lib/lane-holds.ts).
 *   npm run bench:relay [-- --count 20000 --rate-seconds 5 --backlog 1000000]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { scalar, storeScalar } from '../../test/helpers/db.js';
import { LoadClient } from './lib/load.js';
import { fmt, percentile, printTable } from './lib/stats.js';
import { DIST_ROOT } from '../../component/paths.js';
import { loadConfig } from '../../component/config/load.js';
import { createLogger } from '../../component/log/logger.js';
import { startGateway, type Gateway } from '../../component/main.js';
import { measureLaneHolds, printLaneHolds } from './lib/lane-holds.js';
import { Tracker, message, paced } from './lib/relay-flow.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    'rate-seconds': { type: 'string', default: '5' },
    rate: { type: 'string', default: '1000' },
    backlog: { type: 'string', default: '1000000' },
  },
});
const count = Number(values.count);
const rateSeconds = Number(values['rate-seconds']);
const rate = Number(values.rate);
const backlog = Number(values.backlog);

const ej = await Ejabberd.start({
  components: [
    { domain: 'a.localhost', secret: 'a' },
    { domain: 'b.localhost', secret: 'b' },
    { domain: 'echo.localhost', secret: 'echo' },
    { domain: 'load.localhost', secret: 'load' },
  ],
});
const a = new Fedgate({ port: ej.componentPort('a.localhost'), domain: 'a.localhost', secret: 'a' });
const b = new Fedgate({ port: ej.componentPort('b.localhost'), domain: 'b.localhost', secret: 'b' });
const bare = spawn(process.execPath, [join(DIST_ROOT, 'scripts/bench/bare-echo.js'), String(ej.componentPort('echo.localhost')), 'echo.localhost', 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] });
let gw: Gateway | null = null;
try {
  await a.cli('app', 'add', 'src', '--kind', 'echo'); // receipts come back to src@a: it must exist
  await b.cli('app', 'add', 'sink', '--kind', 'store');
  await b.cli('consumer', 'add', '--source', 'src@a.localhost', '--destination', 'sink', '--series', '*', '--schedule', 'none');
  b.start();
  await b.waitOnline();
  await once(bare.stdout!, 'data');
  const load = await LoadClient.connect(ej.componentPort('load.localhost'), 'load.localhost', 'load');

  // The baseline's latency at the same steady rate, measured before A shares this process.
  const echoRuns: Array<Promise<{ latencies: number[] }>> = [];
  await paced(rate, rateSeconds, (k) => echoRuns.push(load.chatRoundTrips('x@echo.localhost', k, k)));
  const echoLat = (await Promise.all(echoRuns)).flatMap((r) => r.latencies).sort((x, y) => x - y);

  // A runs in this process so that the bench sees each confirmation as it happens.
  const config = loadConfig(a.configPath);
  gw = await startGateway(config, createLogger({ level: 'warn', format: 'json' }));
  const tracker = new Tracker(gw);
  await new Promise<void>((resolve) => (gw!.link.isOnline ? resolve() : gw!.link.once('online', resolve)));

  // Warm-up (JIT, workers, peer discovery), then throughput.
  tracker.queue(Array.from({ length: 2000 }, (_, i) => message(i)));
  await tracker.until(2000);
  await load.chatRoundTrips('x@echo.localhost', 2000, 256);
  const t0 = process.hrtime.bigint();
  tracker.queue(Array.from({ length: count }, (_, i) => message(10_000 + i)));
  await tracker.until(2000 + count);
  const relaySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const echo = await load.chatRoundTrips('x@echo.localhost', count, 256);

  // Latency at a steady 1,000 messages per second, both ways.
  const before = tracker.latencies.length;
  let i = 1_000_000;
  await paced(rate, rateSeconds, (k) => tracker.queue(Array.from({ length: k }, () => message(i++))));
  await tracker.until(before + (i - 1_000_000));
  const relayLat = tracker.latencies.slice(before).sort((x, y) => x - y);
  await load.close();
  await gw.stop();
  gw = null;

  printTable(`bench:relay — single-record messages A → B, committed in B's inbox and confirmed back (${count} messages)`, 'bare echo', [
    { figure: 'messages per second', value: count / relaySeconds, baseline: echo.perSecond, unit: '/s', higherIsBetter: true },
    { figure: `p50 latency at ${rate}/s`, value: percentile(relayLat, 50), baseline: percentile(echoLat, 50), unit: 'ms', higherIsBetter: false },
    { figure: `p99 latency at ${rate}/s`, value: percentile(relayLat, 99), baseline: percentile(echoLat, 99), unit: 'ms', higherIsBetter: false },
  ]);
  process.stdout.write(`\nthroughput ratio relay / bare echo: ${(count / relaySeconds / echo.perSecond).toFixed(2)} (goal >= 0.50); p99 at ${rate}/s: ${fmt(percentile(relayLat, 99))} ms (goal < 10 ms at 1000/s)\n`);

  if (backlog > 0) {
    // The backlog: rows written straight into A's outbox, then A started as its own process.
    const db = new Database(join(a.dir, 'fedgate.sqlite'));
    const insert = db.prepare('INSERT INTO outbox (sender, destination, payload, records, created_at) VALUES (?, ?, ?, 1, 0)');
    db.transaction(() => {
      db.prepare("INSERT INTO lanes (destination, updated_at) VALUES ('sink@b.localhost', 0) ON CONFLICT DO NOTHING").run();
      for (let k = 0; k < backlog; k++) {
        const m = message(2_000_000 + k);
        insert.run(m.sender, m.destination, m.payload);
      }
    })();
    db.close();
    const sinkBefore = countSink(b);
    a.start();
    const t1 = Date.now();
    let peak = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      peak = Math.max(peak, rssKb(a));
      const left = outboxLeft(a);
      process.stderr.write(`\rbacklog: ${left} rows left, A's RSS ${Math.round(rssKb(a) / 1024)} MB   `);
      if (left === 0) break;
    }
    const seconds = (Date.now() - t1) / 1000;
    peak = Math.max(peak, hwmKb(a));
    process.stderr.write('\n');
    process.stdout.write(
      `\nbacklog of ${backlog.toLocaleString('en-US')} outbox rows drained in ${fmt(seconds)} s: ${fmt(backlog / seconds)} messages/s; ` +
        `peak RSS of fedgate A ${fmt(peak / 1024)} MB (goal < 250 MB); B applied ${countSink(b) - sinkBefore} records\n`,
    );
  }
  if (backlog > 0) printLaneHolds(measureLaneHolds(backlog, 100));
} finally {
  if (gw) await gw.stop();
  bare.kill('SIGTERM');
  for (const f of [a, b]) {
    await f.stop();
    f.cleanup();
  }
  await ej.stop();
}

function outboxLeft(f: Fedgate): number {
  return scalar(f, 'SELECT count(*) FROM outbox');
}

function countSink(f: Fedgate): number {
  return storeScalar(f, 'SELECT count(*) FROM store_points');
}

function statusKb(f: Fedgate, key: string): number {
  if (!f.proc?.pid) return 0;
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${f.proc.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
function rssKb(f: Fedgate): number {
  return statusKb(f, 'VmRSS');
}
function hwmKb(f: Fedgate): number {
  return statusKb(f, 'VmHWM');
}
