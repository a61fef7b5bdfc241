/**
 * The `quoalise` adapter with two gateways on a real ejabberd: a `store` app `meters` behind the remote
 * gateway, a `quoalise` app `relay` on ours pointing at it. get_history and list_series forwarded with
 * relay's JID as the requester (the remote's grants apply), its errors mapped, subscriptions forwarded
 * and the remote's pushes relayed to our subscriber — also across the remote gateway stopped and
 * restarted — unsubscribe forwarded, and data from anyone but the provider refused.
 */
import { suite } from '../helpers/suite.js';
import { confirmedErasure } from '../helpers/erasures.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, storeScalar, until } from '../helpers/db.js';
import { command, isPush, recordsOf, seriesOf, upstreamError, NS_QUOALISE } from '../helpers/quoalise.js';
import type { SeriesRecord } from '../../component/quoalise/types.js';
import type { Element } from '../../component/xmpp/xml.js';

const LOCAL = 'energy.localhost';
const REMOTE = 'remote.localhost';
const CLIENT = 'client.localhost';
const RELAY = `relay@${LOCAL}`;
const METERS = `meters@${REMOTE}`;
const A = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const B = 'urn:dev:prm:30000000000002_consumption/power/active/raw';
const T0 = 1704063600;

interface Ctx {
  ejabberd: Ejabberd;
  local: Fedgate;
  remote: Fedgate;
  client: Peer;
}
const test = suite<Ctx>('adapter-quoalise');

let files = 0;
async function write(fg: Fedgate, rows: Array<[string, number, number]>): Promise<void> {
  const file = join(fg.dir, `w${files++}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${rows.map(([s, t, v]) => `${s},${t},${v},W`).join('\n')}\n`);
  await fg.must('store', 'import', 'meters', file);
}

test.before(async (ctx) => {
  const ejabberd = (ctx.ejabberd = await Ejabberd.start({
    components: [{ domain: LOCAL, secret: 'local-secret' }, { domain: REMOTE, secret: 'remote-secret' }, { domain: CLIENT, secret: 'client-secret' }],
  }));
  const yaml = 'delivery:\n  push_messages_per_second: 1000\n  retry_initial_ms: 200\n  retry_max_seconds: 1\nquoalise:\n  requests_per_second: 1000\n';
  const remote = (ctx.remote = new Fedgate({ port: ejabberd.componentPort(REMOTE), domain: REMOTE, secret: 'remote-secret', extraYaml: yaml, link: { reconnect_max_ms: 500 } }));
  await remote.must('app', 'add', 'meters', '--kind', 'store');
  await write(remote, [[A, T0, 1], [A, T0 + 1800, 0], [B, T0, 5]]);
  // The remote lets relay read A only.
  await remote.must('grant', 'add', 'meters', RELAY, 'urn:dev:prm:30000000000001_*');
  // The smallest inbound limit, for the provider whose answer is larger than it.
  const local = (ctx.local = new Fedgate({ port: ejabberd.componentPort(LOCAL), domain: LOCAL, secret: 'local-secret', extraYaml: yaml, link: { max_inbound_stanza_bytes: 65_536 } }));
  await local.must('app', 'add', 'relay', '--kind', 'quoalise', '--option', `provider=${METERS}`, '--option', 'timeout_ms=5000');
  await local.must('grant', 'add', 'relay', CLIENT, '*');
  // A provider that lies, played by the test's own component.
  await local.must('app', 'add', 'liar', '--kind', 'quoalise', '--option', `provider=provider@${CLIENT}`, '--option', 'timeout_ms=5000', '--option', 'max_series=2');
  await local.must('grant', 'add', 'liar', CLIENT, '*');
  remote.start();
  local.start();
  await Promise.all([remote.waitOnline(), local.waitOnline()]);
  ctx.client = (await Peer.connect(ejabberd.componentPort(CLIENT), CLIENT, 'client-secret')).answerDisco();
  await until(async () => (await command(ctx.client, RELAY, 'list_series')).attrs.type === 'result', 15_000, () => `relay not ready: ${local.stderr}`);
});

