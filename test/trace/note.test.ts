/**
 * Signed notes, keys, checkpoints and proof files, byte for byte as C2SP and Go's sumdb/note have them:
 * the Go package's own example key and signature are reproduced exactly, so notes made here open with
 * the transparency ecosystem's tools and theirs open here.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { generateSigner, keyId, NoteError, openNote, parseSignerKey, parseVerifierKey, signNote } from '../../component/trace/note.js';
import { FormatError, formatCheckpoint, formatProof, parseCheckpoint, parseProof } from '../../component/trace/formats.js';
import { leafHash } from '../../component/trace/merkle.js';

const test = suite('signed notes');

// golang.org/x/mod/sumdb/note, package documentation.
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

test("Go's example: same key ID, same verifier key, same signature", () => {
  const signer = parseSignerKey(GO_SKEY);
  assert.is(signer.keyId, 0xc74f20a3);
  assert.is(signer.encoded, GO_VKEY);
  assert.is(signer.encodedSecret, GO_SKEY);
  assert.is(signNote(GO_TEXT, [signer]), GO_NOTE); // Ed25519 is deterministic
  const opened = openNote(GO_NOTE, [parseVerifierKey(GO_VKEY)]);
  assert.is(opened.text, GO_TEXT);
  assert.equal(opened.verified, [{ name: 'PeterNeumann', keyId: 0xc74f20a3 }]);
});

test('the key ID is SHA-256(name || LF || 0x01 || public key)[:4]', () => {
  const v = parseVerifierKey(GO_VKEY);
  assert.is(keyId('PeterNeumann', v.publicKey), 0xc74f20a3);
});

test('notes that must not open: changed text, unknown key, wrong key with the same name and ID, malformed', () => {
  const v = parseVerifierKey(GO_VKEY);
  assert.throws(() => openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [v]), (e: unknown) => e instanceof NoteError && /does not verify/.test((e as Error).message));
  const other = generateSigner('example.org/fedgate');
  assert.throws(() => openNote(GO_NOTE, [other]), /no trusted key signed this note \(signed by PeterNeumann\+c74f20a3\)/);
  assert.throws(() => openNote(GO_TEXT, [v]), (e: unknown) => e instanceof NoteError);
  assert.throws(() => openNote(`${GO_TEXT}\n\u2014 PeterNeumann !!!\n`, [v]), /malformed signature line/);
  assert.throws(() => openNote(GO_NOTE.replace('\n\n', '\n\u0001\n\n'), [v]), /control characters/);
  // A second, unknown signature is ignored; the known one still counts.
  const twice = signNote(GO_TEXT, [parseSignerKey(GO_SKEY), other]);
  assert.is(openNote(twice, [v]).unknown.length, 1);
});

test('keys: generated keys round-trip; malformed or mismatched keys are refused', () => {
  const s = generateSigner('energy.example.org/fedgate');
  assert.is(parseSignerKey(s.encodedSecret).encoded, s.encoded);
  assert.is(parseVerifierKey(s.encoded).keyId, s.keyId);
  assert.throws(() => parseVerifierKey(s.encoded.replace(/\+[0-9a-f]{8}\+/, '+00000000+')), /does not match/);
  assert.throws(() => parseVerifierKey('no plus here'), /malformed/);
  assert.throws(() => parseSignerKey(s.encoded), /PRIVATE\+KEY/);
  assert.throws(() => generateSigner('has space'), /invalid key name/);
});

test('checkpoints: the C2SP layout, strict parsing', () => {
  const root = leafHash('x');
  const text = formatCheckpoint({ origin: 'energy.example.org/fedgate', size: 20852163, root });
  assert.is(text, `energy.example.org/fedgate\n20852163\n${root.toString('base64')}\n`);
  assert.equal(parseCheckpoint(text), { origin: 'energy.example.org/fedgate', size: 20852163, root });
  assert.equal(parseCheckpoint(`${text}extension\n`).size, 20852163);
  for (const bad of ['o\n012\nAAAA\n', `o\n1\n${root.toString('base64')}`, `\n1\n${root.toString('base64')}\n`, 'o\n1\nAAAA\n', `o\n-1\n${root.toString('base64')}\n`]) {
    assert.throws(() => parseCheckpoint(bad), (e: unknown) => e instanceof FormatError, JSON.stringify(bad));
  }
  // The example of c2sp.org/tlog-checkpoint parses.
  const spec = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
  assert.is(spec.size, 20852163);
});

test('proof files: the c2sp.org/tlog-proof@v1 layout round-trips', () => {
  const cp = signNote(formatCheckpoint({ origin: 'PeterNeumann', size: 3, root: leafHash('r') }), [parseSignerKey(GO_SKEY)]);
  const p = { extra: Buffer.from('{"at":1,"kind":"x"}'), index: 2, path: [leafHash('a'), leafHash('b')], checkpoint: cp };
  const text = formatProof(p);
  assert.ok(text.startsWith(`c2sp.org/tlog-proof@v1\nextra ${p.extra.toString('base64')}\nindex 2\n${leafHash('a').toString('base64')}\n`));
  assert.ok(text.endsWith(`\n\n${cp}`));
  assert.equal(parseProof(text), p);
  assert.equal(parseProof(formatProof({ ...p, extra: null, path: [] })), { ...p, extra: null, path: [] });
  assert.throws(() => parseProof(text.replace("index 2", "index 02")), (e: unknown) => e instanceof FormatError);
  assert.throws(() => parseProof(text.replace('c2sp.org/tlog-proof@v1', 'proof')), /first line/);
});

test.run();
