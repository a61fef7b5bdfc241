/**
 * The shared worker pool: store and echo apps share a thread (here one, `adapters.shared_workers: 1`);
 * an app with `isolation: own` has its own. A store app that crashes its shared thread (a get_history
 * too large for the thread's heap limit: an out-of-memory kill, the realistic crash of fedgate's own
 * adapters) fails only the calls in flight on that thread; the thread restarts, its other apps answer
 * the calls made meanwhile, data received meanwhile is applied, and the app in its own thread never
 * notices.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { commandIq, recordsIn } from '../helpers/commands.js';
import { scalar, storeScalar, until } from '../helpers/db.js';
import { openStoreDatabase } from '../../adapters/store/store-database.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';

const DOMAIN = 'energy.localhost';
const PEER = 'peer.localhost';
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const T0 = 1704063600;
/** Far more than a 16 MB heap can encode in one answer. */
const BIG = 500_000;

interface Ctx {
  ejabberd: Ejabberd;
  fg: Fedgate;
  peer: Peer;
}
const test = suite<Ctx>('shared-workers');

const history = (peer: Peer, app: string, records: number, timeoutMs = 10_000) =>
  commandIq(peer, `${app}@${DOMAIN}/q`, 'get_history', { identifier: S, start_time: formatIsoUtc(T0), end_time: formatIsoUtc(T0 + 1800 * records) }, { timeoutMs });

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: PEER, secret: 'peer-secret' }] });
  const fg = (ctx.fg = new Fedgate({
    port: ctx.ejabberd.componentPort(DOMAIN),
    domain: DOMAIN,
    secret: 'fg-secret',
    extraYaml: 'adapters:\n  shared_workers: 1\n  worker_heap_mb: 16\nquoalise:\n  max_records: 10000000\n  requests_per_second: 1000\ndelivery:\n  retry_initial_ms: 100\n',
  }));
  for (const [name, ...options] of [['big'], ['small'], ['mine', '--option', 'isolation=own']]) {
    await fg.must('app', 'add', name!, '--kind', 'store', ...options);
    await fg.must('grant', 'add', name!, PEER, '*');
  }
  await fg.must('app', 'add', 'chat', '--kind', 'echo');
  await fg.must('consumer', 'add', '--source', `src@${PEER}`, '--destination', 'small', '--series', S, '--schedule', 'none');
  const db = openStoreDatabase(join(fg.dir, 'fedgate.sqlite'));
  for (const [app, n] of [['big', BIG], ['small', 10], ['mine', 10]] as const) {
    const store = new SeriesStore(db, app);
    for (let i = 0; i < n; i += 100_000) {
      store.ingest([{ meta: {}, records: Array.from({ length: Math.min(100_000, n - i) }, (_, k) => ({ name: S, time: T0 + 1800 * (i + k), value: k % 97, unit: 'W' })) }]);
    }
  }
  db.close();
  fg.start();
  await fg.waitOnline();
  // It answers disco#info as any XMPP entity must (a gateway keeping a log asks a sender's domain whether it signs).
  ctx.peer = (await Peer.connect(ctx.ejabberd.componentPort(PEER), PEER, 'peer-secret')).answerDisco();
  for (const app of ['big', 'small', 'mine']) {
    await until(async () => (await history(ctx.peer, app, 1)).attrs.type === 'result', 15_000, () => `${app} never answered`);
  }
});

test.after(async (ctx) => {
  await ctx.peer?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.ejabberd?.stop();
});

