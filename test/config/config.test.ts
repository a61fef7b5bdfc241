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

test.run();
