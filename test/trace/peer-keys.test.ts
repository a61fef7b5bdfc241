/**
 * Peers' keys (trace/peer-keys.ts) with the last key each domain published remembered across restarts
 * (trace/peer-signers.ts, real SQLite): a look-up that fails never turns a signing peer into one that
 * "publishes no key", and unsigned data from a domain seen signing waits for its key instead of being
 * accepted while the key is not in memory. The network side is a function answering the disco#info.
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
    assert.not.ok(new PeerKeys({ request, remembered: new PeerSigners(db) }).signedBefore('a.example'), 'not remembered for a stranger');
    // Looked up for an entitled sender's data (the origin check): remembered.
    first.forget('a.example');
    assert.equal((await first.fetch('a.example', { remember: true }))?.keys, published.keys);

    // A restart (nothing in memory), and the peer not answering (it restarts too).
    answer = 'timeout';
    const keys = new PeerKeys({ request, remembered: new PeerSigners(db) });
    assert.ok(keys.signedBefore('a.example'));
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
    assert.not.ok(new PeerKeys({ request, remembered: new PeerSigners(db) }).signedBefore('a.example'));
    // A domain never seen signing: its unsigned data is accepted while its key is looked up, as before.
    assert.is(new OriginCheck(new PeerKeys({ request, remembered: new PeerSigners(db) })).check(xml('message', { from: 'x@c.example' }), { ...facts, from: 'x@c.example' }).t, 'accept');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
