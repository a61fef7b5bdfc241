/**
 * Calls in progress on one app, per remote domain, against a real ejabberd. The app's adapter hangs: an
 * `http` app whose web API (a local stand-in) takes requests and never answers keeps each call until
 * its time-out. One domain holds at most MAX_CALLS_PER_PARTY of them; the next is refused at once with
 * resource-constraint; another domain's call still reaches the adapter.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { until } from '../helpers/db.js';
import { MAX_CALLS_PER_PARTY } from '../../component/apps/app-host.js';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

const GW = 'gw.localhost';
const CROWD = 'crowd.localhost';
const HONEST = 'honest.localhost';
const HUNG = `hung@${GW}`;
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';

interface Ctx {
  ejabberd: Ejabberd;
  fg: Fedgate;
  crowd: Peer;
  honest: Peer;
  /** The web API: takes requests, never answers. */
  api: Server;
  sockets: Set<Socket>;
  /** Requests the app made to it. */
  forwarded: number;
}
const test = suite<Ctx>('calls per party');

test.before(async (ctx) => {
  ctx.forwarded = 0;
  ctx.sockets = new Set();
  ctx.api = createServer(() => void ctx.forwarded++);
  ctx.api.on('connection', (s: Socket) => (ctx.sockets.add(s), s.on('close', () => ctx.sockets.delete(s))));
  await new Promise<void>((resolve) => ctx.api.listen(0, '127.0.0.1', resolve));
  const apiPort = (ctx.api.address() as { port: number }).port;
  ctx.ejabberd = await Ejabberd.start({ components: [GW, CROWD, HONEST].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  const port = (domain: string) => ctx.ejabberd.componentPort(domain);
  ctx.fg = new Fedgate({ port: port(GW), domain: GW, secret: `${GW}-secret` });
  const series = [{ identifier: S, url: '/readings', meta: { measurement: { name: 'active-power', unit: 'W' } } }];
  await ctx.fg.must('app', 'add', 'hung', '--kind', 'http', '--option', `base_url=http://127.0.0.1:${apiPort}`, '--option', 'timeout_ms=15000', '--option', `series=${JSON.stringify(series)}`);
  for (const who of [`*@${CROWD}`, `*@${HONEST}`]) await ctx.fg.must('grant', 'add', 'hung', who, '*');
  ctx.fg.start();
  await ctx.fg.waitOnline();
  ctx.crowd = await Peer.connect(port(CROWD), CROWD, `${CROWD}-secret`);
  ctx.honest = await Peer.connect(port(HONEST), HONEST, `${HONEST}-secret`);
  // Calls before its adapter is ready are held, or refused ("starting"): wait until the gateway says it is.
  const ready = async () => (JSON.parse(await ctx.fg.must('status', '--json')) as { apps: Array<{ name: string; state: string }> }).apps.find((a) => a.name === 'hung')?.state === 'ready';
  await until(ready, 15_000, () => 'hung never came up');
});

test.after(async (ctx) => {
  for (const p of [ctx.crowd, ctx.honest]) await p?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.ejabberd?.stop();
  for (const s of ctx.sockets ?? []) s.destroy();
  await new Promise((resolve) => ctx.api?.close(resolve));
});

/** A get_history to the hung app, sent without waiting (it will not be answered before its time-out). */
function history(peer: Peer, from: string, id: string): void {
  const form = xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'identifier' }, xml('value', {}, S)));
  peer.send(xml('iq', { to: HUNG, from, type: 'set', id }, xml('command', { xmlns: NS_COMMANDS, node: 'get_history', action: 'execute' }, form)));
}

test(`one domain holds at most ${MAX_CALLS_PER_PARTY} calls in progress on an app; the next is refused at once, another domain's call goes through`, async (ctx) => {
  const { crowd, honest } = ctx;
  // Twenty requesters of one domain (each under its own rate limit), all waiting on the web API.
  for (let i = 0; i < MAX_CALLS_PER_PARTY; i++) history(crowd, `u${i % 20}@${CROWD}/r`, `h${i}`);
  await until(() => ctx.forwarded === MAX_CALLS_PER_PARTY, 30_000, () => `${ctx.forwarded} calls reached the web API; ${crowd.inbox.received.slice(0, 3).map(String).join("\n")}`);
  assert.is(crowd.inbox.matching((el) => el.name === 'iq').length, 0, 'none of them answered yet');

  history(crowd, `late@${CROWD}/r`, 'one-more');
  const refused = await crowd.waitFor((el) => el.attrs.id === 'one-more', 10_000);
  assert.is(errorCondition(refused), 'resource-constraint');
  assert.match(errorText(refused), `${MAX_CALLS_PER_PARTY} requests from ${CROWD} in progress`);

  history(honest, `alice@${HONEST}/r`, 'honest');
  await until(() => ctx.forwarded === MAX_CALLS_PER_PARTY + 1, 10_000, () => `the honest call did not reach the web API (${ctx.forwarded})`);
});

test.run();
