/** scripts/demo runs its whole scenario and cleans up (its --once mode, as a user would see it). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { DIST_ROOT } from '../../component/paths.js';

const run = promisify(execFile);

test('the demo exchanges real data between two gateways and stops cleanly', async () => {
  const { stdout } = await run(process.execPath, [join(DIST_ROOT, 'scripts/demo.js'), '--once'], { timeout: 180_000 });
  assert.match(stdout, /investors@citizens\.localhost has 17,568 \/ 17,568 readings/);
  assert.match(stdout, 'hello from fedgate: bonjour');
  assert.match(stdout, /get_history of 15 January 2024 \(48 half-hours each\)/);
  assert.match(stdout, /pushed by school@city\.localhost: 2025-01-01T11:30:00Z/);
  assert.match(stdout, /pushed by linky@citizens\.localhost: \d+ VA/);
  assert.match(stdout, 'fedgate city.localhost: exit code 0');
  assert.match(stdout, 'ejabberd and mosquitto stopped');
});

test.run();
