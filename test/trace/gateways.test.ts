/**
 * The transparency log and signed receipts between two real gateways on a real ejabberd: a transfer
 * leaves matching entries in both logs and each side keeps the other's valid signature for every
 * message; Quoalise decisions are logged; a receiver that publishes a key but answers with a missing
 * or forged signature gets its messages retried then dead-lettered; a sender's forged or missing proof
 * of origin is refused; both logs verify offline, a proof round-trips without the database, and a
 * tampered copy fails naming the entry.
 *
 * The misbehaving peer (evil.localhost) is a bare component speaking fedgate's protocol badly on
 * purpose: a real gateway cannot be made to lie. wild.localhost is a component whose server does not
 * check what it sends (`check_from: false`): it replays a captured message of A's as A.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, scalar, storeScalar, until } from '../helpers/db.js';
import { generateSigner, parseVerifierKey } from '../../component/trace/note.js';
import { traceForm, readTraceForm } from '../../component/trace/disco.js';
import { originStatement, receiptStatement, signBatch } from '../../component/trace/receipts.js';
import { originElements } from '../../component/trace/wire.js';
import { parseProof } from '../../component/trace/formats.js';
import { dataDigest, payloadDigest } from '../../component/trace/digest.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import { REFUSALS_BURST } from '../../component/quoalise/commands/refusal-budget.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const A = 'a.localhost';
const B = 'b.localhost';
const EVIL = 'evil.localhost';
const WILD = 'wild.localhost';
const S = (n: number) => `urn:dev:prm:3000000000000${n}_consumption/power/active/raw`;
const TRACE = 'trace:\n  checkpoint_seconds: 0.3\n';
const FAST = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n  max_attempts: 3\n  receipt_timeout_seconds: 5\n';

interface Entry {
  index: number;
  kind: string;
  fields: Record<string, unknown>;
}

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
  evil: Peer;
  wild: Peer;
  /** What evil.localhost publishes, and the key it really signs with. */
  evilKey: ReturnType<typeof generateSigner>;
}
const test = suite<Ctx>('trace between gateways');

async function entries(fg: Fedgate, ...args: string[]): Promise<Entry[]> {
  return JSON.parse(await fg.must('audit', 'list', '--json', '--limit', '1000', ...args)) as Entry[];
}

/** The messages that transfer entries list (an entry records the messages of one commit), each with its entry's index. */
function messagesOf(list: Entry[]): Array<Record<string, unknown> & { index: number }> {
  return list.flatMap((e) => (e.fields.messages as Array<Record<string, unknown>>).map((m) => ({ ...m, index: e.index })));
}

