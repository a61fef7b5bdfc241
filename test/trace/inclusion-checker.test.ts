import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InclusionChecker, leafHash, verifyInclusion } from '../../component/trace/merkle.js';
import { BatchTree } from '../../component/trace/receipts.js';

// The checker that remembers proven nodes must give verifyInclusion's verdict on every leaf, in any
// order, for every tree shape (odd levels included), and refuse a wrong leaf, index or path.
test('InclusionChecker agrees with verifyInclusion, honest and forged, in any order', () => {
  for (let n = 1; n <= 40; n++) {
    const statements = Array.from({ length: n }, (_, i) => `statement ${i} of ${n}\n`);
    const tree = new BatchTree(statements);
    const checker = new InclusionChecker(n, tree.root);
    const order = Array.from({ length: n }, (_, i) => (i * 7 + 3) % n);
    for (const i of new Set(order)) {
      const leaf = leafHash(statements[i]!);
      const path = tree.path(i);
      assert.ok(verifyInclusion(i, n, leaf, path, tree.root), `reference ${i}/${n}`);
      const other = leafHash(`forged ${i}\n`);
      assert.not.ok(checker.verify(i, other, path), `forged leaf ${i}/${n}`);
      if (n > 1) assert.not.ok(checker.verify((i + 1) % n, leaf, path), `wrong index ${i}/${n}`);
      if (path.length) {
        const bad = path.map((h, j) => (j === path.length - 1 ? leafHash('x') : h));
        assert.not.ok(checker.verify(i, leaf, bad), `bad path ${i}/${n}`);
        assert.not.ok(checker.verify(i, leaf, path.slice(0, -1)), `short path ${i}/${n}`);
      }
      assert.not.ok(checker.verify(i, leaf, [...path, leaf]), `long path ${i}/${n}`);
      assert.ok(checker.verify(i, leaf, path), `checker ${i}/${n}`);
      assert.ok(checker.verify(i, leaf, path), `again ${i}/${n}`);
    }
    assert.not.ok(checker.verify(n, leafHash('x'), []), 'index past the end');
  }
});

test.run();
