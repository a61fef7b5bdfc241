/** Refused command calls in the transparency log (quoalise/commands/refusal-budget.ts): a burst, then one a second per domain, the rest counted. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALL_REFUSALS_BURST, MAX_COUNTED_DOMAINS, RefusalBudget, REFUSALS_BURST } from '../../component/quoalise/commands/refusal-budget.js';

test('a flood of refusals from one domain: the burst logged, then one a second carrying the count of those in between', () => {
  const b = new RefusalBudget();
  let logged = 0;
  for (let i = 0; i < REFUSALS_BURST + 50; i++) if (b.take('evil.example', 0)) logged++;
  assert.is(logged, REFUSALS_BURST);
  assert.is(b.take('honest.example', 0)?.unlogged, 0, 'another domain has its own budget');
  assert.is(b.take('evil.example', 500), null, 'half a second later: still counted');
  assert.equal(b.take('evil.example', 1000), { unlogged: 51 }, 'a second later: logged, with the 51 not logged before it');
  assert.equal(b.take('evil.example', 2000), { unlogged: 0 });
  for (let i = 0; i < 200; i++) b.take('evil.example', 3000);
  assert.ok(b.drain('evil.example') > 0, "an allowed call's entry carries the count");
  for (let i = 0; i < 200; i++) b.take('evil.example', 3000);
  assert.is(b.drain('evil.example'), 200, 'every refusal since, none logged: the bucket was empty');
  assert.is(b.drain('evil.example'), 0, 'once');
});

test('refusals spread over many subdomains: at most a burst of entries for all of them together; every refusal logged or counted', () => {
  const b = new RefusalBudget();
  const N = MAX_COUNTED_DOMAINS + 2000;
  let logged = 0;
  for (let i = 0; i < N; i++) if (b.take(`s${i}.evil.example`, 0)) logged++;
  assert.is(logged, ALL_REFUSALS_BURST);
  let counted = 0;
  for (let i = 0; i < N; i++) counted += b.drain(`s${i}.evil.example`);
  assert.is(logged + counted, N, 'none lost, even of the domains dropped from memory');
  assert.equal(b.take('honest.example', 1000), { unlogged: 0 }, 'a second later the log takes entries again');
});

test.run();