/** evil.localhost: publishes a key that signs receipts and origins; confirms as fedgate does, but signs wrongly. */
function playEvil(peer: Peer, key: ReturnType<typeof generateSigner>): void {
  const impostor = generateSigner(key.name); // same name, another key: a forged signature
  peer.conn.on('stanza', (el: Element) => {
    const { from = '', to = '', id = '' } = el.attrs;
    if (el.name === 'iq' && el.attrs.type === 'get' && el.getChild('query', 'http://jabber.org/protocol/disco#info')) {
      const q = xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' });
      if (to === EVIL) q.append(traceForm({ origin: key.name, keys: [key.encoded], signs: ['receipts', 'origins'] }));
      else q.append(xml('feature', { var: 'urn:fedgate:delivery:0' }));
      peer.send(xml('iq', { type: 'result', from: to, to: from, id }, q));
      return;
    }
    const quoalise = el.getChild('quoalise', 'urn:quoalise:0');
    if (el.name !== 'message' || !quoalise || !el.getChild('request', 'urn:fedgate:delivery:0')) return;
    const terms = el.getChild('retention', 'urn:fedgate:gdpr:0');
    const digest = dataDigest(terms ? [quoalise, terms] : [quoalise]);
    const statement = receiptStatement({ from: from.split('/')[0]!, to, id, digest, index: 7 });
    const ack = xml('ack', { id, index: '7', digest });
    const acks = xml('acks', { xmlns: 'urn:fedgate:delivery:0' }, ack);
    // missing@: no signature at all; forged@: signed by a key that is not the published one; late@: a
    // forged confirmation first (as from whoever can forge its `from`), then its own, signed rightly.
    const signed = (k: typeof key) => xml('signed', { xmlns: 'urn:fedgate:trace:0', note: Buffer.from(signBatch([statement], 'receipts', k).note).toString('base64') });
    if (to.startsWith('forged@') || to.startsWith('late@')) acks.append(signed(impostor));
    peer.send(xml('message', { from: to, to: from }, acks));
    if (to.startsWith('late@')) peer.send(xml('message', { from: to, to: from }, xml('acks', { xmlns: 'urn:fedgate:delivery:0' }, xml('ack', { id, index: '7', digest }), signed(key))));
  });
}

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: A, secret: 'a' }, { domain: B, secret: 'b' }, { domain: EVIL, secret: 'evil' }, { domain: WILD, secret: 'wild', checkFrom: false }] });
  ctx.a = new Fedgate({ port: ctx.ejabberd.componentPort(A), domain: A, secret: 'a', extraYaml: TRACE + FAST });
  ctx.b = new Fedgate({ port: ctx.ejabberd.componentPort(B), domain: B, secret: 'b', extraYaml: TRACE + FAST });
  const { a, b } = ctx;
  await a.must('app', 'add', 'meters', '--kind', 'store');
  for (const [dest, n] of [[`sink@${B}`, 1], [`missing@${EVIL}`, 2], [`forged@${EVIL}`, 3], [`late@${EVIL}`, 5]] as const) {
    await a.must('consumer', 'add', '--source', 'meters', '--destination', dest, '--series', S(n), '--batch', '10');
  }
  await b.must('app', 'add', 'sink', '--kind', 'store');
  await b.must('consumer', 'add', '--source', `meters@${A}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
  await b.must('consumer', 'add', '--source', `meters@${EVIL}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
  await b.must('grant', 'add', 'sink', EVIL, S(1), '--purpose', 'audit test');
  ctx.evilKey = generateSigner(`${EVIL}/fedgate`);
  ctx.evil = await Peer.connect(ctx.ejabberd.componentPort(EVIL), EVIL, 'evil');
  playEvil(ctx.evil, ctx.evilKey);
  ctx.wild = await Peer.connect(ctx.ejabberd.componentPort(WILD), WILD, 'wild');
  b.start();
  a.start();
  await Promise.all([a.waitOnline(), b.waitOnline()]);
});

test.after(async (ctx) => {
  await ctx.evil?.close();
  await ctx.wild?.close();
  for (const fg of [ctx.a, ctx.b]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

test('the key: created on first start (0600), printed by audit key, published on the domain disco#info', async ({ a, b, evil }) => {
  const key = (await b.must('audit', 'key')).trim();
  assert.match(key, /^b\.localhost\/fedgate\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
  const info = await evil.iq(B, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), { from: `x@${EVIL}/r` });
  const published = readTraceForm(info.getChild('query', 'http://jabber.org/protocol/disco#info'));
  assert.equal(published, { origin: `${B}/fedgate`, keys: [key], signs: ['receipts', 'origins'] });
  assert.is(statSync(join(a.dir, 'fedgate-log.key')).mode & 0o777, 0o600);
});

test('a transfer leaves matching entries in both logs; each side holds the other\'s valid signature for every message', async ({ a, b }) => {
  const csv = ['identifier,time,value,unit', ...Array.from({ length: 30 }, (_, i) => `${S(1)},${1704063600 + i * 1800},${i},W`)];
  writeFileSync(join(a.dir, 's1.csv'), `${csv.join('\n')}\n`);
  await a.must('store', 'import', 'meters', join(a.dir, 's1.csv'));
  await until(
    () => storeScalar(b, 'SELECT count(*) FROM store_points') === 30 && scalar(a, `SELECT count(*) FROM outbox WHERE destination = 'sink@${B}'`) === 0,
    20_000,
    () => `A: ${a.stderr.slice(-1500)}\nB: ${b.stderr.slice(-1500)}`,
  );
  let sent: ReturnType<typeof messagesOf> = [];
  await until(async () => (sent = messagesOf(await entries(a, '--kind', 'transfer.sent'))).length === 3, 10_000, () => JSON.stringify(sent));
  const received = messagesOf(await entries(b, '--kind', 'transfer.received'));
  assert.is(received.length, 3);
  for (const s of sent) {
    const r = received.find((x) => x.id === s.id)!;
    assert.ok(r, `B has no entry for ${String(s.id)}`);
    assert.is(r.digest, s.digest);
    assert.is(r.records, 10);
    assert.is(s.confirmation, 'signed receipt');
    assert.is(s.receiverIndex, r.index, "A's receipt names B's entry");
    assert.is(r.origin, 'verified');
    assert.equal(s.series, [S(1)]);
  }
  // Each side's evidence verifies with the other's published key, offline.
  const keyA = (await a.must('audit', 'key')).trim();
  const keyB = (await b.must('audit', 'key')).trim();
  for (const [fg, m, key, kind] of [[a, sent[0]!, keyB, 'receipt'], [b, received[0]!, keyA, 'proof of origin']] as const) {
    const file = join(fg.dir, 'evidence.tlog-proof');
    await fg.must('audit', 'peer-proof', String(m.index), '--message', String(m.id), '--out', file);
    const checked = JSON.parse(await fg.must('audit', 'check', file, '--key', key, '--json')) as { kind: string; content: string };
    assert.is(checked.kind, kind);
    assert.match(checked.content, `id ${String(m.id)}\n`);
  }
});

/** get_history of `series` from sink@B, asked by `from` (a JID of evil.localhost). */
function historyOfSink(evil: Peer, series: string, from: string): Promise<Element> {
  return evil.iq(
    `sink@${B}`,
    'set',
    xml(
      'command',
      { xmlns: 'http://jabber.org/protocol/commands', node: 'get_history', action: 'execute' },
      xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'identifier' }, xml('value', {}, series))),
    ),
    { from },
  );
}

