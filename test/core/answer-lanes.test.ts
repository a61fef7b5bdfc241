/**
 * Answer-building calls per party on one app (component/apps/answer-lanes.ts), through AppHost with a
 * stand-in for its thread: a burst of one domain's get_history reaches the app a few at a time, the rest
 * wait unsent and go as earlier ones end; another domain's call and the same domain's chat go at once;
 * a waiting call that timed out is never sent. An http app's calls (waiting on a remote system) all go.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AppHost } from '../../component/apps/app-host.js';
import { MAX_ANSWERS_PER_PARTY } from '../../component/apps/answer-lanes.js';
import type { WorkerHandle } from '../../component/apps/worker-handle.js';
import type { ToAppWorker } from '../../component/workers/protocol.js';
import { createLogger } from '../../component/log/logger.js';

/** The thread: records what reaches it; the test settles each call. */
function thread() {
  let nextId = 1;
  const calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; sent: boolean }>();
  const reached: number[] = [];
  const reach = (m: ToAppWorker) => {
    if (m.t === 'call') reached.push(m.id);
  };
  const worker = {
    hosts: new Map(),
    call(_app: string, _op: string, _args: unknown, _timeoutMs: number, sent: boolean) {
      const id = nextId++;
      const result = new Promise((resolve, reject) => calls.set(id, { resolve, reject, sent }));
      if (sent) reached.push(id);
      return { id, result };
    },
    release(id: number, m: ToAppWorker) {
      if (!calls.has(id)) return false;
      reach(m);
      return true;
    },
    isPending: (id: number) => calls.has(id),
    post: reach,
  };
  const end = (id: number, ok = true) => {
    const c = calls.get(id)!;
    calls.delete(id);
    if (ok) c.resolve('answer');
    else c.reject(new Error('timed out'));
  };
  return { worker: worker as unknown as WorkerHandle, reached, end };
}

const turn = () => new Promise((r) => setImmediate(r));

test("one domain's burst of get_history reaches the app a few at a time; the others wait unsent, then go in order", async () => {
  const t = thread();
  const host = new AppHost({ name: 'meters', kind: 'store', options: {}, description: '', createdAt: 0, updatedAt: 0 }, t.worker, { domain: 'gw.example', callTimeoutMs: 30_000, log: createLogger({ level: 'silent', format: 'json' }) });
  host.onReady(['historyXml', 'catalogueXml', 'chat']);
  const burst = Array.from({ length: 20 }, () => host.call('historyXml', {}, { party: 'partner.example' }).catch(() => 'failed'));
  assert.equal(t.reached, Array.from({ length: MAX_ANSWERS_PER_PARTY }, (_, i) => i + 1), 'only the first ones reach the app');
  void host.call('historyXml', {}, { party: 'honest.example' });
  void host.call('chat', {}, { party: 'partner.example' });
  assert.equal(t.reached.slice(MAX_ANSWERS_PER_PARTY), [21, 22], "another domain's call, and a chat, go at once");
  // A waiting call times out (its id 9 ends unsent): never sent; the next one takes the free place.
  t.end(9, false);
  t.end(1);
  await turn();
  assert.equal(t.reached.slice(MAX_ANSWERS_PER_PARTY + 2), [10], 'the next waiting call still wanted');
  for (let id = 2; id <= 20; id++) if (id !== 9) t.end(id), await turn();
  const answers = await Promise.all(burst);
  assert.is(answers.filter((a) => a === 'answer').length, 19, 'every call answered but the one that timed out');
  assert.equal([...new Set(t.reached)].length, t.reached.length, 'none sent twice');
  assert.not.ok(t.reached.includes(9));
});

test('an app answering from a remote system (http) keeps its calls concurrent: they wait for that system, not for memory', () => {
  const t = thread();
  const series = JSON.stringify([{ identifier: 'urn:x', url: '/r' }]);
  const host = new AppHost({ name: 'api', kind: 'http', options: { base_url: 'http://127.0.0.1:1', series }, description: '', createdAt: 0, updatedAt: 0 }, t.worker, { domain: 'gw.example', callTimeoutMs: 30_000, log: createLogger({ level: 'silent', format: 'json' }) });
  host.onReady(['historyXml']);
  for (let i = 0; i < 20; i++) void host.call('historyXml', {}, { party: 'partner.example' }).catch(() => {});
  assert.is(t.reached.length, 20);
});

test.run();
