/**
 * The inbox's back-pressure (transfer/backlog.ts), pure with a fake clock and a fake inbox count: a
 * source past its share is refused while the app's other sources go on; counts are taken again from the
 * inbox at most once a second, and only when something looks full.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Backlog, RECOUNT_MS, sourceKey, type BacklogCounts } from '../../component/transfer/backlog.js';

const test = suite('backlog');
const none = { app: 0, source: 0 };

/** An inbox holding `rows` unapplied rows: [app, sender] each; counted as the inbox would. */
function inbox(rows: Array<[string, string]>) {
  const state = { rows, counted: 0 };
  const count = (): BacklogCounts => {
    state.counted++;
    const c: BacklogCounts = { perApp: new Map(), perSource: new Map() };
    for (const [app, sender] of state.rows) {
      c.perApp.set(app, (c.perApp.get(app) ?? 0) + 1);
      c.perSource.set(sourceKey(app, sender), (c.perSource.get(sourceKey(app, sender)) ?? 0) + 1);
    }
    return c;
  };
  return { state, count };
}

test('a source at its share is refused; another source of the same app is not, up to the app limit', () => {
  const { count } = inbox([]);
  const b = new Backlog(count, { perApp: 5, perSource: 3 }, 0);
  for (let i = 0; i < 3; i++) {
    assert.is(b.refusal('sink', 'flood@a', none, 0), null);
    b.committed('sink', 'flood@a');
  }
  assert.match(b.refusal('sink', 'flood@a', none, 0) ?? '', '3 messages of flood@a are waiting to be applied (at most 3 per source)');
  assert.is(b.refusal('sink', 'quiet@b', none, 0), null);
  b.committed('sink', 'quiet@b');
  b.committed('sink', 'quiet@b');
  assert.match(b.refusal('sink', 'third@c', none, 0) ?? '', '5 messages are waiting to be applied');
  // Another app is not concerned.
  assert.is(b.refusal('other', 'flood@a', none, 0), null);
});

test('messages taken but not committed yet count', () => {
  const b = new Backlog(inbox([]).count, { perApp: 10, perSource: 2 }, 0);
  assert.is(b.refusal('sink', 'a@x', { app: 1, source: 1 }, 0), null);
  assert.ok(b.refusal('sink', 'a@x', { app: 2, source: 2 }, 0));
});

test('a full source is counted again from the inbox at most once a second, and only when it looks full', () => {
  const { state, count } = inbox([['sink', 'flood@a'], ['sink', 'flood@a']]);
  const b = new Backlog(count, { perApp: 100, perSource: 2 }, 0);
  assert.is(state.counted, 1);
  assert.is(b.refusal('sink', 'quiet@b', none, 10), null);
  assert.is(state.counted, 1, 'nothing looked full: not counted');
  // The receive job applied them (a source's count is not told): refused until counted again.
  state.rows = [];
  assert.ok(b.refusal('sink', 'flood@a', none, RECOUNT_MS - 1));
  assert.is(state.counted, 1);
  assert.is(b.refusal('sink', 'flood@a', none, RECOUNT_MS), null);
  assert.is(state.counted, 2);
});

test("an app with nothing waiting has no source with anything waiting", () => {
  const b = new Backlog(inbox([]).count, { perApp: 100, perSource: 2 }, 0);
  b.committed('sink', 'flood@a');
  b.committed('sink', 'flood@a');
  b.committed('other', 'flood@a');
  b.committed('other', 'flood@a');
  assert.ok(b.refusal('sink', 'flood@a', none, 0));
  b.settled('sink', 2, 0);
  assert.is(b.refusal('sink', 'flood@a', none, 0), null);
  assert.ok(b.refusal('other', 'flood@a', none, 0), "the other app's count stands");
});

test.run();
