/**
 * What is particular to Prosody 0.12, against a real one: it closes a component's stream on any
 * stanza over 512 KiB, so an answer that would be larger is refused (`bad-request`, narrow the range)
 * and the link stays up; the fatal errors' hints name Prosody's settings (`Component`,
 * `component_secret`); `fedgate status` says which server it is connected to.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Prosody } from '../helpers/prosody.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { importSeries } from '../helpers/flow.js';

const DOMAIN = 'energy.localhost';
const METERS = `meters@${DOMAIN}`;
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const N = 20_000; // about 0.6 MB of SenML: more than Prosody's 512 KiB
const T0 = 1704063600;

interface Ctx {
  prosody: Prosody;
  fg: Fedgate;
  alice: User;
}
const test = suite<Ctx>('prosody');

test.before(async (ctx) => {
  ctx.prosody = await Prosody.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }] });
  await ctx.prosody.register('alice', 'pw');
  const fg = (ctx.fg = new Fedgate({ port: ctx.prosody.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret' }));
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await importSeries(fg, SERIES, N, { value: (i) => 1000 + i * 0.25 });
  await fg.must('grant', 'add', 'meters', 'alice@localhost', '*');
  fg.start();
  await fg.waitOnline();
  ctx.alice = await User.connect(ctx.prosody.c2sPort, 'alice', 'pw');
});

test.after(async (ctx) => {
  await ctx.alice?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.prosody?.stop();
});

function history(user: User, end: number): Promise<import('../helpers/peer.js').Element> {
  return user.command(METERS, 'get_history', {
    fields: { identifier: SERIES, start_time: new Date(T0 * 1000).toISOString(), end_time: new Date(end * 1000).toISOString() },
  });
}

test('status says the link goes to Prosody', async ({ fg }) => {
  const st = JSON.parse(await fg.must('status', '--json')) as { serverKind: string; link: string };
  assert.is(st.link, 'online');
  assert.is(st.serverKind, 'prosody');
});

test('an answer larger than Prosody accepts is refused with "narrow the range", and the link stays up', async ({ fg, alice }) => {
  const big = await history(alice, T0 + N * 1800);
  assert.is(big.attrs.type, 'error', big.toString().slice(0, 300));
  assert.is(errorCondition(big), 'bad-request');
  assert.match(errorText(big), 'narrow the range');
  assert.match(errorText(big), 'link.max_stanza_bytes');
  // A narrower range is served, on the same link.
  const small = await history(alice, T0 + 1000 * 1800);
  assert.is(small.attrs.type, 'result');
  assert.is(small.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length, 1000);
  assert.not.match(fg.stderr, 'link lost');
  assert.is((JSON.parse(await fg.must('status', '--json')) as { lastLinkError: unknown }).lastLinkError, null, 'the link never went down');
});

test("a wrong secret: the hint names Prosody's component_secret", async ({ prosody }) => {
  const fg = new Fedgate({ port: prosody.componentPort(DOMAIN), domain: DOMAIN, secret: 'wrong-secret' });
  try {
    fg.start();
    assert.is(await fg.waitExit(10_000), 3);
    const line = fg.stderr.split('\n').find((l) => l.startsWith('fedgate: '))!;
    assert.match(line, 'not-authorized');
    assert.match(line, `component_secret of Component "${DOMAIN}"`);
    assert.not.match(line, 'ejabberd_service');
  } finally {
    fg.cleanup();
  }
});

test('a domain Prosody does not serve: the hint says to add the Component', async ({ prosody }) => {
  const fg = new Fedgate({ port: prosody.componentPort(DOMAIN), domain: 'other.localhost', secret: 'fg-secret' });
  try {
    fg.start();
    assert.is(await fg.waitExit(10_000), 3);
    assert.match(fg.stderr, 'fedgate: cannot connect to');
    assert.match(fg.stderr, 'host-unknown: Prosody has no Component "other.localhost"');
  } finally {
    fg.cleanup();
  }
});

test.run();
