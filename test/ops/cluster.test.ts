/**
 * An ejabberd cluster of two nodes built on this machine (`ejabberdctl join_cluster`), fedgate given
 * both nodes' listeners (`link.hosts`): the node fedgate is connected to is killed during a transfer;
 * fedgate reconnects to the other node, a user connected to the surviving node keeps reaching the
 * apps, and every record of the transfer arrives exactly once.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { scalar, storeScalar, until } from '../helpers/db.js';
import { importSeries, startFlow } from '../helpers/flow.js';

const DOMAIN = 'energy.localhost';
const SOURCE = 'source.localhost';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const N = 3000;

interface Ctx {
  first: Ejabberd;
  second: Ejabberd;
  gateway: Fedgate;
  sender: Fedgate;
  alice: User;
}
const test = suite<Ctx>('ejabberd cluster');

test.before(async (ctx) => {
  const components = [DOMAIN, SOURCE].map((domain) => ({ domain, secret: `${domain}-secret` }));
  [ctx.first, ctx.second] = await Promise.all([Ejabberd.start({ components }), Ejabberd.start({ components })]);
  await ctx.second.joinCluster(ctx.first);
  assert.equal((await ctx.first.clusterNodes()).sort(), [ctx.first.node, ctx.second.node].sort());
  await ctx.first.register('alice', 'pw');

  const listeners = [ctx.first, ctx.second].map((n) => `"127.0.0.1:${n.componentPort(DOMAIN)}"`).join(', ');
  const yaml = 'delivery:\n  window: 4\n  retry_initial_ms: 100\n  retry_max_seconds: 2\n  receipt_timeout_seconds: 5\n';
  ctx.gateway = new Fedgate({ port: 0, domain: DOMAIN, secret: `${DOMAIN}-secret`, link: { hosts: `[${listeners}]` }, extraYaml: yaml });
  ctx.sender = new Fedgate({ port: ctx.second.componentPort(SOURCE), domain: SOURCE, secret: `${SOURCE}-secret`, extraYaml: yaml });
  await startFlow(ctx.sender, ctx.gateway);
  await ctx.gateway.must('grant', 'add', 'sink', 'alice@localhost', '*');
  ctx.alice = await User.connect(ctx.second.c2sPort, 'alice', 'pw');
});

test.after(async (ctx) => {
  await ctx.alice?.close();
  for (const f of [ctx.gateway, ctx.sender]) {
    await f?.stop();
    f?.cleanup();
  }
  await Promise.all([ctx.first?.stop(), ctx.second?.stop()]);
});

function arrived(fg: Fedgate): number {
  return storeScalar(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'sink'");
}

async function ping(user: User, to: string): Promise<boolean> {
  const r = await user.iq(to, 'get', user.xml('ping', { xmlns: 'urn:xmpp:ping' }), 3000).catch(() => null);
  return r?.attrs.type === 'result';
}

test('the node fedgate is connected to dies mid-transfer: fedgate moves to the other, nothing is lost', async (ctx) => {
  const { gateway, sender, first, second, alice } = ctx;
  const status = async () => JSON.parse(await gateway.must('status', '--json')) as { server: string; link: string };
  assert.is((await status()).server, `127.0.0.1:${first.componentPort(DOMAIN)}`, 'connected to the first node');
  await until(() => ping(alice, `sink@${DOMAIN}`), 20_000, () => 'a user of the second node does not reach the app through the first');

  await importSeries(sender, SERIES, N);
  await until(() => arrived(gateway) > 0, 20_000, () => 'nothing arrived');
  await first.kill();
  const atKill = arrived(gateway);

  await until(async () => (await status()).link === 'online' && (await status()).server === `127.0.0.1:${second.componentPort(DOMAIN)}`, 20_000, () => gateway.stderr);
  await until(() => ping(alice, `sink@${DOMAIN}`), 20_000, () => 'the app is not reachable from the second node');
  await until(() => arrived(gateway) === N && scalar(sender, 'SELECT count(*) FROM outbox') === 0, 60_000, () => `arrived ${arrived(gateway)} of ${N}`);
  assert.ok(atKill < N, `the transfer was over before the kill (${atKill}): the test proves nothing`);
  assert.is(storeScalar(gateway, 'SELECT coalesce(sum(duplicate_points), 0) FROM store_deliveries'), 0, 'no record applied twice');
  for (const fg of [gateway, sender]) assert.is(scalar(fg, 'SELECT count(*) FROM dead_letters'), 0);
  assert.match(gateway.stderr, 'link lost, reconnecting');
});

test.run();