test('Quoalise decisions are logged: who, what, allowed or refused and why, records and digest', async ({ b, evil }) => {
  const ask = (series: string) => historyOfSink(evil, series, `analyst@${EVIL}/r`);
  const ok = await ask(S(1));
  assert.is(ok.attrs.type, 'result');
  const answer = ok.getChild('command')!.getChild('quoalise')!;
  const refused = await ask(S(2));
  assert.is(errorCondition(refused), 'not-authorized');
  let log: Entry[] = [];
  await until(async () => (log = await entries(b, '--kind', 'access')).length === 2, 10_000, () => JSON.stringify(log));
  const [allowed, denied] = log as [Entry, Entry];
  assert.equal({ ...allowed.fields, digest: undefined }, {
    requester: `analyst@${EVIL}`, app: 'sink', command: 'get_history', series: S(1), outcome: 'allowed', consent: 1, records: 30, digest: undefined,
  });
  assert.match(String(allowed.fields.digest), /^[0-9a-f]{64}$/);
  assert.is(allowed.fields.records, answer.getChild('data')!.getChild('sensml')!.getChildren('senml').length);
  assert.is(denied.fields.outcome, 'refused');
  assert.match(String(denied.fields.reason), 'not-authorized');
  assert.is((await entries(b, '--series', S(1), '--kind', 'access')).length, 1);
});

test('refusals of one domain past the budget are counted into its next entry, not logged one by one; none is lost from the count', async ({ b, evil }) => {
  const ask = (series: string, i: number) => historyOfSink(evil, series, `analyst${i % 3}@${EVIL}/r`);
  const FLOOD = 2 * REFUSALS_BURST;
  const answers = await Promise.all(Array.from({ length: FLOOD }, (_, i) => ask(S(2), i)));
  assert.ok(answers.every((a) => errorCondition(a) === 'not-authorized'));
  assert.is((await ask(S(1), 0)).attrs.type, 'result');
  let log: Entry[] = [];
  // The previous test's two entries, then the flood's, then the allowed call's carrying the count.
  await until(async () => (log = (await entries(b, '--kind', 'access')).filter((e) => String(e.fields.requester).endsWith(`@${EVIL}`))).at(-1)?.fields.outcome === 'allowed' && log.length > 2, 10_000, () => `${log.length} entries`);
  const refused = log.filter((e) => e.fields.outcome === 'refused');
  const counted = log.reduce((n, e) => n + Number(e.fields.unlogged ?? 0), 0);
  assert.is(refused.length + counted, FLOOD + 1, 'every refusal logged or counted');
  assert.ok(refused.length < FLOOD - 20, `${refused.length} refusals logged one by one`);
  assert.ok(Number(log.at(-1)!.fields.unlogged) > 0, 'the allowed entry carries the count');
});

