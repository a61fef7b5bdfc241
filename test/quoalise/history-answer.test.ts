/**
 * get_history's answer holds only what was asked for, whatever the adapter returns: the records of the
 * series the requester was authorized for, in the range asked. An adapter is not trusted with that
 * (an operator's SQL query without a time bound, an adapter's bug, a provider that lies).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { historyXml } from '../../component/quoalise/commands/encoded-answers.js';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import type { Adapter } from '../../adapters/contract.js';
import type { DataBlock, RowBlock } from '../../component/quoalise/types.js';

const ASKED = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const OTHER = 'urn:dev:prm:30000000000002_consumption/power/active/raw';
const query = { series: ASKED, start: 100, end: 200, limit: 1000, requester: 'client@example.org' };

const answering = (blocks: Array<DataBlock | RowBlock>): Adapter => ({ history: async () => blocks });
const served = async (blocks: Array<DataBlock | RowBlock>) => {
  const a = await historyXml(answering(blocks), query, undefined, false);
  return { count: a.count, records: decodeQuoalise(parseXml(a.xml)).flatMap((b) => b.records.map((r) => [r.name, r.time, r.value])) };
};

test('rows of another series, and rows outside the range, are not served', async () => {
  const rows: RowBlock[] = [
    { meta: {}, series: ASKED, rows: [[99, 1, 'W'], [100, 2, 'W'], [150, 3, 'W'], [200, 4, 'W']] },
    { meta: {}, series: OTHER, rows: [[150, 666, 'W']] },
  ];
  assert.equal(await served(rows), { count: 2, records: [[ASKED, 100, 2], [ASKED, 150, 3]] });
});

test('records of another series, and records outside the range, are not served', async () => {
  const blocks: DataBlock[] = [
    { meta: {}, records: [{ name: ASKED, time: 150, value: 3 }, { name: OTHER, time: 150, value: 666 }, { name: ASKED, time: 250, value: 9 }] },
    { meta: {}, records: [{ name: OTHER, time: 160, value: 667 }] },
  ];
  assert.equal(await served(blocks), { count: 1, records: [[ASKED, 150, 3]] });
});

test('nothing left is an answer without records, as for an empty range', async () => {
  assert.equal(await served([{ meta: {}, series: OTHER, rows: [[150, 1, null]] }]), { count: 0, records: [] });
});

test.run();
