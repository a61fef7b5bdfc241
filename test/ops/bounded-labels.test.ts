import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BoundedLabels } from '../../component/observe/bounded-labels.js';

test('label values from remote parties: the first ones keep their own series, the rest share "other"', () => {
  const labels = new BoundedLabels(3);
  assert.equal(['a@x', 'b@x', 'c@x', 'd@x', 'a@x', 'e@y'].map((v) => labels.of(v)), ['a@x', 'b@x', 'c@x', 'other', 'a@x', 'other']);
});

test.run();