test('a receiver that publishes a key but does not sign, or signs with another key: its confirmations prove nothing, the messages time out, are retried, then dead-lettered', async ({ a }) => {
  const csv = ['identifier,time,value,unit', `${S(2)},1704063600,1,W`, `${S(3)},1704063600,1,W`];
  writeFileSync(join(a.dir, 'evil.csv'), `${csv.join('\n')}\n`);
  await a.must('store', 'import', 'meters', join(a.dir, 'evil.csv'));
  let dead: Array<{ peer: string; reason: string; attempts: number }> = [];
  await until(async () => (dead = (JSON.parse(await a.must('dead-letter', 'list', '--json')) as { rows: typeof dead }).rows).length === 2, 30_000, () => `${JSON.stringify(dead)}\n${a.stderr.slice(-2000)}`);
  const byPeer = Object.fromEntries(dead.map((d) => [d.peer, d]));
  // Not failures by themselves (whoever forges a receiver's `from` could send them): the timeouts are.
  assert.match(byPeer[`missing@${EVIL}`]!.reason, /retries exhausted after 3 attempts.*no confirmation within 5 s; a confirmation came that does not hold: .*receipt does not hold: the acknowledgement is not signed/);
  assert.match(byPeer[`forged@${EVIL}`]!.reason, /retries exhausted after 3 attempts.*no confirmation within 5 s; a confirmation came that does not hold: .*receipt does not hold: no trusted key signed/);
  const logged = await entries(a, '--kind', 'dead-letter');
  assert.equal(logged.map((e) => e.fields.peer).sort(), [`forged@${EVIL}`, `missing@${EVIL}`]);
  assert.is(messagesOf(await entries(a, '--kind', 'transfer.sent')).length, 3, 'nothing sent to evil counts as delivered');
});

test("a sender's proof of origin: forged or missing from a signing peer is refused, a valid one verified and kept", async ({ b, evil, evilKey }) => {
  const payload = encodeQuoalise([{ meta: {}, records: [{ name: S(4), time: 1704063600, value: 4, unit: 'W' }] }]);
  const digest = payloadDigest(payload);
  const send = (id: string, signer: typeof evilKey | null) => {
    const msg = xml('message', { from: `meters@${EVIL}`, to: `sink@${B}`, id }, parseXml(payload), xml('request', { xmlns: 'urn:fedgate:delivery:0' }));
    if (signer) {
      const batch = signBatch([originStatement({ from: `meters@${EVIL}`, to: `sink@${B}`, id, digest })], 'origins', signer);
      msg.append(parseXml(originElements(batch.note)(0, batch.path(0))));
    }
    evil.send(msg);
  };
  const answered = (id: string) => evil.waitFor((el) => el.attrs.id === id || (el.getChild('acks')?.getChildren('ack').some((x) => x.attrs.id === id) ?? false), 10_000);
  send('o-forged', generateSigner(evilKey.name));
  const forged = await answered('o-forged');
  assert.is(errorCondition(forged), 'not-acceptable');
  assert.match(errorText(forged), 'does not verify');
  send('o-missing', null);
  const missing = await answered('o-missing');
  assert.is(errorCondition(missing), 'not-acceptable');
  assert.match(errorText(missing), 'carries no proof of origin');
  send('o-good', evilKey);
  const good = await answered('o-good');
  const ack = good.getChild('acks')!.getChildren('ack')[0]!;
  assert.is(ack.attrs.digest, digest);
  // B's signed receipt of it verifies with B's published key.
  const note = Buffer.from(String(good.getChild('acks')!.getChild('signed', 'urn:fedgate:trace:0')!.attrs.note), 'base64').toString();
  const keyB = parseVerifierKey((await b.must('audit', 'key')).trim());
  const { verifyBatch } = await import('../../component/trace/receipts.js');
  verifyBatch([receiptStatement({ from: `meters@${EVIL}`, to: `sink@${B}`, id: 'o-good', digest, index: Number(ack.attrs.index) })], note, 'receipts', keyB);
  const r = messagesOf(await entries(b, '--kind', 'transfer.received')).find((m) => m.id === 'o-good')!;
  assert.is(r.origin, 'verified');
  assert.is(r.index, Number(ack.attrs.index));
});

