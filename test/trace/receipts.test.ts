/**
 * Signed receipts and proofs of origin, as pure functions: the canonical statements, batch signing with a
 * standalone proof per message, and every way a forged, altered or misattributed statement is caught.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { generateSigner } from '../../component/trace/note.js';
import { MAX_PUBLISHED_KEYS, readTraceForm, traceForm } from '../../component/trace/disco.js';
import { xml } from '../../component/xmpp/xml.js';
import {
  StatementError,
  originStatement,
  receiptStatement,
  signBatch,
  verifyBatch,
  verifyBatchMember,
  type MessageFacts,
} from '../../component/trace/receipts.js';
import { checkProof, ProofError } from '../../component/trace/proofs.js';
import { readOrigin } from '../../component/trace/wire.js';
import { canonicalXml, dataDigest, payloadDigest } from '../../component/trace/digest.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import { encodeRetention, parsePeriod } from '../../component/gdpr/retention.js';

const test = suite('receipts');
const receiver = generateSigner('b.localhost/fedgate');
const sender = generateSigner('a.localhost/fedgate');
const DIGEST = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const msg = (i: number): MessageFacts => ({ from: 'meters@a.localhost', to: 'sink@b.localhost', id: `fg0a1b-${i}`, digest: DIGEST });

test('statements: one field per line, exactly', () => {
  assert.is(
    receiptStatement({ ...msg(1), index: 42 }),
    `fedgate-receipt/v1\nfrom meters@a.localhost\nto sink@b.localhost\nid fg0a1b-1\ndigest ${DIGEST}\nindex 42\n`,
  );
  assert.is(originStatement(msg(1)), `fedgate-origin/v1\nfrom meters@a.localhost\nto sink@b.localhost\nid fg0a1b-1\ndigest ${DIGEST}\n`);
  assert.throws(() => originStatement({ ...msg(1), id: 'a\nindex 7' }), (e: unknown) => e instanceof StatementError);
  assert.throws(() => originStatement({ ...msg(1), digest: 'abc' }), /hex SHA-256/);
  assert.throws(() => receiptStatement({ ...msg(1), index: -1 }), /natural number/);
});

test('a batch of receipts: one signature, every statement provable on its own, nothing else', () => {
  const statements = Array.from({ length: 13 }, (_, i) => receiptStatement({ ...msg(i), index: 100 + i }));
  const batch = signBatch(statements, 'receipts', receiver);
  assert.match(batch.note, /^b\.localhost\/fedgate\/receipts\/[0-9a-f]{20}\n13\n/);
  verifyBatch(statements, batch.note, 'receipts', receiver);
  for (let i = 0; i < statements.length; i++) {
    verifyBatchMember(statements[i]!, i, batch.path(i), batch.note, 'receipts', receiver);
    assert.is(verifyBatch(statements, batch.note, 'receipts', receiver).proof(i, batch.note), batch.proof(i));
    const checked = checkProof(batch.proof(i), [receiver]);
    assert.is(checked.kind, 'receipt');
    assert.is(checked.content, statements[i]);
  }
  // A statement that was not signed, a reordered list, a shorter list: refused.
  const forged = receiptStatement({ ...msg(3), index: 999 });
  assert.throws(() => verifyBatchMember(forged, 3, batch.path(3), batch.note, 'receipts', receiver), /do not cover/);
  assert.throws(() => verifyBatch([statements[1]!, statements[0]!, ...statements.slice(2)], batch.note, 'receipts', receiver), /do not match/);
  assert.throws(() => verifyBatch(statements.slice(1), batch.note, 'receipts', receiver), /do not match/);
});

test("signatures by the wrong key, or of the wrong kind, are refused", () => {
  const statements = [originStatement(msg(1))];
  const batch = signBatch(statements, 'origins', sender);
  verifyBatchMember(statements[0]!, 0, batch.path(0), batch.note, 'origins', sender);
  assert.throws(() => verifyBatchMember(statements[0]!, 0, batch.path(0), batch.note, 'origins', receiver), /no trusted key/);
  // An origin batch presented as receipts (same key): refused by its origin line.
  assert.throws(() => verifyBatch(statements, batch.note, 'receipts', sender), /not a batch of receipts/);
  // A key of the same name and ID that is not the signer's: the signature does not verify.
  const impostor = { ...sender, verify: () => false };
  assert.throws(() => verifyBatch(statements, batch.note, 'origins', impostor), /does not verify/);
  // The standalone proof says what it is, and fails with another key.
  assert.is(checkProof(batch.proof(0), [sender]).kind, 'proof of origin');
  assert.throws(() => checkProof(batch.proof(0), [receiver]), (e: unknown) => e instanceof ProofError);
});

test('a one-message batch has an empty path and still proves the message', () => {
  const s = receiptStatement({ ...msg(7), index: 0 });
  const batch = signBatch([s], 'receipts', receiver);
  assert.equal(batch.path(0), []);
  assert.is(checkProof(batch.proof(0), [receiver]).index, 0);
});

test('the payload digest: what the receiver computes from what it parsed, whatever the servers did to the bytes', () => {
  const chars = ['a', '<', '>', '&', '"', "'", '\t', '\n', '\r', ' ', 'é', '😀'];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const str = () => Array.from({ length: 1 + rnd(5) }, () => chars[rnd(chars.length)]).join('');
  /** What a server may send on: attributes in another order, namespaces declared again where inherited. */
  const reserialized = (el: ReturnType<typeof parseXml>, inherited = ''): string => {
    const ns = el.getNS() ?? '';
    const attrs = Object.entries(el.attrs).filter(([k]) => k !== 'xmlns').reverse();
    const open = `<${el.name} xmlns="${ns || inherited}"${attrs.map(([k, v]) => ` ${k}='${String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&#39;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;')}'`).join('')}`;
    if (el.children.length === 0) return `${open}></${el.name}>`;
    return `${open}>${el.children.map((c) => (typeof c === 'string' ? c.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;') : reserialized(c as never, ns))).join('')}</${el.name}>`;
  };
  for (let k = 0; k < 300; k++) {
    const records = Array.from({ length: rnd(4) }, (_, i) =>
      rnd(2) ? { name: 'urn:dev:prm:1_x', time: 1704063600 + i, value: rnd(100) / 7, unit: 'W' } : { name: `urn:dev:prm:1_${i}`, time: 1704063600 + i, stringValue: str() },
    );
    const data = encodeQuoalise([{ meta: rnd(2) ? {} : { device: { type: str() }, measurement: { name: str(), unit: 'W' } }, records }]);
    const terms = rnd(2) ? encodeRetention(new Map([[`urn:dev:prm:1_${str()}`, { maxAge: parsePeriod('P1Y') }]])) : '';
    // The receiver's side: the message as another server wrote it, parsed, its data then its retention.
    const sent = parseXml(`<message>${data}${terms}</message>`);
    const relayed = parseXml(`<message xmlns="jabber:component:accept">${sent.getChildElements().map((c) => reserialized(c)).join('')}</message>`);
    const retention = relayed.getChild('retention', 'urn:fedgate:gdpr:0');
    const received = dataDigest([relayed.getChild('quoalise', 'urn:quoalise:0')!, ...(retention ? [retention] : [])]);
    assert.is(payloadDigest(data + terms), received, data + terms);
  }
  assert.is(canonicalXml(parseXml('<a xmlns="x" z="1" b="2"><b xmlns="x">t&amp;</b><c xmlns="y"/></a>')), '<a xmlns="x" b="2" z="1"><b>t&amp;</b><c xmlns="y"/></a>');
});