test('a crash of a shared worker fails only the calls in flight on it; its other apps answer, data is applied', async ({ fg, peer }) => {
  const crash = history(peer, 'big', BIG, 60_000);
  // The app with a thread of its own answers while its neighbour's thread dies.
  const own = await history(peer, 'mine', 10);
  assert.is(own.attrs.type, 'result');
  assert.is(recordsIn(own), 10);
  // Data for a neighbour on the crashing thread: committed and acknowledged at once, applied after the restart.
  const data = xml(
    'message',
    { to: `small@${DOMAIN}`, from: `src@${PEER}`, id: 'during-crash' },
    xml('quoalise', { xmlns: 'urn:quoalise:0' }, xml('data', {}, xml('meta'), xml('sensml', { xmlns: 'urn:ietf:params:xml:ns:senml' }, xml('senml', { bn: S, bt: String(T0 + 1800 * 10), v: '7', bu: 'W' })))),
    xml('request', { xmlns: 'urn:xmpp:receipts' }),
  );
  peer.send(data);
  await peer.waitFor((el) => el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'during-crash', 10_000);

  const failed = await crash;
  assert.is(failed.attrs.type, 'error');
  assert.is(errorCondition(failed), 'undefined-condition');
  assert.match(errorText(failed), 'the application worker stopped');
  assert.match(fg.stderr, 'reaching memory limit', 'the thread was killed for its heap, not the gateway');

  // Asked while the thread restarts: held, then answered — not failed.
  peer.send(xml('message', { to: `chat@${DOMAIN}`, from: `tester@${PEER}/t`, type: 'chat', id: 'hello' }, xml('body', {}, 'still there?')));
  const [small, chat] = await Promise.all([history(peer, 'small', 11, 15_000), peer.waitFor((el) => el.attrs.id === 'hello-r', 15_000)]);
  assert.is(small.attrs.type, 'result', small.toString());
  assert.is(chat.getChildText('body'), 'still there?', chat.toString());
  await until(() => storeScalar(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'small'") === 11, 10_000, () => 'the delivery was not applied');
  assert.is(fg.exitCode, undefined, 'the gateway kept running');
});

test('a message that stops the shared thread each time it is applied: held, tried alone, a dead letter after three stops; the app and its neighbours go on', async ({ fg, peer }) => {
  const senml = (from: number, n: number) =>
    `<senml bn="${S}" bt="${T0 + 1800 * from}" bu="W" v="1"/>` + Array.from({ length: n - 1 }, (_, k) => `<senml t="${1800 * (k + 1)}" v="${k % 97}"/>`).join('');
  const message = (id: string, from: number, n: number) =>
    `<message to="small@${DOMAIN}" from="src@${PEER}" id="${id}"><quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml">${senml(from, n)}</sensml></data></quoalise><request xmlns="urn:xmpp:receipts"/></message>`;
  const acked = (id: string) => peer.waitFor((el) => el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === id, 20_000);
  // 100,000 records (3 MB): nothing for the gateway's own thread, far too much for a 16 MB worker to decode.
  await peer.conn.write(message('heavy', 100, 100_000));
  await acked('heavy');
  let reason = '';
  await until(() => (reason = String(scalar(fg, "SELECT reason FROM dead_letters WHERE stanza_id = 'heavy'") ?? '')) !== '', 60_000, () => fg.stderr.slice(-2000));
  assert.match(reason, "the application's thread stopped while applying it (3 times)");
  assert.match(fg.stderr, "an application's thread stopped while applying a message");
  // The app's queue moves on, and its neighbours answer.
  await peer.conn.write(message('light', 200_000, 2));
  await acked('light');
  await until(() => storeScalar(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'small' AND p.time >= ?", T0 + 1800 * 200_000) === 2, 15_000, () => fg.stderr.slice(-1500));
  assert.is((await history(peer, 'small', 11, 15_000)).attrs.type, 'result');
  assert.is(fg.exitCode, undefined, 'the gateway kept running');
});

test("one requester's burst of get_history is answered one answer at a time: the shared thread lives, its neighbours answer", async ({ fg, peer }) => {
  // Each answer is small for the thread's 16 MB heap; sixty read at once were not, and the thread died with them.
  const logged = fg.stderr.length;
  const burst = await Promise.all(Array.from({ length: 60 }, () => history(peer, 'big', 5_000, 60_000)));
  assert.equal(burst.map((a) => (a.attrs.type === 'error' ? errorText(a) : a.attrs.type)), Array(60).fill('result'), fg.stderr.slice(logged).split('\n').filter((l) => /"level":(40|50)/.test(l)).join('\n').slice(0, 3000));
  assert.is((await history(peer, 'small', 1)).attrs.type, 'result');
  assert.not.match(fg.stderr.slice(logged), 'reaching memory limit', 'no out-of-memory end of a thread');
});

test('the isolation option: shared or own, anything else refused with the reason', async ({ fg }) => {
  let r = await fg.cli('app', 'add', 'odd', '--kind', 'store', '--option', 'isolation=sideways');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'option isolation: must be "shared" or "own"');
  r = await fg.cli('app', 'add', 'echo2', '--kind', 'echo', '--option', 'isolation=own', '--option', 'prefix=> ');
  assert.is(r.code, 0, r.stderr);
  const shown = JSON.parse(await fg.must('app', 'show', 'echo2', '--json')) as { options: Record<string, unknown> };
  assert.equal(shown.options, { prefix: '> ', isolation: 'own' });
});

test.run();