test("a captured signed message replayed as A (new origin-id, forged version): a duplicate, and A's later corrections still land", async ({ a, b, wild }) => {
  const T0 = 1704063600;
  const valueAt = () => storeScalar(b, 'SELECT p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ? AND p.time = ?', S(1), T0);
  const importAt = async (value: number) => {
    writeFileSync(join(a.dir, `fix-${value}.csv`), `identifier,time,value,unit\n${S(1)},${T0},${value},W\n`);
    await a.must('store', 'import', 'meters', join(a.dir, `fix-${value}.csv`));
  };
  const landed = (value: number) => until(() => valueAt() === value, 20_000, () => `B holds ${valueAt()} at T0\n${b.stderr.slice(-1500)}`);
  // The capture: with B stopped, A's message of a correction (100) fails (3 attempts here) and waits in
  // A's dead letters; B started again, it is retried under its first id and lands.
  assert.is(await b.stop(), 0);
  await importAt(100);
  let row: { id: number; payload: string } | undefined;
  await until(() => (row = query<{ id: number; payload: string }>(a, `SELECT id, payload FROM dead_letters WHERE peer = 'sink@${B}'`)[0]) !== undefined, 20_000, () => a.stderr.slice(-1500));
  b.start();
  await b.waitOnline();
  await a.must('dead-letter', 'retry', String(row!.id));
  await landed(100);
  const stanzaId = scalar<string>(b, `SELECT stanza_id FROM inbox WHERE sender = 'meters@${A}' ORDER BY id DESC LIMIT 1`);
  const entry = messagesOf(await entries(b, '--kind', 'transfer.received')).find((m) => m.id === stanzaId)!;
  const file = join(b.dir, 'captured.tlog-proof');
  await b.must('audit', 'peer-proof', String(entry.index), '--message', stanzaId, '--out', file);
  const proof = parseProof(readFileSync(file, 'utf8'));
  const origin = parseXml(originElements(proof.checkpoint)(proof.index, proof.path));
  const [epoch] = stanzaId.slice(2).split('-');

  await importAt(200);
  await landed(200);
  wild.send(
    xml('message', { from: `meters@${A}/r`, to: `sink@${B}`, id: stanzaId },
      parseXml(row!.payload),
      xml('request', { xmlns: 'urn:fedgate:delivery:0', epoch, version: String(Number.MAX_SAFE_INTEGER) }),
      origin,
      xml('origin-id', { xmlns: 'urn:xmpp:sid:0', id: 'replayed-1' })),
  );
  // B logs what it receives, a duplicate too: the replay is recognised by the id A's signature covers.
  await until(
    async () => messagesOf(await entries(b, '--kind', 'transfer.received')).some((m) => m.id === stanzaId && m.duplicate === true),
    10_000,
    () => `no duplicate logged for the replay\n${b.stderr.slice(-1500)}`,
  );
  assert.is(valueAt(), 200, "the replay did not bring A's old value back");
  await importAt(300);
  await landed(300);
});

test('both logs verify offline; a proof round-trips without the database; a tampered copy fails naming the entry', async ({ a, b }) => {
  for (const fg of [a, b]) assert.is(await fg.stop(), 0);
  for (const fg of [a, b]) {
    const r = await fg.cli('audit', 'verify');
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, 'OK');
    assert.not.match(r.stdout, 'not signed yet', 'a clean stop signs everything');
  }
  const keyA = (await a.must('audit', 'key')).trim();
  const last = (await entries(a)).at(-1)!;
  const proof = join(a.dir, 'entry.tlog-proof');
  await a.must('audit', 'prove', String(last.index), '--out', proof);
  const copy = join(a.dir, 'elsewhere.tlog-proof');
  copyFileSync(proof, copy);
  const checked = await a.cli('audit', 'check', copy, '--key', keyA);
  assert.is(checked.code, 0, checked.stderr);
  // One byte of one entry of a copy of B's database.
  const tampered = join(b.dir, 'tampered.sqlite');
  copyFileSync(join(b.dir, 'fedgate.sqlite'), tampered);
  const db = new Database(tampered);
  db.exec('DROP TRIGGER trace_entries_no_update');
  const target = db.prepare("SELECT idx FROM trace_entries WHERE kind = 'transfer.received' LIMIT 1").pluck().get() as number;
  db.prepare("UPDATE trace_entries SET entry = replace(entry, '\"records\":10', '\"records\":11') WHERE idx = ?").run(target);
  db.close();
  const r = await b.cli('audit', 'verify', '--db', tampered, '--key', (await b.must('audit', 'key')).trim());
  assert.is(r.code, 1);
  assert.match(r.stderr, `entry ${target} was changed`);
});

