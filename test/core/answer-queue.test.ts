/** The queue of an app's answers (component/workers/answer-queue.ts) on its own: one at a time, in order; a task past the limit holds nothing back. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { answerQueue } from '../../component/workers/answer-queue.js';

/** A task whose start can be awaited and whose end is decided by the test. */
function task(log: string[], name: string) {
  let started!: () => void;
  let finish!: (v: string) => void;
  const hasStarted = new Promise<void>((r) => (started = r));
  const fn = () =>
    new Promise<string>((resolve) => {
      log.push(`start ${name}`);
      started();
      finish = (v) => {
        log.push(`end ${name}`);
        resolve(v);
      };
    });
  return { fn, hasStarted, finish: (v: string) => finish(v) };
}

test('answers are made one at a time, in the order asked, whatever each task returns or throws', async () => {
  const queue = answerQueue(60_000);
  const log: string[] = [];
  const [a, b, c] = [task(log, 'a'), task(log, 'b'), task(log, 'c')];
  const results = [queue(a.fn), queue(() => b.fn().then(() => Promise.reject(new Error('b failed')))), queue(c.fn)];
  await a.hasStarted;
  assert.equal(log, ['start a']);
  a.finish('A');
  await b.hasStarted;
  assert.equal(log, ['start a', 'end a', 'start b']);
  b.finish('B');
  await c.hasStarted;
  c.finish('C');
  assert.equal(await Promise.allSettled(results).then((r) => r.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message))), ['A', 'b failed', 'C']);
  assert.equal(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('a task running past the limit (a hung adapter) no longer holds the next ones back', async () => {
  const queue = answerQueue(20);
  const log: string[] = [];
  const [hung, next] = [task(log, 'hung'), task(log, 'next')];
  void queue(hung.fn);
  const answer = queue(next.fn);
  await next.hasStarted;
  next.finish('N');
  assert.is(await answer, 'N');
  assert.equal(log, ['start hung', 'start next', 'end next']);
});

test.run();