test.after(async (ctx) => {
  await ctx.client?.close();
  for (const fg of [ctx.local, ctx.remote]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

test('bad options are refused with the key named', async ({ local }) => {
  const r = await local.cli('app', 'add', 'bad', '--kind', 'quoalise', '--option', 'provider=not a jid');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'option provider:');
});

test('get_history and list_series are forwarded with the app as requester: the remote grants apply', async ({ client }) => {
  const history = await command(client, RELAY, 'get_history', { identifier: A, start_time: '2023-12-31T23:00:00Z', end_time: '2024-01-01T01:00:00+01:00' });
  assert.equal(recordsOf(history), [{ name: A, time: T0, value: 1, unit: 'W' }, { name: A, time: T0 + 1800, value: 0, unit: 'W' }]);
  assert.equal(seriesOf(await command(client, RELAY, 'list_series')).map((s) => [s.identifier, s.count]), [[A, '2']]);
  // B exists there but relay may not read it: the remote's refusal, with the remote as issuer.
  const refused = await command(client, RELAY, 'get_history', { identifier: B });
  assert.is(errorCondition(refused), 'undefined-condition');
  assert.equal(upstreamError(refused), { issuer: METERS, code: 'not-authorized' });
  // Covered by the remote's grant but not there: the remote's item-not-found, ours too.
  const unknown = await command(client, RELAY, 'get_history', { identifier: 'urn:dev:prm:30000000000001_consumption/energy/active/daily' });
  assert.is(errorCondition(unknown), 'item-not-found');
});

test('a subscription is forwarded; the remote pushes reach our subscriber, across the remote gateway restarting', async ({ local, remote, client }) => {
  assert.is((await command(client, RELAY, 'subscribe', { identifier: A })).attrs.type, 'result');
  assert.equal(query(remote, "SELECT source, destination, series FROM consumers WHERE kind = 'subscription'"), [{ source: METERS, destination: RELAY, series: A }]);
  const received: SeriesRecord[] = [];
  const collect = async (n: number) => {
    while (received.length < n) {
      const m = await client.waitFor(isPush, 30_000);
      assert.is(m.attrs.from, RELAY);
      received.push(...recordsOf(m));
    }
  };
  await write(remote, [[A, T0 + 3600, 10], [B, T0 + 3600, 99]]);
  await collect(1);

  await remote.stop();
  const down = await command(client, RELAY, 'get_history', { identifier: A });
  assert.is(errorCondition(down), 'undefined-condition');
  assert.is(upstreamError(down)?.issuer, METERS);
  await write(remote, [[A, T0 + 5400, 11]]); // while the remote gateway is stopped
  remote.start();
  await remote.waitOnline();
  await write(remote, [[A, T0 + 7200, 12]]);
  await collect(3);
  assert.equal(received.map((r) => [r.name, r.time, r.value]), [[A, T0 + 3600, 10], [A, T0 + 5400, 11], [A, T0 + 7200, 12]]);
  // Relayed exactly once: relay's store applied each push once.
  assert.equal((await import('../helpers/db.js')).storeScalar(local, 'SELECT sum(duplicate_points) FROM store_deliveries'), 0);
});

test('unsubscribe is forwarded: the remote stops pushing', async ({ remote, client }) => {
  assert.is((await command(client, RELAY, 'unsubscribe', { identifier: A })).attrs.type, 'result');
  await until(() => query(remote, "SELECT 1 FROM consumers WHERE kind = 'subscription'").length === 0, 10_000, () => 'the remote subscription is still there');
});

test('a lying provider: records of other series or outside the range are dropped, malformed ones refused, an answer past the inbound limit refused, nothing served', async ({ client }) => {
  let answer = '';
  client.conn.on('stanza', (el: Element) => {
    if (el.name !== 'iq' || el.attrs.to !== `provider@${CLIENT}` || el.attrs.type !== 'set') return;
    client.conn.socket!.write(`<iq type="result" id="${el.attrs.id}" from="${el.attrs.to}" to="${el.attrs.from}"><command xmlns="http://jabber.org/protocol/commands" node="get_history" status="completed" sessionid="s">${answer}</command></iq>`);
  });
  const data = (records: string) => `<quoalise xmlns="${NS_QUOALISE}"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml">${records}</sensml></data></quoalise>`;
  answer = data(`<senml bn="${A}" bt="${T0}" v="1"/><senml n="" t="1800" v="2"/><senml bn="${B}" bt="${T0}" v="666"/>`);
  const mixed = await command(client, `liar@${LOCAL}`, 'get_history', { identifier: A });
  assert.equal(recordsOf(mixed).map((r) => [r.name, r.value]), [[A, 1], [A, 2]]);
  // Records outside the range asked for are dropped too, and what is kept comes oldest first.
  answer = data(`<senml bn="${A}" bt="${T0}" t="7200" v="3"/><senml n="" t="1800" v="2"/><senml n="" t="-86400" v="9"/><senml n="" t="0" v="1"/>`);
  const ranged = await command(client, `liar@${LOCAL}`, 'get_history', { identifier: A, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-01T01:00:00+01:00' });
  assert.equal(recordsOf(ranged).map((r) => [r.time - T0, r.value]), [[0, 1], [1800, 2]]);
  answer = data(`<senml bn="${A}" bt="${T0}" v="one"/>`);
  const bad = await command(client, `liar@${LOCAL}`, 'get_history', { identifier: A });
  assert.equal(upstreamError(bad), { issuer: `provider@${CLIENT}`, code: 'malformed-data' });
  // An answer larger than link.max_inbound_stanza_bytes is not taken in: the call fails at once, saying why.
  answer = data(`<senml bn="${A}" bt="${T0}" v="1"/>${'<senml n="" t="1800" v="2"/>'.repeat(4000)}`);
  const huge = await command(client, `liar@${LOCAL}`, 'get_history', { identifier: A });
  assert.equal(upstreamError(huge), { issuer: `provider@${CLIENT}`, code: 'policy-violation' });
  assert.match(errorText(huge), 'the answer is larger than 65536 bytes (link.max_inbound_stanza_bytes)');
});

test('data pushed to the relay app by anyone but its provider is refused, nothing stored', async ({ local, client }) => {
  const id = 'forged-1';
  client.send(
    xml('message', { to: RELAY, from: `evil@${CLIENT}`, id },
      xml('quoalise', { xmlns: NS_QUOALISE }, xml('data', {}, xml('meta'), xml('sensml', { xmlns: 'urn:ietf:params:xml:ns:senml' }, xml('senml', { bn: A, bt: String(T0 + 99999), v: '666' }))))),
  );
  const bounce = await client.waitFor((el) => el.name === 'message' && el.attrs.id === id && el.attrs.type === 'error');
  assert.is(errorCondition(bounce), 'not-authorized');
  assert.is(query(local, "SELECT count(*) AS n FROM inbox WHERE sender = ?", `evil@${CLIENT}`)[0]!.n, 0);
});

test('a provider pushing ever new series stops at max_series: the next new one is a dead letter with its reason, the known ones are still stored', async ({ local, client }) => {
  const liar = (series: string) => storeScalar<number>(local, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'liar' AND s.identifier = ?", series);
  const push = (id: string, series: string, v: number) =>
    client.send(
      xml('message', { to: `liar@${LOCAL}`, from: `provider@${CLIENT}`, id },
        xml('quoalise', { xmlns: NS_QUOALISE }, xml('data', {}, xml('meta'), xml('sensml', { xmlns: 'urn:ietf:params:xml:ns:senml' }, xml('senml', { bn: series, bt: String(T0 + v), v: String(v) }))))),
    );
  const S = (n: number) => `urn:dev:prm:3000000000000${n}_consumption/energy/active/index`;
  push('ms-1', S(1), 1);
  push('ms-2', S(2), 2);
  await until(() => liar(S(1)) === 1 && liar(S(2)) === 1, 15_000, () => `the first two series not stored: ${local.stderr.slice(-1500)}`);
  push('ms-3', S(3), 3);
  push('ms-4', S(1), 4);
  await until(() => liar(S(1)) === 2, 15_000, () => 'a known series refused after the new one');
  const dead = query<{ stanza_id: string; reason: string }>(local, "SELECT stanza_id, reason FROM dead_letters WHERE app = 'liar' AND direction = 'inbound'");
  assert.equal(dead.map((d) => d.stanza_id), ['ms-3']);
  assert.match(dead[0]!.reason, `1 new series (${S(3)}) beyond max_series (2): not stored`);
  assert.is(liar(S(3)), 0);
});

test("the provider's erasure reaches the relay app, which erases its copy and confirms", async ({ local, remote }) => {
  const relayed = () => storeScalar(local, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'relay' AND s.identifier = ?", A);
  assert.ok(relayed() > 0, 'the relay holds records of A');
  await remote.must('subject', 'add', 'household-1', '--series', 'urn:dev:prm:30000000000001_*');
  const r = JSON.parse(await remote.must('gdpr', 'erase', 'household-1', '--json')) as { requests: Array<{ recipient: string }> };
  assert.ok(r.requests.some((q) => q.recipient === RELAY), JSON.stringify(r.requests));
  await confirmedErasure(remote, RELAY);
  assert.is(relayed(), 0, 'the relay erased its copy');
});

test.run();
