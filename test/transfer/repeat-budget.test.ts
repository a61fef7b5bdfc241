/** The repeat budget of a source (transfer/repeat-budget.ts), on a fake clock. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RepeatBudget } from '../../component/transfer/repeat-budget.js';

test('a burst, then the sustained rate; per source of an app; the wait is said', () => {
  const budget = new RepeatBudget({ burst: 3, perSecond: 2 });
  const t0 = 1_000_000;
  assert.equal([1, 2, 3, 4].map(() => budget.take('sink', 'a@x.example', t0)), [true, true, true, false]);
  assert.is(budget.waitSeconds('sink', 'a@x.example', t0), 1);
  // Another source, and the same source to another app, have budgets of their own.
  assert.ok(budget.take('sink', 'b@x.example', t0));
  assert.ok(budget.take('other', 'a@x.example', t0));
  assert.ok(budget.take('sink', 'a@x.example', t0 + 500), 'half a second gives one at 2/s');
  assert.not.ok(budget.take('sink', 'a@x.example', t0 + 500));
});

test('sources whose budget is whole again are forgotten when many are remembered', () => {
  const budget = new RepeatBudget({ burst: 1, perSecond: 1 });
  for (let i = 0; i < 10_000; i++) budget.take('sink', `s${i}@x.example`, 0);
  assert.is(budget.size, 10_000);
  // Ten seconds later every budget is whole: the next new source makes room by forgetting them.
  assert.ok(budget.take('sink', 'new@x.example', 10_000));
  assert.is(budget.size, 1);
});

test.run();