test('a peer publishing many keys: only the first few are read (each would be tried on every receipt)', () => {
  const keys = Array.from({ length: 50 }, (_, i) => `peer+${i}+key`);
  const query = xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }, traceForm({ origin: 'peer.example', keys, signs: ['receipts'] }));
  assert.equal(readTraceForm(query)?.keys, keys.slice(0, MAX_PUBLISHED_KEYS));
});

test("a proof of origin's parts are read only within the sizes a real one has (a megabyte-long path is not hashed)", () => {
  const origin = (attrs: Record<string, string>) =>
    xml('message', {}, xml('origin', { xmlns: 'urn:fedgate:trace:0', batch: 'ab12', size: '3', root: 'A'.repeat(44), sig: 'B'.repeat(92), index: '1', ...attrs }));
  const hash = Buffer.alloc(32, 7);
  assert.is(readOrigin(origin({ path: Buffer.concat([hash, hash]).toString('base64') }), 'peer.example/fedgate')?.path.length, 2);
  assert.is(readOrigin(origin({ path: Buffer.concat(Array.from({ length: 65 }, () => hash)).toString('base64') }), 'peer.example/fedgate'), null, '65 hashes: deeper than any tree');
  assert.is(readOrigin(origin({ sig: 'B'.repeat(100_000) }), 'peer.example/fedgate'), null);
  assert.is(readOrigin(origin({ index: '9'.repeat(40) }), 'peer.example/fedgate'), null);
});

test.run();
