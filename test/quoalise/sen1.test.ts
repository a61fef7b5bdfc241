import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { NS_SEN1 } from '../../component/quoalise/namespaces.js';
import { decodeSen1, Sen1Error } from '../../component/quoalise/sen1.js';
import { parseIsoWithOffset } from '../../component/quoalise/time.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

interface Fields {
  username?: string; name?: string; metaname?: string; metavalue?: string; unite?: string; type?: string;
  applicationSrc?: string; applicationDst?: string;
}

const FULL: Fields = {
  username: 'alice', name: 'school-solar-roof', metaname: 'production', metavalue: 'solar', unite: 'kWh',
  type: 'dt_numeric', applicationSrc: 'zabbix-collectivites', applicationDst: 'citizen-app',
};

function message(fields: Fields, datas: [string, string][] | null): string {
  const children = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
  const items = datas?.map(([value, timestamp]) => `<Sen1Data><value>${value}</value><timestamp>${timestamp}</timestamp></Sen1Data>`).join('');
  return `<Sen1Message xmlns="${NS_SEN1}">${children}${datas === null ? '' : `<Sen1Datas>${items}</Sen1Datas>`}</Sen1Message>`;
}

test('reads a full Sen1Message', () => {
  const result = decodeSen1(parseXml(message(FULL, [['12.5', '2019-01-15T12:00:00'], ['13', '2019-01-15T12:30:00']])));
  assert.equal(result, {
    source: 'zabbix-collectivites',
    destination: 'citizen-app',
    username: 'alice',
    block: {
      meta: { sen1: { type: 'dt_numeric', metaname: 'production', metavalue: 'solar' } },
      records: [
        { name: 'school-solar-roof', time: parseIsoWithOffset('2019-01-15T12:00:00+01:00'), value: 12.5, unit: 'kWh' },
        { name: 'school-solar-roof', time: parseIsoWithOffset('2019-01-15T12:30:00+01:00'), value: 13, unit: 'kWh' },
      ],
    },
  });
});

test('a value of 0 is a reading, not an empty value', () => {
  const { block } = decodeSen1(parseXml(message({ ...FULL, type: 'dt_integer' }, [['0', '2019-06-01T00:00:00'], ['0.0', '2019-06-01T00:10:00']])));
  assert.equal(block.records.map((r) => r.value), [0, 0]);
});

test('timestamps are Europe/Paris local time by default, DST included', () => {
  const winter = decodeSen1(parseXml(message(FULL, [['1', '2019-01-15T12:00:00']]))).block.records[0]?.time;
  const summer = decodeSen1(parseXml(message(FULL, [['1', '2019-07-15T12:00:00']]))).block.records[0]?.time;
  assert.is(winter, parseIsoWithOffset('2019-01-15T11:00:00Z'));
  assert.is(summer, parseIsoWithOffset('2019-07-15T10:00:00Z'));
  const utc = decodeSen1(parseXml(message(FULL, [['1', '2019-07-15T12:00:00']])), { timeZone: 'UTC' }).block.records[0]?.time;
  assert.is(utc, parseIsoWithOffset('2019-07-15T12:00:00Z'));
});

test('booleans and string-like types', () => {
  const bools = decodeSen1(parseXml(message({ ...FULL, type: 'dt_boolean' }, [['true', '2019-06-01T00:00:00'], ['0', '2019-06-01T00:00:01'], ['False', '2019-06-01T00:00:02'], ['1', '2019-06-01T00:00:03']])));
  assert.equal(bools.block.records.map((r) => r.boolValue), [true, false, false, true]);
  for (const type of ['dt_string', 'dt_date', 'dt_datetime', 'dt_duration', 'dt_time']) {
    const { block } = decodeSen1(parseXml(message({ ...FULL, type }, [['PT5M &amp; more', '2019-06-01T00:00:00']])));
    assert.equal(block.records[0], { name: 'school-solar-roof', time: parseIsoWithOffset('2019-06-01T00:00:00+02:00'), stringValue: 'PT5M & more', unit: 'kWh' });
  }
});

test('optional fields may be missing or empty; the username stays out of meta', () => {
  const fields = { ...FULL, metavalue: '', unite: undefined, metaname: undefined };
  const { username, block } = decodeSen1(parseXml(message(fields, [['1', '2019-06-01T00:00:00']])));
  assert.is(username, 'alice');
  assert.equal(block.meta, { sen1: { type: 'dt_numeric' } });
  assert.equal(block.records, [{ name: 'school-solar-roof', time: parseIsoWithOffset('2019-06-01T00:00:00+02:00'), value: 1 }]);
});

function rejects(xml: string, hint: string): void {
  try {
    decodeSen1(parseXml(xml));
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, Sen1Error);
    assert.instance(e, QuoaliseFormatError);
    assert.match((e as Error).message, hint);
  }
}

for (const field of ['username', 'applicationSrc', 'applicationDst', 'type', 'name'] as const) {
  test(`rejects a message without ${field}, or with it empty`, () => {
    const without = { ...FULL };
    delete without[field];
    rejects(message(without, [['1', '2019-06-01T00:00:00']]), field);
    rejects(message({ ...FULL, [field]: '  ' }, [['1', '2019-06-01T00:00:00']]), field);
  });
}

test('rejects a message without values', () => {
  rejects(message(FULL, null), 'Sen1Data');
  rejects(message(FULL, []), 'Sen1Data');
});

test('rejects bad values, timestamps, types and duplicates', () => {
  rejects(message(FULL, [['', '2019-06-01T00:00:00']]), 'not a number');
  rejects(message(FULL, [['12,5', '2019-06-01T00:00:00']]), 'not a number');
  rejects(message(FULL, [['NaN', '2019-06-01T00:00:00']]), 'not a number');
  rejects(message({ ...FULL, type: 'dt_integer' }, [['1.5', '2019-06-01T00:00:00']]), 'not an integer');
  rejects(message({ ...FULL, type: 'dt_boolean' }, [['yes', '2019-06-01T00:00:00']]), 'boolean');
  rejects(message({ ...FULL, type: 'dt_float' }, [['1', '2019-06-01T00:00:00']]), 'type');
  rejects(message(FULL, [['1', '2019-02-30T00:00:00']]), 'Sen1Data 0: timestamp');
  rejects(message(FULL, [['1', '1559347200000']]), 'timestamp');
  rejects(message(FULL, [['1', '']]), 'timestamp');
  rejects(`<Sen1Message xmlns="${NS_SEN1}"><username>a</username><username>b</username></Sen1Message>`, 'username appears 2 times');
  rejects(message(FULL, [['1', '2019-06-01T00:00:00']]).replace(`xmlns="${NS_SEN1}"`, 'xmlns="urn:other"'), 'Sen1Message');
});

test('rejects a Sen1Data without value', () => {
  const xml = message(FULL, [['1', '2019-06-01T00:00:00']]).replace('<value>1</value>', '');
  rejects(xml, 'Sen1Data 0: value is missing');
});

test.run();
