/**
 * Two gateways on one throwaway ejabberd, A's `meters` store flowing every series to B's `sink` store
 * (consumers on both sides), for the full-disk tests: either may live in a folder of its own (a small
 * tmpfs). Not started: each test starts them in the order its story needs.
 */
import { Ejabberd } from './ejabberd.js';
import { Fedgate } from './fedgate.js';
import { queryStore } from './db.js';

export const A = 'a.localhost';
export const B = 'b.localhost';
/** The one series the tests send. */
export const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

export interface StoreFlow {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
}

export async function storeFlow(opts: { yaml: string; dirA?: string; dirB?: string }): Promise<StoreFlow> {
  const ejabberd = await Ejabberd.start({ components: [{ domain: A, secret: 'a' }, { domain: B, secret: 'b' }] });
  try {
    const a = new Fedgate({ port: ejabberd.componentPort(A), domain: A, secret: 'a', extraYaml: opts.yaml, ...(opts.dirA ? { dir: opts.dirA } : {}) });
    const b = new Fedgate({ port: ejabberd.componentPort(B), domain: B, secret: 'b', extraYaml: opts.yaml, ...(opts.dirB ? { dir: opts.dirB } : {}) });
    await a.must('app', 'add', 'meters', '--kind', 'store');
    await b.must('app', 'add', 'sink', '--kind', 'store');
    await a.must('consumer', 'add', '--source', 'meters', '--destination', `sink@${B}`, '--series', '*', '--batch', '10');
    await b.must('consumer', 'add', '--source', `meters@${A}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
    return { ejabberd, a, b };
  } catch (err) {
    // The caller's after() never sees this server: stopped here.
    await ejabberd.stop();
    throw err;
  }
}

/** The values B's sink holds, in time order. */
export function arrivedAtSink(b: Fedgate): Array<{ value: number }> {
  return queryStore<{ value: number }>(b, "SELECT p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'sink' ORDER BY p.time");
}
