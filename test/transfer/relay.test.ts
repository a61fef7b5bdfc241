/**
 * Two fedgate processes on two subdomains of one real ejabberd move 10,000 records from a store app
 * behind A to a store app behind B — while A and B are killed with SIGKILL at random points, and while
 * ejabberd itself crashes and restarts. Every record must arrive exactly once, by itself. On Prosody,
 * the same gateways make one plain transfer (the chaos runs are ejabberd's).
 */
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type XmppServer } from '../helpers/xmpp-server.js';
import { perServer, type ServerContext } from '../helpers/per-server.js';
import { Fedgate } from '../helpers/fedgate.js';
import { query, queryStore, scalar, storeScalar, until } from '../helpers/db.js';

const A = 'a.localhost';
const B = 'b.localhost';
const N = 10_000;
// A small window paces the transfer (a few seconds) so that the kills land in the middle of it.
const YAML = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 2\n  receipt_timeout_seconds: 5\n  window: 16\n';

interface Ctx extends ServerContext {
  server: XmppServer;
  a: Fedgate;
  b: Fedgate;
}
const test = perServer<Ctx>('relay');

/** Seeded PRNG (mulberry32): the chaos is random but reproducible from the printed seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function series(tag: string): string {
  return `urn:dev:prm:300000000000${tag}_consumption/power/active/raw`;
}

/** N half-hourly points with value = index, some of them zero, two of them sharing one second. */
function importSeries(a: Fedgate, tag: string, n = N): Promise<{ code: number; stderr: string }> {
  const s = series(tag);
  const lines = ['identifier,time,value,unit'];
  for (let i = 0; i < n; i++) lines.push(`${s},${1704063600 + i * 1800 + (i % 500 === 1 ? 0.5 : 0)},${i % 1000 === 0 ? 0 : i},W`);
  const file = join(a.dir, `${tag}.csv`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return a.cli('store', 'import', 'meters', file);
}

async function arrived(b: Fedgate, tag: string): Promise<number> {
  return storeScalar(b, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'sink' AND s.identifier = ?", series(tag));
}

/** Exactly once: all N records, each with its own value, none carried by two different messages. */
function assertExactlyOnce(b: Fedgate, tag: string, n = N): void {
  const rows = queryStore<{ time: number; value: number }>(
    b,
    "SELECT p.time, p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'sink' AND s.identifier = ? ORDER BY p.time",
    series(tag),
  );
  assert.is(rows.length, n);
  rows.forEach((r, i) => assert.is(r.value, i % 1000 === 0 ? 0 : i, `record ${i}`));
  assert.is(storeScalar(b, "SELECT coalesce(sum(duplicate_points), 0) FROM store_deliveries WHERE app = 'sink'"), 0, 'a record arrived in two messages');
  assert.is(scalar(b, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 0);
  assert.is(scalar(b, 'SELECT count(*) FROM dead_letters'), 0);
}

async function drained(ctx: Ctx, tag: string, timeoutMs: number, n = N): Promise<void> {
  await until(
    async () => (await arrived(ctx.b, tag)) === n && scalar(ctx.a, 'SELECT count(*) FROM outbox') === 0,
    timeoutMs,
    () => `arrived ${storeScalar(ctx.b, "SELECT count(*) FROM store_points")}, outbox ${scalar(ctx.a, 'SELECT count(*) FROM outbox')}\nA: ${ctx.a.stderr.slice(-2000)}\nB: ${ctx.b.stderr.slice(-2000)}`,
  );
}

test.before(async (ctx) => {
  ctx.server = await startServer(ctx.kind, { components: [{ domain: A, secret: 'a-secret' }, { domain: B, secret: 'b-secret' }] });
  ctx.a = new Fedgate({ port: ctx.server.componentPort(A), domain: A, secret: 'a-secret', extraYaml: YAML });
  ctx.b = new Fedgate({ port: ctx.server.componentPort(B), domain: B, secret: 'b-secret', extraYaml: YAML });
  const ok = (r: { code: number; stderr: string }) => assert.is(r.code, 0, r.stderr);
  ok(await ctx.a.cli('app', 'add', 'meters', '--kind', 'store'));
  ok(await ctx.b.cli('app', 'add', 'sink', '--kind', 'store'));
  // A sends every series of meters to sink, ten records per message; B lets meters@A send them.
  ok(await ctx.a.cli('consumer', 'add', '--source', 'meters', '--destination', `sink@${B}`, '--series', '*', '--batch', '10'));
  ok(await ctx.b.cli('consumer', 'add', '--source', `meters@${A}`, '--destination', 'sink', '--series', '*', '--schedule', 'none'));
  ctx.b.start();
  ctx.a.start();
  await Promise.all([ctx.a.waitOnline(), ctx.b.waitOnline()]);
});

test.after(async (ctx) => {
  for (const fg of [ctx.a, ctx.b]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.server?.stop();
});

test(
  'a transfer between two gateways: every record arrives exactly once',
  async (ctx) => {
    assert.is((await importSeries(ctx.a, '00')).code, 0);
    await drained(ctx, '00', 60_000);
    assertExactlyOnce(ctx.b, '00');
  },
  ['prosody'],
);

test('kill -9 of sender and receiver at random points: every record arrives exactly once', async (ctx) => {
  const { a, b } = ctx;
  const seed = Number(process.env.FEDGATE_CHAOS_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  process.stdout.write(`  (chaos seed ${seed}: FEDGATE_CHAOS_SEED=${seed} replays it)\n`);
  const imported = await importSeries(a, '01');
  assert.is(imported.code, 0, imported.stderr);
  // Random kill points (chaos, not synchronisation): the first one always, early in the transfer.
  let kills = 0;
  do {
    await new Promise((r) => setTimeout(r, (kills === 0 ? 50 : 150) + random() * 400));
    const victim = random() < 0.5 ? a : b;
    victim.signal('SIGKILL');
    await victim.waitExit();
    victim.start();
    kills++;
  } while (kills < 8 && (await arrived(b, '01')) < N);
  await Promise.all([a.waitOnline(20_000), b.waitOnline(20_000)]);
  await drained(ctx, '01', 60_000);
  assertExactlyOnce(b, '01');
}, ['ejabberd']);

test('bursts of kill -9 on the receiver right after its restarts, 20,000 records: none lost, none twice, no dead letter', async (ctx) => {
  const { a, b } = ctx;
  const seed = Number(process.env.FEDGATE_CHAOS_SEED ?? (Date.now() + 1) % 100_000);
  const random = prng(seed);
  const n = 20_000;
  process.stdout.write(`  (receiver bursts seed ${seed}: FEDGATE_CHAOS_SEED=${seed} replays it)\n`);
  await Promise.all([a.waitOnline(20_000), b.waitOnline(20_000)]);
  const imported = await importSeries(a, '04', n);
  assert.is(imported.code, 0, imported.stderr);
  // Three bursts of three kills, each as soon as the receiver is back online: the moments when a
  // sender probing it, or sending to it, is most likely to be fooled.
  let arrivedAtFirstKill = -1;
  for (let burst = 0; burst < 3; burst++) {
    await new Promise((r) => setTimeout(r, 100 + random() * 600));
    for (let k = 0; k < 3; k++) {
      if (arrivedAtFirstKill < 0) arrivedAtFirstKill = await arrived(b, '04');
      b.signal('SIGKILL');
      await b.waitExit();
      b.start();
      await b.waitOnline(20_000);
      await new Promise((r) => setTimeout(r, random() * 300));
    }
  }
  assert.ok(arrivedAtFirstKill < n, 'the transfer was over before the first kill: the test proves nothing');
  await drained(ctx, '04', 120_000, n);
  assertExactlyOnce(b, '04', n);
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0, 'a dead letter on the sender');
}, ['ejabberd']);

test('ejabberd crashes and restarts mid-transfer: the transfer resumes by itself', async (ctx) => {
  const { a, b, server } = ctx;
  await Promise.all([a.waitOnline(), b.waitOnline()]);
  assert.is((await importSeries(a, '02')).code, 0);
  await until(async () => (await arrived(b, '02')) > 0, 20_000, () => 'nothing arrived');
  await server.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await server.restart();
  await drained(ctx, '02', 60_000);
  assertExactlyOnce(b, '02');
}, ['ejabberd']);

test('data refused by the destination becomes an outbound dead letter; retry re-sends it', async ({ a, b }) => {
  const ok = (r: { code: number; stderr: string }) => assert.is(r.code, 0, r.stderr);
  ok(await b.cli('app', 'add', 'closed', '--kind', 'store'));
  // A timed consumer (the others run on change): its job pulls every second.
  ok(await a.cli('consumer', 'add', '--source', 'meters', '--destination', `closed@${B}`, '--series', series('03'), '--schedule', 'every 1s'));
  const s = series('03');
  writeFileSync(join(a.dir, '03.csv'), `identifier,time,value,unit\n${s},1704063600,1,W\n${s},1704065400,2,W\n`);
  ok(await a.cli('store', 'import', 'meters', join(a.dir, '03.csv')));
  let dead: Array<{ id: number; reason: string; peer: string; direction: string }> = [];
  await until(
    async () => (dead = await a.rows<(typeof dead)[number]>('dead-letter', 'list')).length > 0,
    20_000,
    () => 'no dead letter on A',
  );
  assert.is(dead[0]!.direction, 'outbound');
  assert.is(dead[0]!.peer, `closed@${B}`);
  assert.match(dead[0]!.reason, 'not-authorized');
  assert.is(scalar(b, "SELECT count(*) FROM inbox WHERE app = 'closed'"), 0, 'nothing stored by the refusing side');
  // The admin of B entitles A, then the admin of A re-sends them all (again, should B not have
  // reloaded its entitlements yet when the first retry arrives), each as the same message.
  ok(await b.cli('consumer', 'add', '--source', `meters@${A}`, '--destination', 'closed', '--series', '*', '--schedule', 'none'));
  const points = () => storeScalar(b, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'closed'");
  const firstOutboxId = (dead[0] as unknown as { outboxId: number }).outboxId;
  assert.ok(firstOutboxId > 0);
  await until(
    async () => {
      if (points() === 2) return true;
      const r = await a.cli('dead-letter', 'retry', '--all', '--peer', `closed@${B}`);
      ok(r);
      const again = /queued again as (\d+)/.exec(r.stdout);
      if (again) assert.is(Number(again[1]), firstOutboxId, 'a retried dead letter keeps its id (and its stanza id)');
      return false;
    },
    20_000,
    () => `not re-sent: ${a.stderr.slice(-1000)}`,
  );
  assert.ok(query<{ stanza_id: string }>(b, "SELECT stanza_id FROM inbox WHERE app = 'closed'").every((r) => r.stanza_id.endsWith(`-${firstOutboxId}`)));
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0);
}, ['ejabberd']);

test.run();
