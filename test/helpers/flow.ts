/** The flow most transfer tests need: an app of one gateway sending its series to an app of another. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fedgate } from './fedgate.js';

/**
 * `meters` (a store app) of `from` sends every series to `sink` (a store app) of `to`, ten records per
 * message, and `to` entitles it; then both gateways start and come online.
 */
export async function startFlow(from: Fedgate, to: Fedgate): Promise<void> {
  await from.must('app', 'add', 'meters', '--kind', 'store');
  await to.must('app', 'add', 'sink', '--kind', 'store');
  await from.must('consumer', 'add', '--source', 'meters', '--destination', `sink@${to.opts.domain}`, '--batch', '10');
  await to.must('consumer', 'add', '--source', `meters@${from.opts.domain}`, '--destination', 'sink', '--schedule', 'none');
  from.start();
  to.start();
  await Promise.all([from.waitOnline(), to.waitOnline()]);
}

/** Imports `n` half-hourly records of `series` (value `value(i)`, in W) into a store app, through the CLI. */
export async function importSeries(fg: Fedgate, series: string, n: number, opts: { app?: string; value?: (i: number) => number } = {}): Promise<void> {
  const value = opts.value ?? ((i: number) => i);
  const lines = Array.from({ length: n }, (_, i) => `${series},${1704063600 + i * 1800},${value(i)},W`);
  const file = join(fg.dir, `import-${Date.now()}-${n}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${lines.join('\n')}\n`);
  await fg.must('store', 'import', opts.app ?? 'meters', file);
}
