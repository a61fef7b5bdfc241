/**
 * bench:relay — single-record messages from an app behind fedgate A to an app behind fedgate B,
 * committed in B's inbox and confirmed back to A (XEP-0184 receipt after the commit), against the
 * bare @xmpp/component echo round trip measured in the same run on the same ejabberd.
 *   1. throughput: N messages queued at once; A keeps `delivery.window` in flight.
 *   2. latency at a steady 1,000 msg/s: queued → confirmed at A (p50/p99), beside the echo's round trip
 *      at the same rate.
 *   3. a backlog of 1,000,000 outbox rows drained by A as a separate process: drain rate, peak RSS.
 *   4. write-lock time of 100 lane failures with 1,000,000 rows queued (lib/lane-holds.ts).
 * Parts 1 and 2 run twice, on two pairs of gateways, alternately: with the transparency log and signed
 * receipts (the default, `trace.enabled: true`) and without; the second table gives the ratio.
 *   npm run bench:relay [-- --count 20000 --rate-seconds 5 --backlog 1000000 --rounds 2]
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
import { fmt, median, percentile, printTable } from './lib/stats.js';
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
    rounds: { type: 'string', default: '2' },
  },
});
const rounds = Number(values.rounds);
const count = Number(values.count);
const rateSeconds = Number(values['rate-seconds']);
const rate = Number(values.rate);
const backlog = Number(values.backlog);
interface RelayFigures {
  /** Time to relay `count` messages queued at once. */
  seconds: number;
  /** CPU time per message of that relay (µs), in the sender's process and in the receiver's: steadier than time on a shared machine. */
  senderCpuUs: number;
  receiverCpuUs: number;
  /** Latencies at a steady `rate`, sorted. */
  latencies: number[];
}

/**
 * One round on one pair: its sender runs in this process (so that the bench sees each confirmation as
 * it happens), warms up, relays `count` messages at once, then `rate` a second for `rateSeconds`.
 */
async function relay(src: Fedgate, sink: Fedgate, to: string): Promise<RelayFigures> {
  const from = src.opts.domain;
  const g = (gw = await startGateway(loadConfig(src.configPath), createLogger({ level: 'warn', format: 'json' })));
  const tracker = new Tracker(g);
  await new Promise<void>((resolve) => (g.link.isOnline ? resolve() : g.link.once('online', resolve)));
  // Warm-up (JIT, workers, peer discovery, the receiver's key).
  tracker.queue(Array.from({ length: 2000 }, (_, i) => message(i, from, to)));
  await tracker.until(2000);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const sinkCpu0 = cpuMs(sink);
  tracker.queue(Array.from({ length: count }, (_, i) => message(10_000 + i, from, to)));
  await tracker.until(2000 + count);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const senderCpuUs = (cpu.user + cpu.system) / count;
  const receiverCpuUs = ((cpuMs(sink) - sinkCpu0) * 1000) / count;
  const before = tracker.latencies.length;
  let i = 1_000_000;
  await paced(rate, rateSeconds, (k) => tracker.queue(Array.from({ length: k }, () => message(i++, from, to))));
  await tracker.until(before + (i - 1_000_000));
  const latencies = tracker.latencies.slice(before).sort((x, y) => x - y);
  await g.stop();
  gw = null;
  return { seconds, latencies, senderCpuUs, receiverCpuUs };
}

