/** Configuration mistakes are refused with the key named, and never echo a secret back. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../component/config/load.js';

function refusal(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-config-'));
  const path = join(dir, 'fedgate.yml');
  writeFileSync(path, yaml);
  try {
    loadConfig(path, { FEDGATE_SECRET: 'x' });
    return '';
  } catch (err) {
    return (err as Error).message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const LINK = 'link:\n  domain: energy.example.org\n  port: 5347\n';

test('a YAML mistake names its line, not its text (the line may hold a secret)', () => {
  const message = refusal(`${LINK}  secret_file: S3cretInline: oops\n`);
  assert.match(message, 'not valid YAML at line 4');
  assert.not.match(message, 'S3cretInline');
});

test('a secret pasted into link.secret_env is refused as not a variable name, and not repeated', () => {
  const message = refusal(`${LINK}  secret_env: "S3cret Value!123"\n`);
  assert.match(message, 'link.secret_env');
  assert.not.match(message, 'S3cret Value');
});

test('a listener port out of range is refused at load, with the key', () => {
  assert.match(refusal(`${LINK}metrics:\n  listen: 127.0.0.1:99999\n`), 'metrics.listen');
  assert.is(refusal(`${LINK}metrics:\n  listen: 127.0.0.1:9464\n`), '');
});

function warnings(yaml: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-config-'));
  const path = join(dir, 'fedgate.yml');
  writeFileSync(path, yaml);
  try {
    return loadConfig(path, { FEDGATE_SECRET: 'x' }).warnings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a link or a metrics listener off loopback is accepted with a warning; loopback is quiet', () => {
  assert.equal(warnings(`${LINK}metrics:\n  listen: 127.0.0.1:9464\n`), []);
  assert.equal(warnings('link:\n  domain: energy.example.org\n  hosts: ["[::1]:5347", "localhost:5348", "127.0.0.2:5349"]\n'), []);
  const open = warnings('link:\n  domain: energy.example.org\n  hosts: ["10.0.0.2:5347", "127.0.0.1:5347"]\nmetrics:\n  listen: 0.0.0.0:9464\n');
  assert.is(open.length, 2);
  assert.match(open[0]!, /^link: 10\.0\.0\.2:5347 is not a loopback address: the XEP-0114 link is not encrypted/);
  assert.match(open[1]!, /^metrics\.listen \(0\.0\.0\.0:9464\) is not a loopback address: .* no authentication/);
});

test.run();
