/**
 * A GDPR export onto a full disk (a small tmpfs as its folder's disk), on the real `fedgate` command:
 * one line naming the disk, exit 1, no stack trace, and nothing of the person's data left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fedgate } from '../helpers/fedgate.js';
import { mountSmallDisk, unmountSmallDisk } from '../helpers/small-disk.js';

const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

test('an export onto a full disk: one line naming it, exit 1, no partial export left', async () => {
  // No server: the CLI alone.
  const fg = new Fedgate({ port: 1, domain: 'gw.localhost', secret: 's' });
  const disk = join(fg.dir, 'disk');
  mkdirSync(disk);
  mountSmallDisk(disk, '256k');
  try {
    await fg.must('app', 'add', 'meters', '--kind', 'store');
    const csv = join(fg.dir, 'records.csv');
    writeFileSync(csv, `identifier,time,value,unit\n${Array.from({ length: 20_000 }, (_, i) => `${SERIES},${1704063600 + i * 1800},${i},W`).join('\n')}\n`);
    await fg.must('store', 'import', 'meters', csv);
    await fg.must('subject', 'add', 'alice', '--series', SERIES);
    const out = join(disk, 'export');
    const r = await fg.cli('gdpr', 'export', 'alice', '--out', out);
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr.trim(), `fedgate: the disk holding ${out} is full: nothing was exported; free some space there and run the export again`);
    assert.equal(readdirSync(disk), [], 'nothing of the export left');
  } finally {
    unmountSmallDisk(disk);
    fg.cleanup();
  }
});

test.run();
