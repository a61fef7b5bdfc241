/** Consumers' schedules: what parses, what is refused with a useful message, when the next run is. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ScheduleError, nextRunDelay, parseSchedule } from '../../component/transfer/schedule.js';
import { seriesMatcher } from '../../component/transfer/series-pattern.js';

test('schedules parse', () => {
  assert.equal(parseSchedule('on-change'), { type: 'on-change' });
  assert.equal(parseSchedule('none'), { type: 'none' });
  assert.equal(parseSchedule('every 30s'), { type: 'interval', ms: 30_000 });
  assert.equal(parseSchedule('every 5m'), { type: 'interval', ms: 300_000 });
  assert.equal(parseSchedule('every 2 h'), { type: 'interval', ms: 7_200_000 });
  assert.equal(parseSchedule('*/5 * * * *'), { type: 'cron', expression: '*/5 * * * *' });
});

test('bad schedules are refused with the accepted forms', () => {
  for (const bad of ['', 'sometimes', 'every 0s', 'every 5d', '* * *', '61 * * * *']) {
    assert.throws(() => parseSchedule(bad), (e: unknown) => e instanceof ScheduleError && /on-change, none, "every N\(s\|m\|h\)"|shortest interval/.test((e as Error).message), bad);
  }
});

test('next run: intervals count from the last run, cron from the clock (UTC)', () => {
  const now = Date.parse('2026-01-01T10:02:30Z');
  assert.is(nextRunDelay({ type: 'interval', ms: 60_000 }, now - 15_000, now), 45_000);
  assert.is(nextRunDelay({ type: 'interval', ms: 60_000 }, now - 90_000, now), 0);
  assert.is(nextRunDelay({ type: 'cron', expression: '*/5 * * * *' }, null, now), Date.parse('2026-01-01T10:05:00Z') - now);
  assert.is(nextRunDelay({ type: 'on-change' }, null, now), null);
});

test('series patterns are globs over whole identifiers', () => {
  const m = seriesMatcher('urn:dev:prm:3000000000000?_consumption/*');
  assert.ok(m('urn:dev:prm:30000000000001_consumption/power/active/raw'));
  assert.not.ok(m('urn:dev:prm:30000000000001_production/power/active/raw'));
  assert.not.ok(m('xurn:dev:prm:30000000000001_consumption/power'));
  assert.ok(seriesMatcher('a.b')('a.b'));
  assert.not.ok(seriesMatcher('a.b')('axb'), 'a dot is a dot');
});

test.run();
