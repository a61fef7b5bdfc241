/**
 * Peers' keys (trace/peer-keys.ts) with the last key each domain published remembered across restarts
 * (trace/peer-signers.ts, real SQLite): a look-up that fails never turns a signing peer into one that
 * "publishes no key", and data from a domain whose key is not in memory (first contact, a restart)
 * waits for its key instead of being accepted unsigned meanwhile. The network side is a function
 * answering the disco#info.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { PeerKeys } from '../../component/trace/peer-keys.js';
import { PeerSigners } from '../../component/trace/peer-signers.js';
import { OriginCheck } from '../../component/trace/origin-check.js';
import { traceForm, type PublishedKey } from '../../component/trace/disco.js';
import { generateSigner } from '../../component/trace/note.js';
import { xml, type Element } from '../../component/xmpp/xml.js';
import { NS } from '../../component/xmpp/namespaces.js';

test('a signing peer stays one when its look-up fails, across a restart; unsigned data from it waits for its key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-peer-keys-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const published: PublishedKey = { origin: 'a.example/fedgate', keys: [generateSigner('a.example/fedgate').encoded], signs: ['receipts', 'origins'] };
    let answer: 'form' | 'none' | 'timeout' = 'form';
    const request = async (): Promise<Element> => {
      if (answer === 'timeout') throw new Error('no answer to iq fg-1 within 10000 ms');
      return xml('iq', { type: 'result' }, xml('query', { xmlns: NS.discoInfo }, ...(answer === 'form' ? [traceForm(published)] : [])));
    };
    const first = new PeerKeys({ request, remembered: new PeerSigners(db) });
    // Looked up for an acknowledgement (anyone may send one): used, not remembered.
    assert.equal((await first.fetch('a.example'))?.keys, published.keys);
    assert.is(new PeerSigners(db).get('a.example'), undefined, 'not remembered for a stranger');
    // Looked up for an entitled sender's data (the origin check): remembered.
    first.forget('a.example');
    assert.equal((await first.fetch('a.example', { remember: true }))?.keys, published.keys);

    // A restart (nothing in memory), and the peer not answering (it restarts too).
    answer = 'timeout';
    const keys = new PeerKeys({ request, remembered: new PeerSigners(db) });
    assert.equal(new PeerSigners(db).get('a.example')?.keys, published.keys);
    const check = new OriginCheck(keys);
    const unsigned = xml('message', { from: 'meters@a.example/r', to: 'sink@b.example', id: 'forged' });
    const facts = { from: 'meters@a.example', to: 'sink@b.example', id: 'forged', digest: '00'.repeat(32) };
    const outcome = check.check(unsigned, facts);
    assert.is(outcome.t, 'wait', 'not accepted while the key is being fetched');
    if (outcome.t === 'wait') await outcome.until;
    assert.equal(keys.peek('a.example')?.keys, published.keys, 'the failed look-up kept the last key');
    const after = check.check(unsigned, facts);
    assert.is(after.t, 'refuse');
    if (after.t === 'refuse') assert.is(after.error.condition, 'not-acceptable');

    // An answer without the form: the domain no longer signs, and that is remembered too.
    answer = 'none';
    keys.forget('a.example');
    assert.is(await keys.fetch('a.example', { remember: true }), null);
    assert.is(new PeerSigners(db).get('a.example'), undefined, 'forgotten');
    // Data from a domain never met waits for its first look-up too: a forger of a signing peer's `from`
    // gets nothing in at the first contact.
    const stranger = new OriginCheck(new PeerKeys({ request: async () => { answer = 'form'; return request(); }, remembered: new PeerSigners(db) }));
    const forged = { ...facts, from: 'x@c.example' };
    const met = stranger.check(xml('message', { from: 'x@c.example' }), forged);
    assert.is(met.t, 'wait');
    if (met.t === 'wait') await met.until;
    const judged = stranger.check(xml('message', { from: 'x@c.example' }), forged);
    assert.is(judged.t, 'refuse', 'c.example signs: its unsigned data is refused once its key is known');
    // …and one that publishes no key: its unsigned data is accepted once that is known.
    const plain = new OriginCheck(new PeerKeys({ request: async () => { answer = 'none'; return request(); } }));
    const waited = plain.check(xml('message', { from: 'x@d.example' }), { ...facts, from: 'x@d.example' });
    assert.is(waited.t, 'wait');
    if (waited.t === 'wait') await waited.until;
    assert.is(plain.check(xml('message', { from: 'x@d.example' }), { ...facts, from: 'x@d.example' }).t, 'accept');
    // Past its time, the last answer stands while the domain is asked again (no stall each minute).
    let clock = 0;
    let asked = 0;
    const slow = new OriginCheck(new PeerKeys({ request: () => (asked++ === 0 ? Promise.resolve(xml('iq', { type: 'result' }, xml('query', { xmlns: NS.discoInfo }))) : new Promise<Element>(() => {})), now: () => clock }));
    const fromF = { ...facts, from: 'x@f.example' };
    const firstF = slow.check(xml('message', { from: 'x@f.example' }), fromF, clock);
    if (firstF.t === 'wait') await firstF.until;
    clock = 3_600_000;
    assert.is(slow.check(xml('message', { from: 'x@f.example' }), fromF, clock).t, 'accept');
    assert.is(asked, 2, 'asked again');
    // A domain never heard whose look-up fails (no answer; an error, as its server gives for a component
    // that is away): whether it signs is unknown, not "no" — its data is refused (wait), signed or not,
    // without a new look-up per message; once it answers, its data is judged by the answer.
    let up = false;
    let lookups = 0;
    const away = new PeerKeys({ request: async () => (lookups++, up ? request() : Promise.reject(new Error('no answer to iq fg-x within 10000 ms'))), now: () => clock });
    const awayCheck = new OriginCheck(away);
    const fromE = { ...facts, from: 'x@e.example' };
    const waiting = awayCheck.check(xml('message', { from: 'x@e.example' }), fromE, clock);
    assert.is(waiting.t, 'wait');
    if (waiting.t === 'wait') await waiting.until;
    for (const m of [xml('message', { from: 'x@e.example' }), xml('message', { from: 'x@e.example' }, xml('origin', { xmlns: 'urn:fedgate:trace:0' }))]) {
      const refused = awayCheck.check(m, fromE, clock);
      assert.is(refused.t, 'refuse');
      if (refused.t === 'refuse') assert.equal([refused.error.condition, refused.error.type], ['resource-constraint', 'wait']);
    }
    assert.is(await away.fetch('e.example'), null, 'a fetch within the failure window asks nothing');
    assert.is(lookups, 1, 'one look-up, not one per message');
    up = true;
    answer = 'none';
    clock += 10_001;
    const again = awayCheck.check(xml('message', { from: 'x@e.example' }), fromE, clock);
    assert.is(again.t, 'wait');
    if (again.t === 'wait') await again.until;
    assert.is(awayCheck.check(xml('message', { from: 'x@e.example' }), fromE, clock).t, 'accept', 'it answered: no key');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a key published under another domain's name is not learnt: the evidence would name that domain as the signer", async () => {
  const mine = generateSigner('partner.example/fedgate').encoded;
  const victims = generateSigner('victim.example/fedgate').encoded;
  let published: PublishedKey = { origin: 'victim.example/fedgate', keys: [victims], signs: ['receipts', 'origins'] };
  const request = async (): Promise<Element> => xml('iq', { type: 'result' }, xml('query', { xmlns: NS.discoInfo }, traceForm(published)));
  let now = 0;
  const keys = new PeerKeys({ request, now: () => now });
  assert.is(await keys.fetch('partner.example'), null, 'a log of another domain');
  assert.match(keys.failure('partner.example') ?? '', 'not under its own domain');
  // Its own log's name, with a key named for the victim beside its own.
  published = { origin: 'partner.example/fedgate', keys: [mine, victims], signs: ['receipts', 'origins'] };
  now += 10_000;
  assert.is(await keys.fetch('partner.example'), null, 'a key named for another log');
  assert.match(keys.failure('partner.example') ?? '', 'a key named victim.example/fedgate');
  published = { origin: 'partner.example/fedgate', keys: [mine], signs: ['receipts', 'origins'] };
  now += 10_000;
  assert.equal((await keys.fetch('partner.example'))?.keys, [mine]);
});

test.run();