/** user + system CPU time of a fedgate child process so far, ms (Linux /proc). */
function cpuMs(f: Fedgate): number {
  if (!f.proc?.pid) return 0;
  const fields = readFileSync(`/proc/${f.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100/s)
}

let gw: Gateway | null = null;

const ej = await Ejabberd.start({
  components: [
    { domain: 'a.localhost', secret: 'a' },
    { domain: 'b.localhost', secret: 'b' },
    { domain: 'c.localhost', secret: 'c' },
    { domain: 'd.localhost', secret: 'd' },
    { domain: 'echo.localhost', secret: 'echo' },
    { domain: 'load.localhost', secret: 'load' },
  ],
});
const port = (domain: string) => ej.componentPort(domain);
const a = new Fedgate({ port: port('a.localhost'), domain: 'a.localhost', secret: 'a' });
const b = new Fedgate({ port: port('b.localhost'), domain: 'b.localhost', secret: 'b' });
// The same pair without the transparency log and signed receipts, for the on/off ratio.
const OFF = 'trace:\n  enabled: false\n';
const c = new Fedgate({ port: port('c.localhost'), domain: 'c.localhost', secret: 'c', extraYaml: OFF });
const d = new Fedgate({ port: port('d.localhost'), domain: 'd.localhost', secret: 'd', extraYaml: OFF });
const bare = spawn(process.execPath, [join(DIST_ROOT, 'scripts/bench/bare-echo.js'), String(port('echo.localhost')), 'echo.localhost', 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  for (const [src, sink] of [[a, b], [c, d]] as const) {
    await src.cli('app', 'add', 'src', '--kind', 'echo'); // receipts come back to src@…: it must exist
    await sink.cli('app', 'add', 'sink', '--kind', 'store');
    await sink.cli('consumer', 'add', '--source', `src@${src.opts.domain}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
    sink.start();
    await sink.waitOnline();
  }
  await once(bare.stdout!, 'data');
  const load = await LoadClient.connect(ej.componentPort('load.localhost'), 'load.localhost', 'load');

  // The baseline's latency at the same steady rate, measured before A shares this process.
  const echoRuns: Array<Promise<{ latencies: number[] }>> = [];
  await paced(rate, rateSeconds, (k) => echoRuns.push(load.chatRoundTrips('x@echo.localhost', k, k)));
  const echoLat = (await Promise.all(echoRuns)).flatMap((r) => r.latencies).sort((x, y) => x - y);

  // Both pairs, alternately; each figure is the median of its rounds.
  const on: RelayFigures[] = [];
  const off: RelayFigures[] = [];
  for (let r = 0; r < rounds; r++) {
    on.push(await relay(a, b, 'b.localhost'));
    off.push(await relay(c, d, 'd.localhost'));
  }
  const echo = await load.chatRoundTrips('x@echo.localhost', count, 256);
  await load.close();
  const mid = (xs: RelayFigures[], f: (x: RelayFigures) => number) => median(xs.map(f));
  const relaySeconds = mid(on, (x) => x.seconds);
  const relayLat = on.reduce((best, x) => (percentile(x.latencies, 99) < percentile(best.latencies, 99) ? best : x), on[0]!).latencies;
  const p = (xs: RelayFigures[], q: number) => mid(xs, (x) => percentile(x.latencies, q));

  printTable(`bench:relay — single-record messages A → B, committed in B's inbox and confirmed back (${count} messages)`, 'bare echo', [
    { figure: 'messages per second', value: count / relaySeconds, baseline: echo.perSecond, unit: '/s', higherIsBetter: true },
    { figure: `p50 latency at ${rate}/s`, value: p(on, 50), baseline: percentile(echoLat, 50), unit: 'ms', higherIsBetter: false },
    { figure: `p99 latency at ${rate}/s`, value: p(on, 99), baseline: percentile(echoLat, 99), unit: 'ms', higherIsBetter: false },
  ]);
  process.stdout.write(`\nthroughput ratio relay / bare echo: ${(count / relaySeconds / echo.perSecond).toFixed(2)} (goal >= 0.50); p99 at ${rate}/s: ${fmt(percentile(relayLat, 99))} ms (goal < 10 ms at 1000/s)\n`);

  printTable(`the same relay with the transparency log and signed receipts on and off (median of ${rounds} alternating rounds)`, 'log off', [
    { figure: 'messages per second', value: count / relaySeconds, baseline: count / mid(off, (x) => x.seconds), unit: '/s', higherIsBetter: true },
    { figure: `p50 latency at ${rate}/s`, value: p(on, 50), baseline: p(off, 50), unit: 'ms', higherIsBetter: false },
    { figure: `p99 latency at ${rate}/s`, value: p(on, 99), baseline: p(off, 99), unit: 'ms', higherIsBetter: false },
    { figure: 'CPU per message, sender', value: mid(on, (x) => x.senderCpuUs), baseline: mid(off, (x) => x.senderCpuUs), unit: 'µs', higherIsBetter: false },
    { figure: 'CPU per message, receiver', value: mid(on, (x) => x.receiverCpuUs), baseline: mid(off, (x) => x.receiverCpuUs), unit: 'µs', higherIsBetter: false },
  ]);
  process.stdout.write(
    `\nthroughput ratio log on / off: ${(mid(off, (x) => x.seconds) / relaySeconds).toFixed(2)} (goal >= 0.85); p99 at ${rate}/s with the log: ${fmt(p(on, 99))} ms (goal < 10 ms)\n`,
  );
  // How many messages shared a signature: receipts (kept by A) and proofs of origin (kept by B).
  const perNote = (f: Fedgate) =>
    scalar<number>(f, 'SELECT coalesce(sum(json_array_length(proofs)), 0) * 1.0 / max(1, (SELECT count(*) FROM trace_peer_notes)) FROM trace_peer_proofs');
  process.stdout.write(`messages per signature: ${fmt(perNote(a))} per signed receipt, ${fmt(perNote(b))} per signed proof of origin\n`);

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
  // Set by relay() while a round runs (TypeScript cannot see that assignment from here).
  const running = gw as Gateway | null;
  if (running) await running.stop();
  bare.kill('SIGTERM');
  for (const f of [a, b, c, d]) {
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
