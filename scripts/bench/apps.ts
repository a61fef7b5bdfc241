/**
 * bench:apps — many `store` apps on one gateway: 10, 100 and 1,000 apps (each with one series of 1,008
 * half-hourly records and a grant to the benchmark client), each figure beside the same gateway serving
 * one app, measured in the same run on the same ejabberd:
 * - peak RSS of the gateway process (VmHWM, every thread included);
 * - time from `fedgate start` to every app answering (disco#info offering Quoalise, i.e. its adapter open);
 * - get_history of 1,000 records from random apps, one request at a time: p50 and p99;
 * - CPU used by the gateway while idle (no traffic), in % of one core, over 10 s.
 *   npm run bench:apps [-- --counts 10,100,1000 --requests 300]
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { openDatabase } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { GrantStore } from '../../component/authz/grant-store.js';
import { openStoreDatabase } from '../../adapters/store/store-database.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import { CommandClient } from './lib/command-client.js';
import { fmt, percentile } from './lib/stats.js';
import { cpuSeconds, statusKb, waitIdle } from './lib/proc.js';

const { values } = parseArgs({ options: { counts: { type: 'string', default: '10,100,1000' }, requests: { type: 'string', default: '300' } } });
const counts = values.counts.split(',').map(Number);
const requests = Number(values.requests);

const DOMAIN = 'energy.localhost';
const CLIENT = 'load.localhost';
const SERIES = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const T0 = 1704063600;
const RECORDS = 1008; // three weeks of half-hours
const ASKED = 1000;
const IDLE_S = 10;

interface Figures {
  apps: number;
  peakRssMb: number;
  startMs: number;
  p50: number;
  p99: number;
  idleCpuPercent: number;
}

async function measure(ej: Ejabberd, apps: number): Promise<Figures> {
  const fg = new Fedgate({ port: ej.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg', extraYaml: 'quoalise:\n  requests_per_second: 1000000\n' + (process.env.BENCH_EXTRA_YAML ?? '') });
  let client: CommandClient | null = null;
  try {
    // The registry, grants and series written directly, as a thousand CLI commands would (faster).
    const db = openDatabase(join(fg.dir, 'fedgate.sqlite'));
    const store = openStoreDatabase(join(fg.dir, 'fedgate.sqlite'));
    const names = Array.from({ length: apps }, (_, i) => `app${i}`);
    for (const name of names) {
      new AppRegistry(db).add({ name, kind: 'store' });
      new GrantStore(db).add({ app: name, requester: CLIENT, series: '*' });
      new SeriesStore(store, name).ingest([
        { meta: { measurement: { name: 'active-power', unit: 'W' } }, records: Array.from({ length: RECORDS }, (_, k) => ({ name: SERIES, time: T0 + 1800 * k, value: (k * 7919) % 3000, unit: 'W' })) },
      ]);
    }
    db.close();
    store.close();

    const t0 = Date.now();
    fg.start();
    await fg.waitOnline(60_000);
    client = await CommandClient.connect(ej.componentPort(CLIENT), CLIENT, 'load');
    let waiting = names;
    while (waiting.length > 0) {
      const ready = await Promise.all(waiting.map(async (n) => (await client!.features(`${n}@${DOMAIN}`)).includes('urn:quoalise:0')));
      waiting = waiting.filter((_, i) => !ready[i]);
      if (Date.now() - t0 > 300_000) throw new Error(`${waiting.length} apps still not answering after 300 s`);
    }
    const startMs = Date.now() - t0;
    // The requests measure a gateway that has settled (its threads' start and first job runs over).
    await waitIdle(fg.proc!.pid!);

    const fields = { identifier: SERIES, start_time: formatIsoUtc(T0), end_time: formatIsoUtc(T0 + 1800 * ASKED) };
    for (let i = 0; i < 20; i++) await client.execute(`${names[i % apps]}@${DOMAIN}`, 'get_history', fields); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < requests; i++) {
      const app = names[Math.floor(Math.random() * apps)]!;
      const r = await client.execute(`${app}@${DOMAIN}`, 'get_history', fields);
      const got = r.answer.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length;
      if (got !== ASKED) throw new Error(`get_history returned ${got} records, expected ${ASKED}`);
      ms.push(r.ms);
    }
    ms.sort((a, b) => a - b);

    const pid = fg.proc!.pid!;
    await new Promise((r) => setTimeout(r, 2000)); // let the last answers' work settle
    const cpu0 = cpuSeconds(pid);
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idleCpuPercent = ((cpuSeconds(pid) - cpu0) / ((Date.now() - w0) / 1000)) * 100;
    const figures = { apps, peakRssMb: statusKb(pid, 'VmHWM') / 1024, startMs, p50: percentile(ms, 50), p99: percentile(ms, 99), idleCpuPercent };
    process.stderr.write(`${JSON.stringify(figures)}\n`);
    return figures;
  } finally {
    await client?.close();
    await fg.stop();
    fg.cleanup();
  }
}

const ej = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg' }, { domain: CLIENT, secret: 'load' }] });
try {
  const base = await measure(ej, 1);
  const runs: Figures[] = [];
  for (const n of counts) runs.push(await measure(ej, n));

  const rows: Array<[string, (f: Figures) => number, string]> = [
    ['peak RSS', (f) => f.peakRssMb, 'MB'],
    ['start to all apps answering', (f) => f.startMs, 'ms'],
    [`get_history p50 (${ASKED} records, random app)`, (f) => f.p50, 'ms'],
    [`get_history p99`, (f) => f.p99, 'ms'],
    [`idle CPU over ${IDLE_S} s`, (f) => f.idleCpuPercent, '% of a core'],
  ];
  const header = ['figure', ...runs.map((r) => `${r.apps.toLocaleString('en-US')} apps`), '1 app', `ratio ${runs.at(-1)!.apps.toLocaleString('en-US')} / 1`];
  const body = rows.map(([name, get, unit]) => [name, ...runs.map((r) => `${fmt(get(r))} ${unit}`), `${fmt(get(base))} ${unit}`, (get(runs.at(-1)!) / get(base)).toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  process.stdout.write(`\nbench:apps — store apps on one gateway, each with one series of ${RECORDS} records and a grant; baseline: the same gateway with 1 app\n`);
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('   ')}\n${body.map(line).join('\n')}\n`);
  const top = runs.at(-1)!;
  process.stdout.write(
    `\nwith ${top.apps.toLocaleString('en-US')} apps: peak RSS ${fmt(top.peakRssMb)} MB (goal < 1,024 MB); all answering ${(top.startMs / 1000).toFixed(1)} s after start (goal < 30 s); ` +
      `get_history 1 app / ${top.apps.toLocaleString('en-US')} apps: p50 ${(base.p50 / top.p50).toFixed(2)}, p99 ${(base.p99 / top.p99).toFixed(2)} (goal >= 0.8); ` +
      `idle CPU ${top.idleCpuPercent.toFixed(2)} % of a core (goal < 2 %)\n`,
  );
} finally {
  await ej.stop();
}
