/**
 * bench:route — chat messages routed through fedgate to an adapter (echo, in its app worker) and
 * answered, against a bare @xmpp/component echo on the same ejabberd in the same run.
 * Rounds alternate baseline/fedgate and the median of each is reported (the machine is noisy).
 *   npm run bench:route [-- --count 20000 --window 200 --rounds 3]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { LoadClient, type LoadResult } from './lib/load.js';
import { fmt, median, printTable } from './lib/stats.js';
import { cpuSeconds, waitIdle } from './lib/proc.js';
import { DIST_ROOT } from '../../component/paths.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '20000' }, window: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' } },
});
const count = Number(values.count), window = Number(values.window), rounds = Number(values.rounds);

const ej = await Ejabberd.start({
  components: [
    { domain: 'energy.localhost', secret: 'fg' },
    { domain: 'echo.localhost', secret: 'echo' },
    { domain: 'load.localhost', secret: 'load' },
  ],
});
const fg = new Fedgate({ port: ej.componentPort('energy.localhost'), domain: 'energy.localhost', secret: 'fg' });
const bare = spawn(process.execPath, [join(DIST_ROOT, 'scripts/bench/bare-echo.js'), String(ej.componentPort('echo.localhost')), 'echo.localhost', 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  await fg.cli('app', 'add', 'echo', '--kind', 'echo');
  fg.start();
  await fg.waitOnline();
  await once(bare.stdout!, 'data');
  const load = await LoadClient.connect(ej.componentPort('load.localhost'), 'load.localhost', 'load');
  // Warm-up: JIT, worker start, ejabberd routes.
  await load.chatRoundTrips('x@echo.localhost', 2000, window);
  await load.chatRoundTrips('echo@energy.localhost', 2000, window);
  // Its start done (every worker thread up, its jobs' first runs over): rounds measure the routing alone.
  await waitIdle(fg.proc!.pid!);
  const base: LoadResult[] = [];
  const ours: LoadResult[] = [];
  // CPU time per round trip (user + system, every thread, from /proc) of the echoing process, and of
  // ejabberd meanwhile: steadier than throughput when other processes compete for the cores.
  const ejPid = ej.pid();
  const cpu = { base: [] as number[], ours: [] as number[], ejBase: [] as number[], ejOurs: [] as number[] };
  const measured = async (to: string, pid: number, own: number[], server: number[]): Promise<LoadResult> => {
    const c0 = cpuSeconds(pid);
    const e0 = ejPid ? cpuSeconds(ejPid) : 0;
    const res = await load.chatRoundTrips(to, count, window);
    own.push(((cpuSeconds(pid) - c0) / count) * 1e6);
    if (ejPid) server.push(((cpuSeconds(ejPid) - e0) / count) * 1e6);
    return res;
  };
  for (let r = 0; r < rounds; r++) {
    base.push(await measured('x@echo.localhost', bare.pid!, cpu.base, cpu.ejBase));
    ours.push(await measured('echo@energy.localhost', fg.proc!.pid!, cpu.ours, cpu.ejOurs));
    process.stderr.write(
      `round ${r + 1}/${rounds}: bare ${Math.round(base.at(-1)!.perSecond)}/s (${fmt(cpu.base.at(-1)!)} µs CPU each), ` +
        `fedgate ${Math.round(ours.at(-1)!.perSecond)}/s (${fmt(cpu.ours.at(-1)!)} µs CPU each)\n`,
    );
  }
  // Latency at a steady, moderate rate is a different question from latency under saturation.
  const baseLat = await load.chatRoundTrips('x@echo.localhost', Math.min(count, 5000), 1);
  const ourLat = await load.chatRoundTrips('echo@energy.localhost', Math.min(count, 5000), 1);
  await load.close();
  const m = (rs: LoadResult[], k: 'perSecond' | 'p50ms' | 'p99ms') => median(rs.map((x) => x[k]));
  printTable(`bench:route — ${count} chat round trips x ${rounds} rounds, ${window} in flight (median of rounds)`, 'bare echo', [
    { figure: 'round trips per second', value: m(ours, 'perSecond'), baseline: m(base, 'perSecond'), unit: '/s', higherIsBetter: true },
    { figure: `p50 latency (${window} in flight)`, value: m(ours, 'p50ms'), baseline: m(base, 'p50ms'), unit: 'ms', higherIsBetter: false },
    { figure: `p99 latency (${window} in flight)`, value: m(ours, 'p99ms'), baseline: m(base, 'p99ms'), unit: 'ms', higherIsBetter: false },
    { figure: 'p50 latency (1 in flight)', value: ourLat.p50ms, baseline: baseLat.p50ms, unit: 'ms', higherIsBetter: false },
    { figure: 'p99 latency (1 in flight)', value: ourLat.p99ms, baseline: baseLat.p99ms, unit: 'ms', higherIsBetter: false },
    { figure: 'CPU per round trip, echoing process', value: median(cpu.ours), baseline: median(cpu.base), unit: 'µs', higherIsBetter: false },
    ...(ejPid ? [{ figure: 'CPU per round trip, ejabberd', value: median(cpu.ejOurs), baseline: median(cpu.ejBase), unit: 'µs', higherIsBetter: false }] : []),
  ]);
  const ratio = m(ours, 'perSecond') / m(base, 'perSecond');
  process.stdout.write(`\nthroughput ratio fedgate / bare echo: ${ratio.toFixed(2)} (goal >= 0.85)\n`);
} finally {
  bare.kill('SIGTERM');
  await fg.stop();
  fg.cleanup();
  await ej.stop();
}
