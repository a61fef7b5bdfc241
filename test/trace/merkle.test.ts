/**
 * The Merkle tree against RFC 6962's own definitions: roots from the frontier equal the recursive MTH,
 * and every inclusion and consistency proof generated for trees up to 70 leaves verifies with RFC 9162's
 * algorithms — and stops verifying when anything in it changes.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import {
  EMPTY_ROOT,
  Frontier,
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type NodeReader,
} from '../../component/trace/merkle.js';

const test = suite('merkle');
const MAX = 70;
const leaves = Array.from({ length: MAX }, (_, i) => leafHash(`entry ${i}`));

/** Perfect subtree roots computed from the leaves by the RFC's definition. */
const reader: NodeReader = (level, index) => rootOf(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level));

test('domain separation: leaf = H(0x00 || d), node = H(0x01 || l || r), empty = H()', () => {
  const h = (b: Buffer) => createHash('sha256').update(b).digest();
  assert.ok(leafHash('x').equals(h(Buffer.from([0, 0x78]))));
  assert.ok(nodeHash(leaves[0]!, leaves[1]!).equals(h(Buffer.concat([Buffer.from([1]), leaves[0]!, leaves[1]!]))));
  assert.ok(EMPTY_ROOT.equals(h(Buffer.alloc(0))));
  assert.is(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('known root: the RFC 6962 test vector of the 8 entries of certificate-transparency', () => {
  // The inputs used by the CT reference tests (merkle_tree_test.cc): "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162…6f.
  const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((x) => leafHash(Buffer.from(x, 'hex')));
  assert.is(rootOf(data).toString('hex'), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
  assert.is(rootOf(data.slice(0, 3)).toString('hex'), 'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77');
});

test('the frontier gives the RFC root at every size and reports each completed subtree once', () => {
  const f = Frontier.empty();
  assert.ok(f.root().equals(EMPTY_ROOT));
  const completed = new Map<string, Hash>();
  for (let n = 1; n <= MAX; n++) {
    for (const node of f.append(leaves[n - 1]!)) completed.set(`${node.level}/${node.index}`, node.hash);
    assert.ok(f.root().equals(rootOf(leaves.slice(0, n))), `root at size ${n}`);
    const again = Frontier.restore(f.size, f.hashes());
    assert.ok(again.root().equals(f.root()));
  }
  for (const [key, hash] of completed) {
    const [level, index] = key.split('/').map(Number) as [number, number];
    assert.ok(hash.equals(reader(level, index)), `node ${key}`);
  }
  // 70 leaves: 35 + 17 + 8 + 4 + 2 + 1 complete subtrees above the leaves.
  assert.is(completed.size, 35 + 17 + 8 + 4 + 2 + 1);
});

test('inclusion proofs verify for every leaf of every size, and fail when tampered', () => {
  for (let n = 1; n <= MAX; n++) {
    const root = rootOf(leaves.slice(0, n));
    for (let m = 0; m < n; m++) {
      const path = inclusionProof(m, n, reader);
      assert.ok(verifyInclusion(m, n, leaves[m]!, path, root), `leaf ${m} of ${n}`);
      assert.not.ok(verifyInclusion(m, n, leaves[(m + 1) % MAX]!, path, root), `wrong leaf ${m} of ${n}`);
      if (path.length > 0) {
        const bad = path.map((h, i) => (i === path.length - 1 ? leafHash('forged') : h));
        assert.not.ok(verifyInclusion(m, n, leaves[m]!, bad, root));
        assert.not.ok(verifyInclusion(m, n, leaves[m]!, path.slice(0, -1), root), 'short path');
      }
    }
    assert.not.ok(verifyInclusion(n, n, leaves[0]!, [], root), 'index beyond size');
  }
});

test('consistency proofs verify between every pair of sizes, and fail for a forked tree', () => {
  for (let n = 1; n <= MAX; n++) {
    const second = rootOf(leaves.slice(0, n));
    for (let m = 1; m <= n; m++) {
      const first = rootOf(leaves.slice(0, m));
      const proof = consistencyProof(m, n, reader);
      assert.ok(verifyConsistency(m, n, first, second, proof), `${m} → ${n}`);
      if (m < n) {
        const forked = rootOf([...leaves.slice(0, m - 1), leafHash('forged')]);
        assert.not.ok(verifyConsistency(m, n, forked, second, proof), `forked ${m} → ${n}`);
        assert.not.ok(verifyConsistency(m, n, first, leafHash('other root'), proof));
      }
    }
  }
  assert.ok(verifyConsistency(0, 5, EMPTY_ROOT, rootOf(leaves.slice(0, 5)), []));
  assert.not.ok(verifyConsistency(5, 3, rootOf(leaves.slice(0, 5)), rootOf(leaves.slice(0, 3)), []));
});

test('a proof at a million leaves has about twenty hashes', () => {
  // Only the shape: log2(1,000,000) ≈ 19.9.
  const fake: NodeReader = () => leaves[0]!;
  assert.is(inclusionProof(123_456, 1_000_000, fake).length, 20);
});

test.run();