test("B rotates its key: A notices the new signer on B's receipts, looks the key up again, and delivers without a failure", async ({ a, b }) => {
  // Both were stopped by the test before. A delivery first: A learns B's key from its receipts.
  a.start();
  b.start();
  await Promise.all([a.waitOnline(), b.waitOnline()]);
  writeFileSync(join(a.dir, 'before-rotation.csv'), `identifier,time,value,unit\n${S(1)},${1704063600 + 2 * 86_400},7,W\n`);
  await a.must('store', 'import', 'meters', join(a.dir, 'before-rotation.csv'));
  await until(
    () => storeScalar(b, 'SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ? AND p.time = ?', S(1), 1704063600 + 2 * 86_400) === 1 && scalar(a, `SELECT count(*) FROM outbox WHERE destination = 'sink@${B}'`) === 0,
    20_000,
    () => a.stderr.slice(-1500),
  );
  const oldKey = (await b.must('audit', 'key')).trim();
  assert.is(await b.stop(), 0);
  await b.must('audit', 'key', '--rotate');
  assert.is.not((await b.must('audit', 'key')).trim(), oldKey);
  b.start();
  await b.waitOnline();
  const T = 1704063600 + 86_400;
  writeFileSync(join(a.dir, 'after-rotation.csv'), `identifier,time,value,unit\n${S(1)},${T},42,W\n`);
  const deadBefore = scalar(a, `SELECT count(*) FROM dead_letters WHERE peer = 'sink@${B}'`);
  await a.must('store', 'import', 'meters', join(a.dir, 'after-rotation.csv'));
  // A still holds B's old key (looked up seconds ago, kept 10 minutes): without a look-up again, every
  // receipt would fail until it expires, and the message be dead-lettered after 3 attempts here.
  await until(
    () => storeScalar(b, 'SELECT p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ? AND p.time = ?', S(1), T) === 42 && scalar(a, `SELECT count(*) FROM outbox WHERE destination = 'sink@${B}'`) === 0,
    20_000,
    () => a.stderr.slice(-1500),
  );
  assert.is(scalar(a, `SELECT count(*) FROM dead_letters WHERE peer = 'sink@${B}'`), deadBefore);
  const sent = messagesOf(await entries(a, '--kind', 'transfer.sent')).at(-1)!;
  assert.is(sent.confirmation, 'signed receipt');
});

test("a forged confirmation from the receiver's own JID, before the receiver's: no failure counted, delivered on the real one", async ({ a }) => {
  writeFileSync(join(a.dir, 'late.csv'), `identifier,time,value,unit\n${S(5)},1704063600,5,W\n`);
  await a.must('store', 'import', 'meters', join(a.dir, 'late.csv'));
  let sent: Entry[] = [];
  await until(async () => (sent = (await entries(a, '--kind', 'transfer.sent')).filter((e) => e.fields.destination === `late@${EVIL}`)).length === 1, 20_000, () => a.stderr.slice(-1500));
  assert.equal(messagesOf(sent).map((m) => m.confirmation), ['signed receipt']);
  assert.is(scalar(a, `SELECT count(*) FROM dead_letters WHERE peer = 'late@${EVIL}'`), 0);
  assert.is(scalar(a, `SELECT attempts FROM lanes WHERE destination = 'late@${EVIL}'`), 0, 'the forged confirmation counted no attempt');
  assert.match(a.stderr, `a confirmation from late@${EVIL} does not hold`);
});

test.run();
