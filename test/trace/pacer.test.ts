import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignaturePacer } from '../../component/trace/pacer.js';
import { BatchArrivals } from '../../component/trace/batch-arrivals.js';

// Items are signed at once when the last signature is older than the gap; the gap widens only for a fast stream.
function pacer() {
  let now = 0;
  const batches: number[][] = [];
  const p = new SignaturePacer<number>((items) => batches.push(items), 1, 10, () => now);
  return { p, batches, at: (t: number) => (now = t) };
}

test('a steady 1,000 a second keeps the narrow gap, even after a burst', () => {
  const { p, batches, at } = pacer();
  at(100);
  p.add([1]);
  assert.equal(batches, [[1]]);
  // A stall: 10 items arrive together, 10 ms after the last signature (1,000 a second): still light.
  at(110);
  p.add([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.is(batches.length, 2);
  assert.is(p.gapMs, 1);
});

test('a fast stream widens the gap, and a slower one narrows it again', () => {
  const { p, batches, at } = pacer();
  at(100);
  p.add([0]);
  at(102);
  p.add(Array.from({ length: 20 }, (_, i) => i)); // 20 items in 2 ms
  assert.is(batches.length, 2);
  assert.is(p.gapMs, 10);
  p.flush();
  at(112);
  p.add(Array.from({ length: 12 }, (_, i) => i)); // 12 items in 10 ms: 1,200 a second
  assert.is(batches.length, 3);
  assert.is(p.gapMs, 1);
});

test('a full batch is signed at once, and a larger burst is cut into full batches', () => {
  let now = 0;
  const batches: number[][] = [];
  const p = new SignaturePacer<number>((items) => batches.push(items), 1, 10, () => now, 4);
  now = 100;
  p.add([0]);
  now = 100.5;
  p.add([1, 2]);
  assert.is(batches.length, 1, 'within the gap, not full: waits');
  p.add([3, 4]);
  assert.equal(batches, [[0], [1, 2, 3, 4]], 'full: signed without waiting for the gap');
  p.add(Array.from({ length: 10 }, (_, i) => 10 + i));
  assert.equal(batches.slice(2), [[10, 11, 12, 13], [14, 15, 16, 17], [18, 19]], 'never more than the cap in one signature');
});

test('receipts wait for the rest of their batch, and go at once when it is whole', () => {
  const { p, batches, at } = pacer();
  const arrivals = new BatchArrivals();
  at(100);
  assert.is(arrivals.waiting([]), undefined, 'no signed batch: the pacer decides');
  arrivals.arrived('note A', 0, 3);
  arrivals.arrived('note A', 1, 3);
  const first = arrivals.waiting(['note A', 'note A']);
  assert.is(first, false);
  p.add([0, 1], first);
  assert.is(batches.length, 0, 'held: a third message of the batch is on its way');
  arrivals.arrived('note A', 2, 3);
  const second = arrivals.waiting(['note A']);
  assert.is(second, true);
  p.add([2], second);
  assert.equal(batches, [[0, 1, 2]], 'one signature for the whole batch');
  arrivals.signed();
  // Overlapping batches: C whole while D has begun — sign now, D's part with C, not after D too.
  arrivals.arrived('note C', 0, 1);
  arrivals.arrived('note D', 0, 2);
  assert.is(arrivals.waiting(['note C', 'note D']), true);
  arrivals.signed();
  arrivals.arrived('note B', 0, 2);
  assert.is(arrivals.waiting(['note B']), false);
  arrivals.signed(); // signed without its second message (the pacer's timer): nothing waits any more
  assert.is(arrivals.waiting([]), undefined);
});

test.run();
