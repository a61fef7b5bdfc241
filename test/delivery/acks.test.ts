/**
 * The receiver's batched acknowledgements, as pure functions: groups of one sender and receiver are
 * merged in order, and never make a stanza larger than a sender reads (ACKS_PER_STANZA), each part
 * signed on its own.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { ACKS_PER_STANZA, ackStanza, mergeGroups, type AckGroup } from '../../component/delivery/acks.js';
import { generateSigner } from '../../component/trace/note.js';
import { readAcks, verifyAcks } from '../../component/trace/wire.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const test = suite('acks');
const DIGEST = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const group = (sender: string, from: number, n: number): AckGroup => ({
  sender,
  receiver: 'sink@b.localhost',
  items: Array.from({ length: n }, (_, i) => ({ id: `fg0a-${from + i}`, index: from + i, digest: DIGEST })),
});

test('groups of one pair are merged in order; other pairs stay apart', () => {
  const merged = mergeGroups([group('meters@a.localhost', 1, 3), group('other@c.localhost', 1, 2), group('meters@a.localhost', 4, 2)]);
  assert.equal(merged.map((g) => [g.sender, g.items.map((i) => i.index)]), [
    ['meters@a.localhost', [1, 2, 3, 4, 5]],
    ['other@c.localhost', [1, 2]],
  ]);
});

test('a merged group larger than a stanza holds is cut into stanzas of at most ACKS_PER_STANZA, in order', () => {
  const total = 2 * ACKS_PER_STANZA + 7;
  const merged = mergeGroups([group('meters@a.localhost', 1, 15_000), group('meters@a.localhost', 15_001, total - 15_000)]);
  assert.equal(merged.map((g) => g.items.length), [ACKS_PER_STANZA, ACKS_PER_STANZA, 7]);
  assert.equal(merged.flatMap((g) => g.items.map((i) => i.index)), Array.from({ length: total }, (_, i) => i + 1));
});

test('each part is signed on its own: the sender verifies every stanza', () => {
  const signer = generateSigner('b.localhost/fedgate');
  const parts = mergeGroups([group('meters@a.localhost', 1, 25)], 10);
  assert.equal(parts.length, 3);
  for (const part of parts) {
    const acks = parseXml(ackStanza(part, signer)).getChild('acks')!;
    const verified = verifyAcks(readAcks(acks), 'meters@a.localhost', 'sink@b.localhost', signer);
    assert.equal([...verified.keys()], part.items.map((i) => i.id));
  }
});
test.run();
