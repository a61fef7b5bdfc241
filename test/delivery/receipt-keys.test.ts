/**
 * The key a receiver's confirmation is judged with (delivery/receipt-keys.ts), pure with a fake clock:
 * the real PeerKeys, its network a function answering the disco#info. A failed look-up is never "no
 * key" (a forger of an absent receiver's `from` confirms nothing), asked once more when it may be; a
 * receipt signed by a key we do not know makes us ask again (a rotation); what is held meanwhile is
 * bounded per domain and in all.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { MAX_AWAITING, MAX_AWAITING_PER_DOMAIN, ReceiptKeys } from '../../component/delivery/receipt-keys.js';
import { PeerKeys, type PeerKey } from '../../component/trace/peer-keys.js';
import { traceForm, type PublishedKey } from '../../component/trace/disco.js';
import { generateSigner } from '../../component/trace/note.js';
import { receiptStatement, signBatch } from '../../component/trace/receipts.js';
import { xml, type Element } from '../../component/xmpp/xml.js';
import { NS } from '../../component/xmpp/namespaces.js';
import type { Logger } from '../../component/log/logger.js';
import type { ReadAcks } from '../../component/trace/wire.js';

const test = suite('receipt-keys');
const FROM = 'sink@b.example';

/** A world: B's disco#info answer, the clock, the timers, the warnings. */
function world() {
  const w = {
    clock: 0,
    answer: 'down' as 'down' | 'none' | PublishedKey | 'hang',
    asked: 0,
    timers: [] as Array<{ fn: () => void; ms: number }>,
    warnings: [] as string[],
  };
  const request = async (): Promise<Element> => {
    w.asked++;
    const a = w.answer;
    if (a === 'down') throw new Error('remote-server-not-found: DNS lookup failed');
    if (a === 'hang') return new Promise<Element>(() => {});
    return xml('iq', { type: 'result' }, xml('query', { xmlns: NS.discoInfo }, ...(a === 'none' ? [] : [traceForm(a)])));
  };
  const log = { debug: () => {}, warn: (_o: unknown, msg: string) => w.warnings.push(msg) } as unknown as Logger;
  const keys = new PeerKeys({ request, now: () => w.clock });
  const rk = new ReceiptKeys(keys, log, { now: () => w.clock, later: (fn, ms) => w.timers.push({ fn, ms }) });
  return { w, keys, rk };
}

const acks = (n: number, note: string | null = null): ReadAcks => ({ items: Array.from({ length: n }, (_, i) => ({ id: `fg0a-${i + 1}` })), note });
const settle = () => new Promise((r) => setImmediate(r));

test('a receiver never heard whose look-up fails: asked once more when it may be, then its confirmation is ignored (warned once), never judged as unsigned', async () => {
  const { w, rk } = world();
  const judged: Array<PeerKey | null> = [];
  rk.withKey(FROM, acks(3), (k) => judged.push(k));
  await settle();
  assert.is(w.asked, 1);
  assert.equal(w.timers.map((t) => t.ms), [3_010], 'asked again once the failure window ends');
  w.clock += 3_010;
  w.timers.shift()!.fn();
  await settle();
  assert.is(w.asked, 2);
  assert.equal(judged, [], 'ignored: not confirmed as unsigned');
  assert.is(w.warnings.length, 1);
  assert.match(w.warnings[0]!, 'ignored confirmations from b.example');
  assert.is(rk.held, 0, 'released');
});

test('a receiver that was away a moment ago and is back: its confirmation is judged once it answers', async () => {
  const { w, rk } = world();
  const judged: Array<PeerKey | null> = [];
  rk.withKey(FROM, acks(1), (k) => judged.push(k));
  await settle();
  w.answer = 'none';
  w.clock += 3_010;
  w.timers.shift()!.fn();
  await settle();
  assert.equal(judged, [null], 'it publishes no key: judged as unsigned, because it said so');
  assert.equal(w.warnings, []);
});

test('a receipt signed by a key the receiver did not publish: its key is asked for again (a rotation), at most once a minute', async () => {
  const { w, keys, rk } = world();
  const old = generateSigner('b.example/fedgate');
  const rotated = generateSigner('b.example/fedgate');
  w.answer = { origin: old.name, keys: [old.encoded], signs: ['receipts', 'origins'] };
  await keys.fetch('b.example');
  const note = signBatch([receiptStatement({ from: 'meters@a.example', to: FROM, id: 'fg0a-1', digest: '00'.repeat(32), index: 1 })], 'receipts', rotated).note;
  w.answer = { origin: rotated.name, keys: [rotated.encoded], signs: ['receipts', 'origins'] };
  const judged: Array<string | undefined> = [];
  rk.withKey(FROM, acks(1, note), (k) => judged.push(k?.keys[0]));
  await settle();
  assert.equal(judged, [rotated.encoded]);
  assert.is(w.asked, 2);
  // Within the minute: judged with what is known, no new look-up (a forger cannot make us ask per stanza).
  rk.withKey(FROM, acks(1, signBatch([receiptStatement({ from: 'meters@a.example', to: FROM, id: 'fg0a-2', digest: '00'.repeat(32), index: 2 })], 'receipts', generateSigner(old.name)).note), (k) => judged.push(k?.keys[0]));
  await settle();
  assert.equal(judged, [rotated.encoded, rotated.encoded]);
  assert.is(w.asked, 2);
});

test('acknowledgements held while a look-up hangs are bounded per domain and in all; the rest are ignored', async () => {
  const { w, rk } = world();
  w.answer = 'hang';
  const judged: string[] = [];
  rk.withKey(FROM, acks(MAX_AWAITING_PER_DOMAIN), () => judged.push('first'));
  rk.withKey(FROM, acks(1), () => judged.push('over the domain'));
  assert.is(rk.held, MAX_AWAITING_PER_DOMAIN);
  const domains = Math.ceil(MAX_AWAITING / MAX_AWAITING_PER_DOMAIN);
  for (let d = 1; d < domains; d++) rk.withKey(`sink@d${d}.example`, acks(MAX_AWAITING_PER_DOMAIN), () => {});
  assert.ok(rk.held <= MAX_AWAITING, `${rk.held} held`);
  const before = rk.held;
  rk.withKey('sink@another.example', acks(MAX_AWAITING - before + 1), () => judged.push('over the total'));
  assert.is(rk.held, before);
  assert.equal(judged, []);
});

test.run();
