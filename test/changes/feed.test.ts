/**
 * The change feed against a real SQLite file: the triggers of migration 005 record what changed, the
 * watcher hands each topic's changes to its subscribers in commit order and typed, from where it
 * started, and a failing subscriber does not stop the others. (End to end, with a running gateway and
 * the CLI: test/core/change-feed.test.ts.)
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { ChangeFeed, purgeChanges, recordChange } from '../../component/changes/feed.js';
import type { ChangeTopics } from '../../component/changes/topics.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { ConsumerStore } from '../../component/transfer/consumers.js';
import { GrantStore } from '../../component/authz/grant-store.js';

interface Ctx {
  dir: string;
  db: Db;
}
const test = suite<Ctx>('change-feed');

test.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-feed-'));
  ctx.db = openDatabase(join(ctx.dir, 'fedgate.sqlite'));
});
test.after.each((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('the counters are gone; every change to apps, consumers and consents is a typed change of its topic', ({ db }) => {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('registry_version', 'consumers_version', 'grants_version')").pluck().all();
  assert.equal(tables, [], 'registry_version, consumers_version, grants_version dropped');
  new AppRegistry(db).add({ name: 'before', kind: 'echo' });
  const feed = new ChangeFeed(db);
  feed.start(60_000);
  const seen: Array<[string, unknown]> = [];
  const record = <T extends keyof ChangeTopics>(topic: T) => feed.on(topic, (cs) => cs.forEach((c) => seen.push([topic, c])));
  for (const t of ['apps', 'consumers', 'consents', 'data', 'inbox'] as const) record(t);

  const apps = new AppRegistry(db);
  apps.add({ name: 'meters', kind: 'store' });
  apps.update('meters', { description: 'Meters' });
  const consumers = new ConsumerStore(db);
  const c = consumers.add({ source: 'meters@energy.localhost', series: 'urn:dev:prm:1_*', destination: 'alice@example.net', schedule: 'on-change' });
  // The extract jobs' cursor moves are not changes anyone must react to.
  db.prepare('UPDATE consumers SET cursor = ?, last_run_at = ? WHERE id = ?').run('42', Date.now(), c.id);
  consumers.remove(c.id);
  const grants = new GrantStore(db);
  const g = grants.add({ app: 'meters', requester: 'alice@example.net', series: '*' });
  grants.remove(g.id);
  recordChange(db, 'data', { app: 'meters', series: ['urn:dev:prm:1_a'] });
  recordChange(db, 'data', { app: 'meters', series: null });
  recordChange(db, 'inbox', { app: 'meters' });
  apps.remove('meters');
  feed.poll();
  const consumer = { id: c.id, source: 'meters@energy.localhost', destination: 'alice@example.net' };
  assert.equal(seen, [
    ['apps', { name: 'meters' }],
    ['apps', { name: 'meters' }],
    ['apps', { name: 'meters' }],
    ['consumers', consumer],
    ['consumers', consumer],
    ['consents', { id: g.id, app: 'meters' }],
    ['consents', { id: g.id, app: 'meters' }],
    ['data', { app: 'meters', series: ['urn:dev:prm:1_a'] }],
    ['data', { app: 'meters', series: null }],
    ['inbox', { app: 'meters' }],
  ], 'by topic, in commit order, nothing from before the start');
  seen.length = 0;
  feed.poll();
  assert.equal(seen, [], 'each change once');
  feed.stop();
});

test('a failing subscriber does not stop the others; old changes are purged', ({ db }) => {
  const feed = new ChangeFeed(db);
  feed.start(60_000);
  const names: string[] = [];
  feed.on('apps', () => {
    throw new Error('boom');
  });
  feed.on('apps', (cs) => names.push(...cs.map((c) => c.name)));
  new AppRegistry(db).add({ name: 'a', kind: 'echo' });
  feed.poll();
  new AppRegistry(db).add({ name: 'b', kind: 'echo' });
  feed.poll();
  assert.equal(names, ['a', 'b']);
  assert.is(purgeChanges(db, Date.now() + 1), 2);
  feed.stop();
});

test.run();
